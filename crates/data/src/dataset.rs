//! `Dataset`: samples `x` and targets `y` in memory, each with a per-sample shape.

use crate::error::{Error, Result};
use nabla_core::cpu::recycle::scratch;
use nabla_core::{Rng, Tensor};

/// An in-memory dataset of `len` samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    x: Vec<f32>,
    x_shape: Vec<usize>,
    y: Vec<f32>,
    y_shape: Vec<usize>,
    len: usize,
}

impl Dataset {
    /// A dataset from flat features (`len · Π x_shape` values) and targets
    /// (`len · Π y_shape` values; `y_shape = []` for one class index per sample).
    pub fn new(x: Vec<f32>, x_shape: &[usize], y: Vec<f32>, y_shape: &[usize]) -> Result<Dataset> {
        let xs: usize = x_shape.iter().product();
        let ys: usize = y_shape.iter().product();
        if xs == 0 || !x.len().is_multiple_of(xs) {
            return Err(Error::Shape(format!(
                "features: expected a multiple of {xs} values (sample shape {x_shape:?}), received {}",
                x.len()
            )));
        }
        let len = x.len() / xs;
        if y.len() != len * ys {
            return Err(Error::Shape(format!(
                "targets: expected {} values for {len} samples of shape {y_shape:?}, received {}",
                len * ys,
                y.len()
            )));
        }
        Ok(Dataset {
            x,
            x_shape: x_shape.to_vec(),
            y,
            y_shape: y_shape.to_vec(),
            len,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Shape of one sample's features.
    pub fn x_shape(&self) -> &[usize] {
        &self.x_shape
    }

    /// Shape of one sample's target (`[]` for a class index).
    pub fn y_shape(&self) -> &[usize] {
        &self.y_shape
    }

    /// All features, flat.
    pub fn x(&self) -> &[f32] {
        &self.x
    }

    /// All targets, flat.
    pub fn y(&self) -> &[f32] {
        &self.y
    }

    /// Features of sample `i`.
    pub fn sample(&self, i: usize) -> &[f32] {
        let n: usize = self.x_shape.iter().product();
        &self.x[i * n..(i + 1) * n]
    }

    /// Target of sample `i`.
    pub fn target(&self, i: usize) -> &[f32] {
        let n: usize = self.y_shape.iter().product();
        &self.y[i * n..(i + 1) * n]
    }

    /// The samples at `indices`, gathered into `(x [b, ..x_shape], y [b, ..y_shape])`.
    pub fn batch(&self, indices: &[usize]) -> (Tensor, Tensor) {
        let xn: usize = self.x_shape.iter().product();
        let yn: usize = self.y_shape.iter().product();
        // every row is copied: buffers from the cache the last batch's tensors went back to
        let rows = |src: &[f32], n: usize| {
            let mut v = scratch(indices.len() * n);
            for (dst, &i) in v.chunks_exact_mut(n.max(1)).zip(indices) {
                dst.copy_from_slice(&src[i * n..(i + 1) * n]);
            }
            v
        };
        let (x, y) = (rows(&self.x, xn), rows(&self.y, yn));
        let b = indices.len();
        let xs: Vec<usize> = std::iter::once(b)
            .chain(self.x_shape.iter().copied())
            .collect();
        let ys: Vec<usize> = std::iter::once(b)
            .chain(self.y_shape.iter().copied())
            .collect();
        (Tensor::from_vec(x, &xs), Tensor::from_vec(y, &ys))
    }

    /// The samples in `range`, in order.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Dataset {
        let xn: usize = self.x_shape.iter().product();
        let yn: usize = self.y_shape.iter().product();
        Dataset {
            x: self.x[range.start * xn..range.end * xn].to_vec(),
            x_shape: self.x_shape.clone(),
            y: self.y[range.start * yn..range.end * yn].to_vec(),
            y_shape: self.y_shape.clone(),
            len: range.len(),
        }
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        let (x, y) = self.batch(indices);
        Dataset {
            x: x.to_vec(),
            x_shape: self.x_shape.clone(),
            y: y.to_vec(),
            y_shape: self.y_shape.clone(),
            len: indices.len(),
        }
    }

    /// Splits off the last `fraction` of the samples (Keras's `validation_split`, which also
    /// takes the last samples, before any shuffling): returns `(first, last)`.
    pub fn split_last(&self, fraction: f32) -> Result<(Dataset, Dataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::Shape(format!(
                "validation_split: expected a fraction in [0, 1), received {fraction}"
            )));
        }
        let n_val = (self.len as f64 * fraction as f64).round() as usize;
        let cut = self.len - n_val;
        Ok((self.slice(0..cut), self.slice(cut..self.len)))
    }

    /// Class indices (`y_shape = []`) turned into one-hot rows of `classes`.
    pub fn one_hot(&self, classes: usize) -> Result<Dataset> {
        if !self.y_shape.is_empty() {
            return Err(Error::Shape(format!(
                "one_hot: expected class indices (target shape []), received target shape {:?}",
                self.y_shape
            )));
        }
        let mut y = vec![0.0; self.len * classes];
        for (i, &c) in self.y.iter().enumerate() {
            if c < 0.0 || c.fract() != 0.0 || c as usize >= classes {
                return Err(Error::Shape(format!(
                    "one_hot: label {c} of sample {i} is not a class in [0, {})",
                    classes
                )));
            }
            y[i * classes + c as usize] = 1.0;
        }
        Ok(Dataset {
            y,
            y_shape: vec![classes],
            ..self.clone()
        })
    }

    /// The samples whose target satisfies `keep`, in order.
    pub fn filter(&self, keep: impl Fn(&[f32]) -> bool) -> Dataset {
        let idx: Vec<usize> = (0..self.len).filter(|&i| keep(self.target(i))).collect();
        self.select(&idx)
    }

    /// The same samples with every target value mapped by `f` (e.g. relabelling classes).
    pub fn map_targets(&self, f: impl Fn(f32) -> f32) -> Dataset {
        Dataset {
            y: self.y.iter().map(|&v| f(v)).collect(),
            ..self.clone()
        }
    }

    /// The same samples seen with another per-sample shape of the same size (`[28, 28]` as
    /// `[1, 28, 28]`).
    pub fn with_x_shape(&self, shape: &[usize]) -> Result<Dataset> {
        let n: usize = shape.iter().product();
        if n != self.x_shape.iter().product::<usize>() {
            return Err(Error::Shape(format!(
                "samples of shape {:?} cannot be seen as {shape:?}: {} values each, {n} needed",
                self.x_shape,
                self.x_shape.iter().product::<usize>()
            )));
        }
        Ok(Dataset {
            x_shape: shape.to_vec(),
            ..self.clone()
        })
    }

    /// A shuffled copy (seeded).
    pub fn shuffled(&self, rng: &mut Rng) -> Dataset {
        let mut idx: Vec<usize> = (0..self.len).collect();
        rng.shuffle(&mut idx);
        self.select(&idx)
    }
}
