//! Data augmentation for image batches: seeded random transforms, applied to training
//! batches only (evaluation and prediction see the data as it is).
//!
//! Each transform is one small type implementing [`Transform`] on one image `[c, h, w]`;
//! a [`Pipeline`] composes them. [`AugmentConfig`] takes Keras's `ImageDataGenerator`
//! argument names (the spec's `[data] augment = { .. }`) and builds the pipeline: random
//! crop (with padding), then one affine warp (rotation, shift, shear, zoom and flips
//! composed into one matrix, one bilinear resampling pass), then brightness and contrast.
//!
//! Reproducible: every image gets its own generator, seeded in order from the caller's, so
//! a batch is augmented the same way whatever the thread count.

pub mod affine;
pub mod color;
pub mod crop;
pub mod normalize;

use crate::error::{Error, Result};
use nabla_core::{Rng, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use affine::RandomAffine;
pub use color::{RandomBrightness, RandomContrast};
pub use crop::RandomCrop;
pub use normalize::Normalize;

/// A random transform of one image `[channels, height, width]`, in place.
pub trait Transform: Send + Sync {
    /// Transforms `img` (laid out `[c, h, w]` as `shape`), drawing from `rng`.
    fn apply(&self, img: &mut [f32], shape: [usize; 3], rng: &mut Rng);
    /// A short name for messages.
    fn name(&self) -> &'static str;
}

/// What positions outside the image read (Keras's `fill_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FillMode {
    /// The constant `cval` (Keras's default is `nearest`; so is ours).
    Constant,
    /// The nearest edge pixel: `aaaa|abcd|dddd`.
    #[default]
    Nearest,
    /// Mirrored at the edge: `dcba|abcd|dcba`.
    Reflect,
    /// Repeated: `abcd|abcd|abcd`.
    Wrap,
}

impl FillMode {
    /// Where index `i` of an axis of length `n` reads, or `None` for the constant.
    pub fn index(self, i: i64, n: usize) -> Option<usize> {
        let n = n as i64;
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        match self {
            FillMode::Constant => None,
            FillMode::Nearest => Some(i.clamp(0, n - 1) as usize),
            FillMode::Reflect => {
                let m = i.rem_euclid(2 * n);
                Some(if m < n { m } else { 2 * n - 1 - m } as usize)
            }
            FillMode::Wrap => Some(i.rem_euclid(n) as usize),
        }
    }
}

/// Transforms applied in order to every training image.
#[derive(Default)]
pub struct Pipeline {
    steps: Vec<Box<dyn Transform>>,
}

impl Pipeline {
    /// No transforms.
    pub fn new() -> Pipeline {
        Pipeline::default()
    }

    /// Appends a transform.
    pub fn then(mut self, t: impl Transform + 'static) -> Pipeline {
        self.steps.push(Box::new(t));
        self
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The transforms' names, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.steps.iter().map(|t| t.name()).collect()
    }

    /// The image layout `[c, h, w]` of samples shaped `sample` (`[h, w]` is one channel).
    pub fn image_shape(sample: &[usize]) -> Result<[usize; 3]> {
        match *sample {
            [h, w] => Ok([1, h, w]),
            [c, h, w] => Ok([c, h, w]),
            _ => Err(Error::Shape(format!(
                "augment: expected image samples [height, width] or [channels, height, width], received {sample:?}"
            ))),
        }
    }

    /// An augmented copy of the batch `x [n, ..sample]`, one generator per image drawn in
    /// order from `rng` (images run in parallel).
    pub fn apply_batch(&self, x: &Tensor, rng: &mut Rng) -> Result<Tensor> {
        let shape = Self::image_shape(&x.shape()[1..])?;
        if self.is_empty() || x.numel() == 0 {
            return Ok(x.clone());
        }
        let per: usize = shape.iter().product();
        let seeds: Vec<u64> = (0..x.shape()[0]).map(|_| rng.next_u64()).collect();
        let mut out = x.data().to_vec();
        nabla_core::backend::num_threads(); // the pool NABLA_NUM_THREADS asks for
        out.par_chunks_mut(per).zip(seeds).for_each(|(img, seed)| {
            let mut r = Rng::new(seed);
            for t in &self.steps {
                t.apply(img, shape, &mut r);
            }
        });
        Ok(Tensor::from_vec(out, x.shape()))
    }
}

/// A zoom range: `z` for `[1 - z, 1 + z]`, or `[lo, hi]` (Keras's `zoom_range`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ZoomRange {
    /// `[1 - z, 1 + z]`.
    Symmetric(f32),
    /// `[lo, hi]`.
    Range([f32; 2]),
}

impl Default for ZoomRange {
    fn default() -> Self {
        ZoomRange::Symmetric(0.0)
    }
}

impl ZoomRange {
    /// `(lo, hi)`.
    pub fn bounds(self) -> (f32, f32) {
        match self {
            ZoomRange::Symmetric(z) => (1.0 - z, 1.0 + z),
            ZoomRange::Range([lo, hi]) => (lo, hi),
        }
    }
}

/// The spec's `[data] augment` table, with Keras's `ImageDataGenerator` names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AugmentConfig {
    /// Degrees, drawn from `[-r, r]`.
    pub rotation_range: f32,
    /// Fraction of the width (< 1) or pixels (≥ 1), drawn from `[-r, r]`.
    pub width_shift_range: f32,
    /// Fraction of the height (< 1) or pixels (≥ 1), drawn from `[-r, r]`.
    pub height_shift_range: f32,
    /// Shear angle in degrees (Keras's unit), drawn from `[-r, r]`.
    pub shear_range: f32,
    /// `z` for `[1 - z, 1 + z]` or `[lo, hi]`; each axis draws its own factor.
    pub zoom_range: ZoomRange,
    /// Mirror left-right with probability 1/2.
    pub horizontal_flip: bool,
    /// Mirror top-bottom with probability 1/2.
    pub vertical_flip: bool,
    /// `"nearest"` (default), `"constant"`, `"reflect"` or `"wrap"`.
    pub fill_mode: FillMode,
    /// The value outside the image for `fill_mode = "constant"`.
    pub cval: f32,
    /// Multiply each image by a factor from `[lo, hi]`.
    pub brightness_range: Option<[f32; 2]>,
    /// Scale each image's contrast by a factor from `[lo, hi]`.
    pub contrast_range: Option<[f32; 2]>,
    /// Random crop: pad by this many zeros and crop back to the image size at a random
    /// offset (0: off).
    pub crop_padding: usize,
}

impl AugmentConfig {
    /// Checks every range; the error names the field, the expected and the received value.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, expected: &str, got: String| {
            Err(Error::Shape(format!(
                "augment.{field}: expected {expected}, received {got}"
            )))
        };
        for (field, v) in [
            ("rotation_range", self.rotation_range),
            ("width_shift_range", self.width_shift_range),
            ("height_shift_range", self.height_shift_range),
            ("shear_range", self.shear_range),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return bad(field, "a finite number >= 0", v.to_string());
            }
        }
        let (lo, hi) = self.zoom_range.bounds();
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            return bad(
                "zoom_range",
                "z in [0, 1) or [lo, hi] with 0 < lo <= hi",
                format!("{:?}", self.zoom_range),
            );
        }
        for (field, r) in [
            ("brightness_range", self.brightness_range),
            ("contrast_range", self.contrast_range),
        ] {
            if let Some([lo, hi]) = r {
                if !(lo >= 0.0 && lo <= hi && hi.is_finite()) {
                    return bad(
                        field,
                        "[lo, hi] with 0 <= lo <= hi",
                        format!("[{lo}, {hi}]"),
                    );
                }
            }
        }
        Ok(())
    }

    /// The transforms these settings ask for, in order (empty when all are off).
    pub fn pipeline(&self) -> Result<Pipeline> {
        self.validate()?;
        let mut p = Pipeline::new();
        if self.crop_padding > 0 {
            p = p.then(RandomCrop {
                padding: self.crop_padding,
            });
        }
        let affine = RandomAffine {
            rotation: self.rotation_range,
            height_shift: self.height_shift_range,
            width_shift: self.width_shift_range,
            shear: self.shear_range,
            zoom: self.zoom_range.bounds(),
            horizontal_flip: self.horizontal_flip,
            vertical_flip: self.vertical_flip,
            fill: self.fill_mode,
            cval: self.cval,
        };
        if !affine.is_identity() {
            p = p.then(affine);
        }
        if let Some([lo, hi]) = self.brightness_range {
            p = p.then(RandomBrightness(lo, hi));
        }
        if let Some([lo, hi]) = self.contrast_range {
            p = p.then(RandomContrast(lo, hi));
        }
        Ok(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_reproducible_and_shaped_like_the_input() {
        let cfg: AugmentConfig = serde_json::from_str(
            r#"{"rotation_range": 15, "width_shift_range": 0.1, "height_shift_range": 0.1,
                "shear_range": 10, "zoom_range": 0.1, "horizontal_flip": true, "crop_padding": 2,
                "brightness_range": [0.8, 1.2], "contrast_range": [0.9, 1.1]}"#,
        )
        .unwrap();
        let p = cfg.pipeline().unwrap();
        assert_eq!(
            p.names(),
            ["random_crop", "random_affine", "brightness", "contrast"]
        );
        let x = Tensor::from_vec(
            (0..2 * 8 * 8).map(|i| (i % 13) as f32).collect(),
            &[2, 8, 8],
        );
        let a = p.apply_batch(&x, &mut Rng::new(5)).unwrap();
        let b = p.apply_batch(&x, &mut Rng::new(5)).unwrap();
        assert_eq!(a.shape(), x.shape());
        assert_eq!(a.data(), b.data());
        assert_ne!(a.data(), x.data());
        let e = p.apply_batch(&Tensor::from_vec(vec![0.0; 8], &[2, 4]), &mut Rng::new(0));
        assert!(e.unwrap_err().to_string().contains("[4]"));
    }

    #[test]
    fn bad_ranges_name_the_field() {
        let cfg = AugmentConfig {
            zoom_range: ZoomRange::Range([1.2, 0.8]),
            ..AugmentConfig::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("augment.zoom_range") && e.contains("1.2"), "{e}");
        let e = serde_json::from_str::<AugmentConfig>(r#"{"rotation": 10}"#).unwrap_err();
        assert!(e.to_string().contains("rotation_range"), "{e}");
    }
}
