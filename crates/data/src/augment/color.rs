//! Random brightness and contrast of whole images.
//!
//! - brightness: `x' = f·x` with `f` from `[lo, hi]` (Keras's `brightness_range`, on float
//!   images without the round trip through 8-bit PIL images);
//! - contrast: `x' = m + f·(x - m)` with `m` the image's mean and `f` from `[lo, hi]`
//!   (torchvision's `ColorJitter(contrast)`).

use super::Transform;
use nabla_core::Rng;

/// Multiplies each image by a random factor.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomBrightness(pub f32, pub f32);

impl Transform for RandomBrightness {
    fn apply(&self, img: &mut [f32], _shape: [usize; 3], rng: &mut Rng) {
        let f = rng.uniform_range(self.0, self.1);
        img.iter_mut().for_each(|v| *v *= f);
    }

    fn name(&self) -> &'static str {
        "brightness"
    }
}

/// Scales each image's distance from its mean by a random factor.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomContrast(pub f32, pub f32);

impl Transform for RandomContrast {
    fn apply(&self, img: &mut [f32], _shape: [usize; 3], rng: &mut Rng) {
        let f = rng.uniform_range(self.0, self.1);
        let m = img.iter().map(|&v| v as f64).sum::<f64>() as f32 / img.len().max(1) as f32;
        img.iter_mut().for_each(|v| *v = m + f * (*v - m));
    }

    fn name(&self) -> &'static str {
        "contrast"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brightness_scales_and_contrast_keeps_the_mean() {
        let mut rng = Rng::new(1);
        let mut x = vec![1.0, 2.0, 3.0, 6.0];
        RandomBrightness(2.0, 2.0).apply(&mut x, [1, 2, 2], &mut rng);
        assert_eq!(x, vec![2.0, 4.0, 6.0, 12.0]);
        RandomContrast(0.5, 0.5).apply(&mut x, [1, 2, 2], &mut rng);
        // mean 6: 6 + 0.5·(x - 6)
        assert_eq!(x, vec![4.0, 5.0, 6.0, 9.0]);
    }
}
