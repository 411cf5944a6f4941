//! `Normalize`: per-channel standardisation `x' = (x - mean[c]) / std[c]` (torchvision's
//! `Normalize`). Unlike the random transforms it is not augmentation: the spec applies it to
//! the training, validation and test data alike. A model that must predict on raw inputs
//! later is better served by a `normalization` layer, which is saved with it.

use crate::dataset::Dataset;
use crate::error::{Error, Result};

/// Per-channel mean and standard deviation (one value each: every channel).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    /// Subtracted per channel.
    pub mean: Vec<f32>,
    /// Divided by per channel (positive).
    pub std: Vec<f32>,
}

impl Normalize {
    /// Standardises every sample of `data` (samples `[c, h, w]`, `[h, w]` as one channel,
    /// or any shape with one mean and std).
    pub fn apply(&self, data: &Dataset) -> Result<Dataset> {
        let shape = data.x_shape();
        let channels = if shape.len() == 3 { shape[0] } else { 1 };
        let fits = |v: &[f32]| v.len() == 1 || v.len() == channels;
        if !fits(&self.mean)
            || !fits(&self.std)
            || self.std.iter().any(|&s| s <= 0.0 || !s.is_finite())
        {
            return Err(Error::Shape(format!(
                "normalize: expected 1 or {channels} means and positive stds for samples of shape {shape:?}, received mean {:?}, std {:?}",
                self.mean, self.std
            )));
        }
        let per = shape.iter().product::<usize>() / channels.max(1);
        let mut x = data.x().to_vec();
        for (i, v) in x.iter_mut().enumerate() {
            let c = (i / per.max(1)) % channels;
            let (m, s) = (
                self.mean[c.min(self.mean.len() - 1)],
                self.std[c.min(self.std.len() - 1)],
            );
            *v = (*v - m) / s;
        }
        // the first input standardised; any other input and every target (none, for rows
        // to predict on) as they were
        let mut inputs = data.inputs().to_vec();
        inputs[0].data = x;
        Dataset::from_arrays(inputs, data.targets().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_each_channel_and_rejects_bad_stds() {
        // 1 sample [2, 1, 2]: channel 0 = [1, 3], channel 1 = [10, 20]
        let d = Dataset::new(vec![1.0, 3.0, 10.0, 20.0], &[2, 1, 2], vec![0.0], &[]).unwrap();
        let n = Normalize {
            mean: vec![1.0, 10.0],
            std: vec![2.0, 5.0],
        };
        assert_eq!(n.apply(&d).unwrap().x(), [0.0, 1.0, 0.0, 2.0]);
        let bad = Normalize {
            mean: vec![0.0],
            std: vec![0.0],
        };
        let e = bad.apply(&d).unwrap_err().to_string();
        assert!(e.contains("normalize") && e.contains("[2, 1, 2]"), "{e}");
    }
}
