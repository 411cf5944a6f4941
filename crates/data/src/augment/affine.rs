//! Random affine transforms of images, composed into one matrix and applied in one
//! resampling pass (Keras's `ImageDataGenerator.apply_affine_transform`).
//!
//! Coordinates are `(row, column)`. With the image centre `o = ((H-1)/2, (W-1)/2)`, each
//! output pixel `p` reads the input at `M·(F(p) - o) + o + t`, where
//!
//! ```text
//! M = R(θ) · Sh(s) · Z(zr, zc)        R = [[cos θ, -sin θ], [sin θ, cos θ]]
//!                                     Sh = [[1, -sin s], [0, cos s]],  Z = diag(zr, zc)
//! ```
//! `t = R(θ)·(tr, tc)` is the shift (rotated with the image, as Keras composes it) and `F` flips the output grid (`c -> W-1-c` horizontally,
//! `r -> H-1-r` vertically), so the result equals Keras's transform followed by its flips.
//! Values between pixels are interpolated bilinearly; positions outside the image follow
//! [`FillMode`]. A zoom factor above 1 reads a larger area: the content shrinks (Keras).

use super::{FillMode, Transform};
use nabla_core::Rng;

/// Ranges the random parameters are drawn from (uniformly); Keras's argument names.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomAffine {
    /// Rotation `θ` in degrees, from `[-rotation, rotation]`.
    pub rotation: f32,
    /// Vertical shift: a fraction of the height (< 1) or pixels (≥ 1), from `[-r, r]`.
    pub height_shift: f32,
    /// Horizontal shift, likewise of the width.
    pub width_shift: f32,
    /// Shear angle in degrees, from `[-shear, shear]`.
    pub shear: f32,
    /// Zoom factors `(zr, zc)`, each drawn from `[lo, hi]`.
    pub zoom: (f32, f32),
    /// Mirror left-right with probability 1/2.
    pub horizontal_flip: bool,
    /// Mirror top-bottom with probability 1/2.
    pub vertical_flip: bool,
    /// What positions outside the image read.
    pub fill: FillMode,
    /// The value of [`FillMode::Constant`].
    pub cval: f32,
}

/// One drawn transform: `input = m · (p - o) + o + t` for output `p` (after the flips).
struct Drawn {
    m: [[f32; 2]; 2],
    t: [f32; 2],
    flip: (bool, bool),
}

impl RandomAffine {
    /// Whether every parameter is at its identity (the transform can be skipped).
    pub fn is_identity(&self) -> bool {
        self.rotation == 0.0
            && self.height_shift == 0.0
            && self.width_shift == 0.0
            && self.shear == 0.0
            && self.zoom == (1.0, 1.0)
            && !self.horizontal_flip
            && !self.vertical_flip
    }

    fn draw(&self, h: usize, w: usize, rng: &mut Rng) -> Drawn {
        let sym = |rng: &mut Rng, r: f32| {
            if r > 0.0 {
                rng.uniform_range(-r, r)
            } else {
                0.0
            }
        };
        let theta = sym(rng, self.rotation).to_radians();
        let shift = |rng: &mut Rng, r: f32, n: usize| {
            let v = sym(rng, r);
            if r < 1.0 {
                v * n as f32
            } else {
                v.round()
            }
        };
        let tr = shift(rng, self.height_shift, h);
        let tc = shift(rng, self.width_shift, w);
        let s = sym(rng, self.shear).to_radians();
        let (lo, hi) = self.zoom;
        let (zr, zc) = if (lo, hi) == (1.0, 1.0) {
            (1.0, 1.0)
        } else {
            (rng.uniform_range(lo, hi), rng.uniform_range(lo, hi))
        };
        let flip_h = self.horizontal_flip && rng.uniform() < 0.5;
        let flip_v = self.vertical_flip && rng.uniform() < 0.5;
        let (c, sn) = (theta.cos(), theta.sin());
        // R · Sh
        let rs = [
            [c, -c * s.sin() - sn * s.cos()],
            [sn, -sn * s.sin() + c * s.cos()],
        ];
        // · Z
        let m = [
            [rs[0][0] * zr, rs[0][1] * zc],
            [rs[1][0] * zr, rs[1][1] * zc],
        ];
        Drawn {
            m,
            t: [c * tr - sn * tc, sn * tr + c * tc],
            flip: (flip_v, flip_h),
        }
    }
}

impl Transform for RandomAffine {
    fn apply(&self, img: &mut [f32], [ch, h, w]: [usize; 3], rng: &mut Rng) {
        if self.is_identity() {
            return;
        }
        let d = self.draw(h, w, rng);
        let (or, oc) = ((h as f32 - 1.0) / 2.0, (w as f32 - 1.0) / 2.0);
        let src = img.to_vec();
        for c in 0..ch {
            let plane = &src[c * h * w..(c + 1) * h * w];
            let out = &mut img[c * h * w..(c + 1) * h * w];
            for r in 0..h {
                let fr = if d.flip.0 { h - 1 - r } else { r } as f32 - or;
                for col in 0..w {
                    let fc = if d.flip.1 { w - 1 - col } else { col } as f32 - oc;
                    let ir = d.m[0][0] * fr + d.m[0][1] * fc + or + d.t[0];
                    let ic = d.m[1][0] * fr + d.m[1][1] * fc + oc + d.t[1];
                    out[r * w + col] = bilinear(plane, h, w, ir, ic, self.fill, self.cval);
                }
            }
        }
    }

    fn name(&self) -> &'static str {
        "random_affine"
    }
}

/// The plane's value at `(r, c)`, interpolated between its 4 neighbours; each neighbour
/// outside the plane is read through `fill`.
pub fn bilinear(p: &[f32], h: usize, w: usize, r: f32, c: f32, fill: FillMode, cval: f32) -> f32 {
    let (r0, c0) = (r.floor(), c.floor());
    let (a, b) = (r - r0, c - c0);
    let at = |i: f32, j: f32| -> f32 {
        match (fill.index(i as i64, h), fill.index(j as i64, w)) {
            (Some(i), Some(j)) => p[i * w + j],
            _ => cval,
        }
    };
    let top = at(r0, c0) * (1.0 - b) + at(r0, c0 + 1.0) * b;
    let bottom = at(r0 + 1.0, c0) * (1.0 - b) + at(r0 + 1.0, c0 + 1.0) * b;
    top * (1.0 - a) + bottom * a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> RandomAffine {
        RandomAffine {
            rotation: 0.0,
            height_shift: 0.0,
            width_shift: 0.0,
            shear: 0.0,
            zoom: (1.0, 1.0),
            horizontal_flip: false,
            vertical_flip: false,
            fill: FillMode::Constant,
            cval: 0.0,
        }
    }

    #[test]
    fn shifts_rotations_and_flips_move_pixels_where_expected() {
        // a 1-channel 5x5 image with one bright pixel at (1, 3)
        let mut img = vec![0.0; 25];
        img[5 + 3] = 1.0;
        // a 90° rotation exactly: rotation range 90 can draw anything, so build it directly
        let a = identity();
        let d = Drawn {
            m: [[0.0, -1.0], [1.0, 0.0]],
            t: [0.0, 0.0],
            flip: (false, false),
        };
        // output (r, c) reads input (2 - (c - 2), 2 + (r - 2)) = (4 - c, r): pixel (1, 3)
        // appears at output (r, c) with r = 3, 4 - c = 1 -> c = 3
        let out: Vec<f32> = (0..25)
            .map(|i| {
                let (r, c) = ((i / 5) as f32 - 2.0, (i % 5) as f32 - 2.0);
                let ir = d.m[0][0] * r + d.m[0][1] * c + 2.0;
                let ic = d.m[1][0] * r + d.m[1][1] * c + 2.0;
                bilinear(&img, 5, 5, ir, ic, a.fill, a.cval)
            })
            .collect();
        assert_eq!(out[3 * 5 + 3], 1.0);
        assert_eq!(out.iter().sum::<f32>(), 1.0);
        // a sure horizontal flip: (1, 3) -> (1, 1)
        let mut rng = Rng::new(0);
        let flip = RandomAffine {
            horizontal_flip: true,
            ..identity()
        };
        let flipped = (0..20)
            .map(|_| {
                let mut x = img.clone();
                flip.apply(&mut x, [1, 5, 5], &mut rng);
                x
            })
            .find(|x| x != &img)
            .expect("a flip within 20 draws");
        assert_eq!(flipped[5 + 1], 1.0);
        // shifts of whole pixels (a range >= 1 is in pixels): t is added to the input
        // coordinate (Keras), so output (r, c) = input (r + tr, c) with tr in {-1, 0, 1}
        let shift = RandomAffine {
            height_shift: 1.0,
            ..identity()
        };
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let mut x = img.clone();
            shift.apply(&mut x, [1, 5, 5], &mut rng);
            let at = x
                .iter()
                .position(|&v| v == 1.0)
                .expect("whole-pixel shift keeps the pixel");
            seen.insert(at);
        }
        assert!(seen.iter().all(|&i| [3, 8, 13].contains(&i)), "{seen:?}");
        assert!(seen.len() >= 2, "{seen:?}");
    }

    #[test]
    fn fill_modes_at_the_border() {
        let p = [1.0, 2.0, 3.0];
        let v = |fill, c: f32| bilinear(&p, 1, 3, 0.0, c, fill, -1.0);
        assert_eq!(v(FillMode::Constant, -1.0), -1.0);
        assert_eq!(v(FillMode::Nearest, -2.0), 1.0);
        assert_eq!(v(FillMode::Reflect, -1.0), 1.0); // d c b a | a b c d
        assert_eq!(v(FillMode::Reflect, 3.0), 3.0);
        assert_eq!(v(FillMode::Wrap, 3.0), 1.0);
        assert_eq!(v(FillMode::Nearest, 0.5), 1.5);
    }
}
