//! `Tensor`: a shared, immutable f32 buffer with a shape and, when it was made from tensors
//! that need gradients, the op that made it (the tape is the graph of these ops).

use crate::ops::Op;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) shape: Vec<usize>,
    /// Shared so that reshapes are free; copied on write by `update`.
    pub(crate) data: Arc<Vec<f32>>,
    pub(crate) requires_grad: bool,
    /// The op that produced this tensor; `None` for leaves and for anything made while
    /// gradients are off or from inputs that need none.
    pub(crate) op: Option<Op>,
}

impl Drop for Node {
    /// A buffer that no other tensor shares goes to the buffer cache, for the next step's
    /// tensor of the same size (cpu/recycle.rs).
    fn drop(&mut self) {
        if let Some(v) = Arc::get_mut(&mut self.data) {
            crate::cpu::recycle::recycle(std::mem::take(v));
        }
    }
}

/// An n-dimensional f32 array, row-major, cheap to clone (the buffer is shared).
///
/// A tensor made by an op from inputs that require gradients remembers that op, so
/// [`Tensor::backward`] can walk back through it.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Node>);

impl Tensor {
    /// A tensor that owns `data`, seen with `shape`. Panics if the sizes disagree
    /// (a programming error; use [`Tensor::try_from_vec`] for user data).
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        assert_eq!(
            data.len(),
            n,
            "Tensor::from_vec: shape {shape:?} needs {n} values, got {}",
            data.len()
        );
        Tensor::leaf(data, shape.to_vec(), false)
    }

    /// Like [`Tensor::from_vec`], but returns a message naming expected and received sizes.
    pub fn try_from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Tensor, String> {
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(format!(
                "shape {shape:?} needs {n} values, received {}",
                data.len()
            ));
        }
        Ok(Tensor::leaf(data, shape.to_vec(), false))
    }

    /// A trainable leaf: gradients flow into it and [`Gradients::get`](crate::Gradients::get)
    /// returns them.
    pub fn param(data: Vec<f32>, shape: &[usize]) -> Tensor {
        Tensor::from_vec(data, shape).requires_grad(true)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor::full(shape, 0.0)
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Tensor::from_vec(vec![value; shape.iter().product()], shape)
    }

    /// A 0-d tensor.
    pub fn scalar(value: f32) -> Tensor {
        Tensor::from_vec(vec![value], &[])
    }

    pub(crate) fn leaf(data: Vec<f32>, shape: Vec<usize>, requires_grad: bool) -> Tensor {
        Tensor(Arc::new(Node {
            id: next_id(),
            shape,
            data: Arc::new(data),
            requires_grad,
            op: None,
        }))
    }

    /// Returns this tensor as a leaf that does (or does not) require gradients. The data is
    /// shared, not copied, when this handle is the only one.
    pub fn requires_grad(self, on: bool) -> Tensor {
        let id = self.0.id;
        match Arc::try_unwrap(self.0) {
            Ok(mut node) => {
                node.requires_grad = on;
                node.op = None;
                Tensor(Arc::new(node))
            }
            Err(shared) => Tensor(Arc::new(Node {
                id,
                shape: shared.shape.clone(),
                data: shared.data.clone(),
                requires_grad: on,
                op: None,
            })),
        }
    }

    /// A new leaf with the same values and no history.
    pub fn detach(&self) -> Tensor {
        Tensor(Arc::new(Node {
            id: next_id(),
            shape: self.0.shape.clone(),
            data: self.0.data.clone(),
            requires_grad: false,
            op: None,
        }))
    }

    /// The same buffer seen with another shape (no copy).
    pub(crate) fn view_as(&self, shape: Vec<usize>) -> Tensor {
        Tensor::leaf_shared(self.0.data.clone(), shape)
    }

    pub(crate) fn leaf_shared(data: Arc<Vec<f32>>, shape: Vec<usize>) -> Tensor {
        Tensor(Arc::new(Node {
            id: next_id(),
            shape,
            data,
            requires_grad: false,
            op: None,
        }))
    }

    /// Unique identity of this tensor (the key of its gradient).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// The shape, outermost dimension first.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.data.len()
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.0.data
    }

    /// The values as an owned vector.
    pub fn to_vec(&self) -> Vec<f32> {
        self.0.data.to_vec()
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> f32 {
        assert_eq!(
            self.numel(),
            1,
            "item: tensor of shape {:?} has more than one element",
            self.shape()
        );
        self.0.data[0]
    }

    /// Whether gradients flow into this tensor.
    pub fn is_requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// Whether this tensor was made by an op (is not a leaf).
    pub fn has_op(&self) -> bool {
        self.0.op.is_some()
    }

    /// Changes the values in place, keeping the identity (id) so gradients still match.
    /// Copies the buffer first only when another handle (for example a live graph) shares it.
    pub fn update(&mut self, f: impl FnOnce(&mut [f32])) {
        if Arc::get_mut(&mut self.0).is_none() {
            let n = &self.0;
            self.0 = Arc::new(Node {
                id: n.id,
                shape: n.shape.clone(),
                data: n.data.clone(),
                requires_grad: n.requires_grad,
                op: None,
            });
        }
        let node = Arc::get_mut(&mut self.0).expect("unique after copy");
        node.op = None;
        f(Arc::make_mut(&mut node.data).as_mut_slice());
    }

    pub(crate) fn node(&self) -> &Node {
        &self.0
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<f32> = self.data().iter().take(8).copied().collect();
        write!(
            f,
            "Tensor(shape={:?}, data={:?}{})",
            self.shape(),
            shown,
            if self.numel() > 8 { "…" } else { "" }
        )
    }
}
