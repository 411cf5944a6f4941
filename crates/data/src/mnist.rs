//! The built-in `mnist` dataset: 10,000 real MNIST digits embedded in the binary (data/mnist,
//! 1.6 MB gzip; provenance and licence in data/README.md). The first 8,000 are the training
//! split, the last 2,000 the test split; pixels are scaled to [0, 1] (x / 255), labels are
//! class indices 0–9.

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::idx::{parse_idx, IdxArray};

const IMAGES: &[u8] = include_bytes!("../../../data/mnist/mnist10k-images-idx3-ubyte.gz");
const LABELS: &[u8] = include_bytes!("../../../data/mnist/mnist10k-labels-idx1-ubyte.gz");

/// Number of training samples of the embedded set.
pub const TRAIN: usize = 8000;

/// Builds a dataset from IDX images `[n, h, w]` and labels `[n]`.
pub fn from_idx(images: &IdxArray, labels: &IdxArray) -> Result<Dataset> {
    if images.dims.len() != 3 || labels.dims.len() != 1 || images.dims[0] != labels.dims[0] {
        return Err(Error::Shape(format!(
            "IDX images and labels: expected [n, h, w] and [n], received {:?} and {:?}",
            images.dims, labels.dims
        )));
    }
    let x: Vec<f32> = images.data.iter().map(|&p| p as f32 / 255.0).collect();
    let y: Vec<f32> = labels.data.iter().map(|&l| l as f32).collect();
    Dataset::new(x, &images.dims[1..], y, &[])
}

/// The embedded digits as `(train, test)`: 8,000 and 2,000 samples of `[28, 28]`.
pub fn mnist() -> Result<(Dataset, Dataset)> {
    let parse = |bytes, name: &str| {
        parse_idx(bytes).map_err(|msg| Error::File {
            path: format!("<embedded {name}>"),
            msg,
        })
    };
    let all = from_idx(
        &parse(IMAGES, "mnist images")?,
        &parse(LABELS, "mnist labels")?,
    )?;
    Ok((all.slice(0..TRAIN), all.slice(TRAIN..all.len())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_split_matches_the_documented_counts() {
        let (train, test) = super::mnist().unwrap();
        assert_eq!((train.len(), test.len()), (8000, 2000));
        assert_eq!(train.x_shape(), &[28, 28]);
        let count = |d: &crate::Dataset, c: f32| d.y().iter().filter(|&&v| v == c).count();
        // data/README.md: train 0:790 ... 9:783; test 0:211 ... 9:195
        assert_eq!((count(&train, 0.0), count(&train, 9.0)), (790, 783));
        assert_eq!((count(&test, 0.0), count(&test, 9.0)), (211, 195));
        assert!(train.x().iter().all(|&p| (0.0..=1.0).contains(&p)));
    }
}
