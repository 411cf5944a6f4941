//! `Dataset`: samples and targets in memory as named arrays (one per model input and one per
//! model output), each with a per-sample shape. Most datasets have one of each: `x` and `y`.

use crate::error::{Error, Result};
use nabla_core::backend::scratch;
use nabla_core::{Rng, Tensor};

/// One named array of a dataset: `len · Π shape` values.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// The model input or output it belongs to.
    pub name: String,
    /// Shape of one sample (`[]` for one class index per sample).
    pub shape: Vec<usize>,
    /// Every sample's values, flat.
    pub data: Vec<f32>,
}

impl Array {
    /// A named array.
    pub fn new(name: &str, data: Vec<f32>, shape: &[usize]) -> Array {
        Array {
            name: name.to_string(),
            shape: shape.to_vec(),
            data,
        }
    }

    fn per(&self) -> usize {
        self.shape.iter().product()
    }

    /// The rows at `indices` (copied into a buffer from the cache the last batch went back to).
    fn rows(&self, indices: &[usize]) -> Vec<f32> {
        let n = self.per();
        let mut v = scratch(indices.len() * n);
        for (dst, &i) in v.chunks_exact_mut(n.max(1)).zip(indices) {
            dst.copy_from_slice(&self.data[i * n..(i + 1) * n]);
        }
        v
    }

    fn gather(&self, indices: &[usize]) -> Array {
        Array {
            data: self.rows(indices),
            ..self.clone_empty()
        }
    }

    fn clone_empty(&self) -> Array {
        Array {
            name: self.name.clone(),
            shape: self.shape.clone(),
            data: Vec::new(),
        }
    }

    fn tensor(&self, indices: &[usize]) -> Tensor {
        let shape: Vec<usize> = std::iter::once(indices.len())
            .chain(self.shape.iter().copied())
            .collect();
        Tensor::from_vec(self.rows(indices), &shape)
    }
}

/// The name of the one input of a dataset made by [`Dataset::new`].
pub const X: &str = "x";
/// The name of the one target array of a dataset made by [`Dataset::new`].
pub const Y: &str = "y";

/// An in-memory dataset of `len` samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    inputs: Vec<Array>,
    targets: Vec<Array>,
    len: usize,
}

impl Dataset {
    /// A dataset from flat features (`len · Π x_shape` values) and targets
    /// (`len · Π y_shape` values; `y_shape = []` for one class index per sample).
    pub fn new(x: Vec<f32>, x_shape: &[usize], y: Vec<f32>, y_shape: &[usize]) -> Result<Dataset> {
        Dataset::from_arrays(
            vec![Array::new(X, x, x_shape)],
            vec![Array::new(Y, y, y_shape)],
        )
    }

    /// A dataset of named input arrays (one per model input) and target arrays (one per
    /// model output), all of the same number of samples.
    pub fn from_arrays(inputs: Vec<Array>, targets: Vec<Array>) -> Result<Dataset> {
        let first = inputs.first().ok_or_else(|| {
            Error::Shape("dataset: expected at least one input array, received none".into())
        })?;
        let per = first.per();
        if per == 0 || !first.data.len().is_multiple_of(per) {
            return Err(Error::Shape(format!(
                "features '{}': expected a multiple of {per} values (sample shape {:?}), received {}",
                first.name,
                first.shape,
                first.data.len()
            )));
        }
        let len = first.data.len() / per;
        for (what, a) in inputs
            .iter()
            .map(|a| ("features", a))
            .chain(targets.iter().map(|a| ("targets", a)))
        {
            if a.data.len() != len * a.per() || (what == "features" && a.per() == 0) {
                return Err(Error::Shape(format!(
                    "{what} '{}': expected {} values for {len} samples of shape {:?}, received {}",
                    a.name,
                    len * a.per(),
                    a.shape,
                    a.data.len()
                )));
            }
        }
        // an input and a target may share a name (an autoencoder's); two of a kind may not
        for (what, arrays) in [("input", &inputs), ("target", &targets)] {
            if let Some(i) =
                (1..arrays.len()).find(|&i| arrays[..i].iter().any(|a| a.name == arrays[i].name))
            {
                return Err(Error::Shape(format!(
                    "dataset: {what} name '{}' used twice",
                    arrays[i].name
                )));
            }
        }
        Ok(Dataset {
            inputs,
            targets,
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

    /// The input arrays.
    pub fn inputs(&self) -> &[Array] {
        &self.inputs
    }

    /// The target arrays.
    pub fn targets(&self) -> &[Array] {
        &self.targets
    }

    /// Shape of one sample's features (the first input).
    pub fn x_shape(&self) -> &[usize] {
        &self.inputs[0].shape
    }

    /// Shape of one sample's target (the first target; `[]` for a class index).
    pub fn y_shape(&self) -> &[usize] {
        self.targets.first().map_or(&[], |a| &a.shape)
    }

    /// All features of the first input, flat.
    pub fn x(&self) -> &[f32] {
        &self.inputs[0].data
    }

    /// All targets of the first target array, flat.
    pub fn y(&self) -> &[f32] {
        self.targets.first().map_or(&[], |a| &a.data)
    }

    /// Features of sample `i` (first input).
    pub fn sample(&self, i: usize) -> &[f32] {
        let n = self.inputs[0].per();
        &self.x()[i * n..(i + 1) * n]
    }

    /// Target of sample `i` (first target).
    pub fn target(&self, i: usize) -> &[f32] {
        let n: usize = self.y_shape().iter().product();
        &self.y()[i * n..(i + 1) * n]
    }

    /// The samples at `indices`, gathered into `(x [b, ..x_shape], y [b, ..y_shape])` (the
    /// first input and target).
    pub fn batch(&self, indices: &[usize]) -> (Tensor, Tensor) {
        let y = match self.targets.first() {
            Some(t) => t.tensor(indices),
            None => Tensor::from_vec(Vec::new(), &[indices.len(), 0]),
        };
        (self.inputs[0].tensor(indices), y)
    }

    /// The samples at `indices`: one tensor per input array and one per target array.
    pub fn batch_all(&self, indices: &[usize]) -> (Vec<Tensor>, Vec<Tensor>) {
        (
            self.inputs.iter().map(|a| a.tensor(indices)).collect(),
            self.targets.iter().map(|a| a.tensor(indices)).collect(),
        )
    }

    fn map_arrays(&self, f: impl Fn(&Array) -> Array, len: usize) -> Dataset {
        Dataset {
            inputs: self.inputs.iter().map(&f).collect(),
            targets: self.targets.iter().map(&f).collect(),
            len,
        }
    }

    /// The samples in `range`, in order.
    pub fn slice(&self, range: std::ops::Range<usize>) -> Dataset {
        let f = |a: &Array| Array {
            data: a.data[range.start * a.per()..range.end * a.per()].to_vec(),
            ..a.clone_empty()
        };
        self.map_arrays(f, range.len())
    }

    /// The samples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Dataset {
        self.map_arrays(|a| a.gather(indices), indices.len())
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

    /// Class indices (`y_shape = []`) turned into one-hot rows of `classes` (the first
    /// target array).
    pub fn one_hot(&self, classes: usize) -> Result<Dataset> {
        if !self.y_shape().is_empty() || self.targets.is_empty() {
            return Err(Error::Shape(format!(
                "one_hot: expected class indices (target shape []), received target shape {:?}",
                self.y_shape()
            )));
        }
        let mut y = vec![0.0; self.len * classes];
        for (i, &c) in self.y().iter().enumerate() {
            if c < 0.0 || c.fract() != 0.0 || c as usize >= classes {
                return Err(Error::Shape(format!(
                    "one_hot: label {c} of sample {i} is not a class in [0, {})",
                    classes
                )));
            }
            y[i * classes + c as usize] = 1.0;
        }
        let mut d = self.clone();
        d.targets[0].data = y;
        d.targets[0].shape = vec![classes];
        Ok(d)
    }

    /// The samples whose (first) target satisfies `keep`, in order.
    pub fn filter(&self, keep: impl Fn(&[f32]) -> bool) -> Dataset {
        let idx: Vec<usize> = (0..self.len).filter(|&i| keep(self.target(i))).collect();
        self.select(&idx)
    }

    /// The same samples with every value of the first target mapped by `f` (relabelling).
    pub fn map_targets(&self, f: impl Fn(f32) -> f32) -> Dataset {
        let mut d = self.clone();
        if let Some(t) = d.targets.first_mut() {
            t.data.iter_mut().for_each(|v| *v = f(*v));
        }
        d
    }

    /// The same samples seen with another per-sample shape of the same size (`[28, 28]` as
    /// `[1, 28, 28]`; the first input).
    pub fn with_x_shape(&self, shape: &[usize]) -> Result<Dataset> {
        let n: usize = shape.iter().product();
        let have = self.inputs[0].per();
        if n != have {
            return Err(Error::Shape(format!(
                "samples of shape {:?} cannot be seen as {shape:?}: {have} values each, {n} needed",
                self.x_shape(),
            )));
        }
        let mut d = self.clone();
        d.inputs[0].shape = shape.to_vec();
        Ok(d)
    }

    /// A shuffled copy (seeded).
    pub fn shuffled(&self, rng: &mut Rng) -> Dataset {
        let mut idx: Vec<usize> = (0..self.len).collect();
        rng.shuffle(&mut idx);
        self.select(&idx)
    }
}
