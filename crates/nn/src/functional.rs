//! The functional API (Keras's `keras.Input` / `layer(x)` / `keras.Model(inputs, outputs)`):
//! layers called on symbolic tensors describe a graph, which `Functional::build` turns into a
//! [`Model`].
//!
//! ```
//! use nabla_nn::functional::{Call, Functional, Input};
//! use nabla_nn::{Activation, Add, Dense};
//! let x = Input::new("x", [8]);
//! let h = Dense::new(8).activation(Activation::Relu).call(&x);
//! let skip = Add::new().call([&x, &h]); // a residual connection
//! let y = Dense::new(1).call(&skip);
//! let model = Functional::new([&x], [&y]).build(42).unwrap();
//! assert_eq!(model.output_shape(), &[1]);
//! ```
//!
//! A layer called twice shares its weights: wrap it in [`Shared`] and call that.

use crate::config::InputConfig;
use crate::error::{Error, Result};
use crate::graph::{Call as GraphCall, Entry, Ref, Source};
use crate::layer::Layer;
use crate::model::Model;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Creation order of symbolic tensors and layers: the order of the built model's layers.
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn next_id() -> usize {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A symbolic tensor: a model input, or the output of a layer called on symbolic tensors.
#[derive(Clone)]
pub struct Sym(Rc<SymNode>);

enum SymNode {
    Input {
        id: usize,
        cfg: InputConfig,
    },
    Call {
        id: usize,
        layer: Shared,
        inputs: Vec<Sym>,
    },
}

impl Sym {
    fn id(&self) -> usize {
        match &*self.0 {
            SymNode::Input { id, .. } | SymNode::Call { id, .. } => *id,
        }
    }
}

/// Model inputs (Keras's `keras.Input`).
pub struct Input;

impl Input {
    /// A float input of per-sample `shape`.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: &str, shape: impl Into<Vec<usize>>) -> Sym {
        Input::from_config(InputConfig::new(name, shape))
    }

    /// An input of whole numbers (token ids).
    pub fn int(name: &str, shape: impl Into<Vec<usize>>) -> Sym {
        let mut cfg = InputConfig::new(name, shape);
        cfg.dtype = crate::config::InputDtype::Int;
        Input::from_config(cfg)
    }

    /// An input from its config.
    pub fn from_config(cfg: InputConfig) -> Sym {
        Sym(Rc::new(SymNode::Input { id: next_id(), cfg }))
    }
}

/// A layer that can be called at several places of a graph, sharing its weights.
#[derive(Clone)]
pub struct Shared(Rc<SharedLayer>);

struct SharedLayer {
    id: usize,
    layer: RefCell<Option<Box<dyn Layer>>>,
}

impl Shared {
    /// Wraps `layer` for calling.
    pub fn new(layer: impl Layer + 'static) -> Shared {
        Shared::boxed(Box::new(layer))
    }

    /// Wraps a boxed layer for calling.
    pub fn boxed(layer: Box<dyn Layer>) -> Shared {
        Shared(Rc::new(SharedLayer {
            id: next_id(),
            layer: RefCell::new(Some(layer)),
        }))
    }

    /// Calls the layer on `inputs` (one symbolic tensor, or several for a merge).
    pub fn call(&self, inputs: impl IntoSyms) -> Sym {
        Sym(Rc::new(SymNode::Call {
            id: next_id(),
            layer: self.clone(),
            inputs: inputs.into_syms(),
        }))
    }
}

/// Calling a layer on symbolic tensors (Keras's `layer(x)`).
pub trait Call {
    /// The layer's output when it takes `inputs`.
    fn call(self, inputs: impl IntoSyms) -> Sym;
}

impl<L: Layer + 'static> Call for L {
    fn call(self, inputs: impl IntoSyms) -> Sym {
        Shared::new(self).call(inputs)
    }
}

/// What a layer can be called on: `&x`, `[&a, &b]` or `&[&a, &b][..]`.
pub trait IntoSyms {
    /// The symbolic tensors, in order.
    fn into_syms(self) -> Vec<Sym>;
}

impl IntoSyms for &Sym {
    fn into_syms(self) -> Vec<Sym> {
        vec![self.clone()]
    }
}

impl<const N: usize> IntoSyms for [&Sym; N] {
    fn into_syms(self) -> Vec<Sym> {
        self.iter().map(|&s| s.clone()).collect()
    }
}

impl IntoSyms for &[&Sym] {
    fn into_syms(self) -> Vec<Sym> {
        self.iter().map(|&s| s.clone()).collect()
    }
}

/// A model from its inputs and outputs (Keras's `keras.Model(inputs, outputs)`).
pub struct Functional {
    inputs: Vec<Sym>,
    outputs: Vec<Sym>,
}

impl Functional {
    /// The graph from `inputs` to `outputs`.
    pub fn new(inputs: impl IntoSyms, outputs: impl IntoSyms) -> Functional {
        Functional {
            inputs: inputs.into_syms(),
            outputs: outputs.into_syms(),
        }
    }

    /// Builds the model: layers in the order they were called, weights from `seed`. Each
    /// layer goes into this model (calling `build` again is an error).
    pub fn build(self, seed: u64) -> Result<Model> {
        let mut inputs = Vec::new();
        let mut input_at: HashMap<usize, usize> = HashMap::new();
        for s in &self.inputs {
            match &*s.0 {
                SymNode::Input { id, cfg } => {
                    input_at.insert(*id, inputs.len());
                    inputs.push(cfg.clone());
                }
                SymNode::Call { layer, .. } => {
                    return Err(Error::Graph(format!(
                    "the inputs of a model must be Input tensors; one is the output of layer '{}'",
                    layer_name(layer)
                )))
                }
            }
        }
        // every call the outputs depend on, in creation order
        let mut calls: Vec<Sym> = Vec::new();
        let mut seen = Vec::new();
        let mut stack = self.outputs.clone();
        while let Some(s) = stack.pop() {
            if seen.contains(&s.id()) {
                continue;
            }
            seen.push(s.id());
            match &*s.0 {
                SymNode::Input { id, cfg } if !input_at.contains_key(id) => {
                    return Err(Error::Graph(format!(
                        "the outputs depend on input '{}', which is not among the model's inputs",
                        cfg.name
                    )))
                }
                SymNode::Input { .. } => {}
                SymNode::Call { inputs, .. } => {
                    stack.extend(inputs.iter().cloned());
                    calls.push(s.clone());
                }
            }
        }
        calls.sort_by_key(Sym::id);
        let entry_at: HashMap<usize, usize> =
            calls.iter().enumerate().map(|(i, s)| (s.id(), i)).collect();
        let source = |s: &Sym| match &*s.0 {
            SymNode::Input { id, .. } => Source::Input(input_at[id]),
            SymNode::Call { id, .. } => Source::Node(entry_at[id]),
        };
        let mut first_call: HashMap<usize, usize> = HashMap::new();
        let mut entries = Vec::with_capacity(calls.len());
        for (i, s) in calls.iter().enumerate() {
            let SymNode::Call { layer, inputs, .. } = &*s.0 else {
                unreachable!("only calls are collected")
            };
            let call = match first_call.get(&layer.0.id) {
                Some(&j) => GraphCall::Again(Ref::At(Source::Node(j))),
                None => {
                    first_call.insert(layer.0.id, i);
                    let l = layer.0.layer.borrow_mut().take().ok_or_else(|| {
                        Error::Graph(
                            "a layer of this graph is already part of a built model".into(),
                        )
                    })?;
                    GraphCall::Layer(l)
                }
            };
            entries.push(Entry {
                call,
                name: None,
                inputs: inputs.iter().map(|x| Ref::At(source(x))).collect(),
            });
        }
        let outputs = self.outputs.iter().map(|s| Ref::At(source(s))).collect();
        Model::build_graph(inputs, entries, outputs, seed)
    }
}

fn layer_name(layer: &Shared) -> String {
    layer
        .0
        .layer
        .borrow()
        .as_ref()
        .map_or("?".into(), |l| l.name().to_string())
}
