//! Random crop with padding (torchvision's `RandomCrop(size, padding)` with `size` the
//! image's own size, as used for CIFAR): the image is padded with `padding` zeros on every
//! side and a window of the original size is cut at a random offset, so the content moves
//! by up to `padding` pixels and the shape stays the same.

use super::Transform;
use nabla_core::Rng;

/// Pads by `padding` and crops back to the original size at a random offset.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomCrop {
    /// Zeros added on every side before cropping.
    pub padding: usize,
}

impl Transform for RandomCrop {
    fn apply(&self, img: &mut [f32], [ch, h, w]: [usize; 3], rng: &mut Rng) {
        let p = self.padding;
        if p == 0 {
            return;
        }
        // offset of the window in the padded image, minus the padding: -p..=p
        let dr = rng.below(2 * p + 1) as isize - p as isize;
        let dc = rng.below(2 * p + 1) as isize - p as isize;
        let src = img.to_vec();
        for c in 0..ch {
            for r in 0..h {
                for col in 0..w {
                    let (ir, ic) = (r as isize + dr, col as isize + dc);
                    let inside = ir >= 0 && ic >= 0 && (ir as usize) < h && (ic as usize) < w;
                    img[(c * h + r) * w + col] = if inside {
                        src[(c * h + ir as usize) * w + ic as usize]
                    } else {
                        0.0
                    };
                }
            }
        }
    }

    fn name(&self) -> &'static str {
        "random_crop"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crops_move_content_by_at_most_the_padding() {
        let mut rng = Rng::new(3);
        let mut offsets = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let mut x = vec![0.0; 49];
            x[3 * 7 + 3] = 1.0; // the centre of 7x7
            RandomCrop { padding: 2 }.apply(&mut x, [1, 7, 7], &mut rng);
            let at = x
                .iter()
                .position(|&v| v == 1.0)
                .expect("the centre stays inside");
            let (r, c) = (at / 7, at % 7);
            assert!(r.abs_diff(3) <= 2 && c.abs_diff(3) <= 2);
            offsets.insert((r, c));
        }
        assert_eq!(offsets.len(), 25, "all 5x5 offsets drawn");
    }
}
