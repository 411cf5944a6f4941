//! The model graph (Keras's functional model): named inputs, nodes that each call a layer on
//! earlier nodes or inputs, and outputs. A layer called at two places is one layer with two
//! nodes, so both share its weights. `Sequential` is the chain where every node takes the one
//! before it.
//!
//! Building checks the graph before any weight exists: every name a node takes must exist,
//! there must be no cycle, every layer and input must lead to an output, and each layer's
//! `build` sees the shapes it is given (a merge of mismatched shapes names both inputs).

use crate::config::{InputConfig, InputDtype};
use crate::error::{Error, Result};
use crate::graph_checks::{
    assign_names, check_connected, check_inputs, graph_err, named_shapes, resolve, topological,
    NameIndex,
};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};

/// Where a node's input comes from once the graph is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The model input at this index.
    Input(usize),
    /// The output of the node at this index.
    Node(usize),
}

/// How an unbuilt node names what it takes.
#[derive(Clone, Debug, PartialEq)]
pub enum Ref {
    /// The node before it (the first input for the first node): Sequential's rule.
    Prev,
    /// An input or a node, by name.
    Name(String),
    /// Already resolved (the Rust functional API).
    At(Source),
}

/// What an unbuilt node calls.
pub enum Call {
    /// A layer of its own.
    Layer(Box<dyn Layer>),
    /// The layer of another node again, sharing its weights.
    Again(Ref),
}

/// A node before the graph is built.
pub struct Entry {
    /// The layer it calls.
    pub call: Call,
    /// The node's name for a repeated call (a new layer's node has the layer's name).
    pub name: Option<String>,
    /// What it takes, in order; empty means [`Ref::Prev`].
    pub inputs: Vec<Ref>,
}

impl Entry {
    /// A node calling `layer` on the node before it.
    pub fn chain(layer: Box<dyn Layer>) -> Entry {
        Entry {
            call: Call::Layer(layer),
            name: None,
            inputs: Vec::new(),
        }
    }
}

/// One call of a layer in a built graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The node's name (its layer's, or its own for a repeated call).
    pub name: String,
    /// Index of its layer in [`Graph::layers`].
    pub layer: usize,
    /// What it takes.
    pub inputs: Vec<Source>,
    /// Per-sample output shape.
    pub shape: Vec<usize>,
}

/// A built model graph.
pub struct Graph {
    /// The named inputs.
    pub inputs: Vec<InputConfig>,
    /// Each layer once, in the order they were given.
    pub layers: Vec<Box<dyn Layer>>,
    /// Every call of a layer, in the order they were given.
    pub nodes: Vec<Node>,
    /// The outputs.
    pub outputs: Vec<Source>,
    /// The nodes in an order where each comes after what it takes.
    order: Vec<usize>,
    /// How many nodes and outputs read each node's value.
    readers: Vec<usize>,
}

/// The input shapes a layer was built for and its output shape.
type BuiltFor = (Vec<Vec<usize>>, Vec<usize>);

/// Every layer that reads indices (an embedding) takes a model input, directly or through
/// layers that only move values: there its ids are checked before each pass, where they
/// would otherwise be any float (a dense layer's output) and panic inside the pass.
fn check_id_readers(
    layers: &[Box<dyn Layer>],
    layer_of: &[usize],
    sources: &[Vec<Source>],
    names: &[String],
) -> Result<()> {
    for (i, src) in sources.iter().enumerate() {
        if !layers[layer_of[i]].takes_ids() {
            continue;
        }
        let mut s = src.clone();
        // walk back while one layer that only moves values feeds it
        while let [Source::Node(j)] = s[..] {
            let l = &layers[layer_of[j]];
            if !l.passes_values() {
                return Err(graph_err(format!(
                    "layer '{}' reads token ids: expected its input from a model input, directly or through reshape, flatten or permute, received the output of layer '{}' ({})",
                    names[i],
                    names[j],
                    l.config().type_name()
                )));
            }
            s = sources[j].clone();
        }
    }
    Ok(())
}

impl Graph {
    /// Names the unnamed layers, resolves what each node takes, orders the nodes, checks the
    /// graph and builds every layer from the shapes that reach it, drawing weights from `rng`.
    ///
    /// The weights of all the layers together are held to the memory budget as they are
    /// built (`budget::with_model_total`), each before it is allocated.
    pub fn build(
        inputs: Vec<InputConfig>,
        entries: Vec<Entry>,
        outputs: Vec<Ref>,
        rng: &mut Rng,
    ) -> Result<Graph> {
        crate::budget::with_model_total(|| Graph::build_counted(inputs, entries, outputs, rng))
    }

    fn build_counted(
        inputs: Vec<InputConfig>,
        entries: Vec<Entry>,
        outputs: Vec<Ref>,
        rng: &mut Rng,
    ) -> Result<Graph> {
        check_inputs(&inputs)?;
        if entries.is_empty() {
            return Err(graph_err("a model needs at least one layer, received none"));
        }
        let names = assign_names(&inputs, &entries)?;
        let index = NameIndex::new(&inputs, &names);
        let n = entries.len();
        let mut layers: Vec<Box<dyn Layer>> = Vec::new();
        let mut layer_of = vec![usize::MAX; n];
        let mut calls = Vec::with_capacity(n);
        let mut sources = Vec::with_capacity(n);
        for (i, e) in entries.into_iter().enumerate() {
            let refs = if e.inputs.is_empty() {
                vec![Ref::Prev]
            } else {
                e.inputs
            };
            let src = refs
                .iter()
                .map(|r| resolve(r, i, &index, &names[i]))
                .collect::<Result<Vec<_>>>()?;
            sources.push(src);
            match e.call {
                Call::Layer(mut l) => {
                    l.set_name(names[i].clone());
                    layer_of[i] = layers.len();
                    layers.push(l);
                    calls.push(None);
                }
                Call::Again(r) => calls.push(Some(r)),
            }
        }
        for i in 0..n {
            if let Some(r) = &calls[i] {
                let mut at = match resolve(r, i, &index, &names[i])? {
                    Source::Node(j) => j,
                    Source::Input(k) => {
                        return Err(graph_err(format!(
                        "node '{}' repeats the layer of '{}', which is a model input, not a layer",
                        names[i], inputs[k].name
                    )))
                    }
                };
                let mut seen = 0;
                while let Some(r2) = &calls[at] {
                    at = match resolve(r2, at, &index, &names[at])? {
                        Source::Node(j) if seen < n => j,
                        _ => {
                            return Err(graph_err(format!("node '{}' repeats no layer", names[i])))
                        }
                    };
                    seen += 1;
                }
                layer_of[i] = layer_of[at];
            }
        }
        let order = topological(&sources, &names)?;
        let outputs = if outputs.is_empty() {
            vec![Ref::Prev]
        } else {
            outputs
        };
        let outputs = outputs
            .iter()
            .map(|r| resolve(r, n, &index, "the outputs"))
            .collect::<Result<Vec<_>>>()?;
        check_connected(&sources, &outputs, &names, &inputs)?;
        // every layer built at its first call, in execution order; later calls must agree
        let mut shapes: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut built: Vec<Option<BuiltFor>> = vec![None; layers.len()];
        for &i in &order {
            let ins: Vec<Vec<usize>> = sources[i]
                .iter()
                .map(|s| match *s {
                    Source::Input(k) => inputs[k].shape.clone(),
                    Source::Node(j) => shapes[j].clone(),
                })
                .collect();
            let li = layer_of[i];
            shapes[i] = match &built[li] {
                Some((first, out)) if *first == ins => out.clone(),
                Some((first, _)) => {
                    return Err(graph_err(format!(
                        "node '{}' calls layer '{}' on {}, and the layer was built for {first:?} (a shared layer takes the same shapes at every call)",
                        names[i],
                        layers[li].name(),
                        named_shapes(&sources[i], &ins, &names, &inputs)
                    )))
                }
                None => {
                    let out = layers[li].build_multi(&ins, rng).map_err(|e| {
                        if ins.len() > 1 {
                            graph_err(format!(
                                "layer '{}' ({}) cannot take {}: {e}",
                                names[i],
                                layers[li].config().type_name(),
                                named_shapes(&sources[i], &ins, &names, &inputs)
                            ))
                        } else {
                            e
                        }
                    })?;
                    // a layer whose output per sample is past the budget (up-sampling by
                    // 10^5, padding by 10^9) fails here, before any batch is allocated
                    crate::budget::checked_values(
                        || format!("output of layer '{}'", names[i]),
                        &out,
                    )?;
                    built[li] = Some((ins, out.clone()));
                    out
                }
            };
        }
        check_id_readers(&layers, &layer_of, &sources, &names)?;
        let mut readers = vec![0; n];
        for s in sources.iter().flatten().chain(&outputs) {
            if let Source::Node(j) = s {
                readers[*j] += 1;
            }
        }
        let nodes = (0..n)
            .map(|i| Node {
                name: names[i].clone(),
                layer: layer_of[i],
                inputs: sources[i].clone(),
                shape: shapes[i].clone(),
            })
            .collect();
        Ok(Graph {
            inputs,
            layers,
            nodes,
            outputs,
            order,
            readers,
        })
    }

    /// Whether the graph is a chain from one input to one output with each layer called
    /// once (a `Sequential` model).
    pub fn is_chain(&self) -> bool {
        self.inputs.len() == 1
            && self.outputs == [Source::Node(self.nodes.len() - 1)]
            && self.nodes.len() == self.layers.len()
            && self.nodes.iter().enumerate().all(|(i, n)| {
                n.layer == i
                    && n.inputs
                        == [if i == 0 {
                            Source::Input(0)
                        } else {
                            Source::Node(i - 1)
                        }]
            })
    }

    /// The nodes in an order where each comes after what it takes (the order they run).
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Per-sample shape of output `i`.
    pub fn output_shape(&self, i: usize) -> &[usize] {
        match self.outputs[i] {
            Source::Input(k) => &self.inputs[k].shape,
            Source::Node(j) => &self.nodes[j].shape,
        }
    }

    /// The name of an output (its node's, or its input's).
    pub fn output_name(&self, i: usize) -> &str {
        self.source_name(self.outputs[i])
    }

    /// The name of an input or node.
    pub fn source_name(&self, s: Source) -> &str {
        match s {
            Source::Input(k) => &self.inputs[k].name,
            Source::Node(j) => &self.nodes[j].name,
        }
    }

    /// Runs the graph on one tensor per input (`[batch, ..shape]`) and returns the outputs.
    /// A node whose only reader is the next node may run fused with it (a ReLU convolution
    /// and its max pooling); a value is dropped as soon as its last reader has run.
    pub fn run(&self, xs: &[Tensor], ctx: &mut Ctx) -> Vec<Tensor> {
        assert_eq!(
            xs.len(),
            self.inputs.len(),
            "model graph: {} inputs expected, received {}",
            self.inputs.len(),
            xs.len()
        );
        let mut values: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        let mut left = self.readers.clone();
        let mut k = 0;
        while k < self.order.len() {
            let i = self.order[k];
            let node = &self.nodes[i];
            let args = gather(&node.inputs, xs, &values);
            for s in &node.inputs {
                if let Source::Node(j) = *s {
                    left[j] -= 1;
                    if left[j] == 0 {
                        values[j] = None;
                    }
                }
            }
            let layer = self.layers[node.layer].as_ref();
            let next = self.order.get(k + 1).map(|&j| &self.nodes[j]);
            let fused = next
                .filter(|m| {
                    args.len() == 1 && self.readers[i] == 1 && m.inputs == [Source::Node(i)]
                })
                .and_then(|m| {
                    let y = layer.forward_fused(self.layers[m.layer].as_ref(), &args[0], ctx)?;
                    Some((self.order[k + 1], y))
                });
            if let Some((j, y)) = fused {
                values[j] = Some(y);
                k += 2;
            } else {
                values[i] = Some(layer.forward_multi(&args, ctx));
                k += 1;
            }
        }
        self.outputs
            .iter()
            .map(|s| match *s {
                Source::Input(j) => xs[j].clone(),
                Source::Node(j) => values[j].clone().expect("outputs are computed"),
            })
            .collect()
    }

    /// Runs the graph in evaluation mode, letting each layer that wants statistics of the
    /// training data (`Normalization`) adapt to what reaches it first.
    pub fn adapt(&mut self, xs: &[Tensor]) {
        let mut rng = Rng::new(0);
        let mut values: Vec<Option<Tensor>> = vec![None; self.nodes.len()];
        for &i in &self.order.clone() {
            let node = &self.nodes[i];
            let args = gather(&node.inputs, xs, &values);
            let layer = &mut self.layers[node.layer];
            if layer.needs_adapt() && args.len() == 1 {
                layer.adapt(&args[0]);
            }
            let y =
                nabla_core::no_grad(|| layer.forward_multi(&args, &mut Ctx::new(false, &mut rng)));
            values[i] = Some(y);
        }
    }

    /// The layers input `k` reaches, directly or through layers that only move its values
    /// (reshape, flatten, permute), each once.
    fn reached_by(&self, k: usize) -> Vec<&dyn Layer> {
        let (mut reached, mut layers) = (vec![Source::Input(k)], Vec::new());
        let mut at = 0;
        while at < reached.len() {
            let from = reached[at];
            at += 1;
            for (j, n) in self.nodes.iter().enumerate() {
                if n.inputs.contains(&from) {
                    let layer = self.layers[n.layer].as_ref();
                    layers.push(layer);
                    let moves = layer.passes_values() && n.inputs.len() == 1;
                    if moves && !reached.contains(&Source::Node(j)) {
                        reached.push(Source::Node(j));
                    }
                }
            }
        }
        layers
    }

    /// Whether input `k` reaches a layer that reads token ids (an embedding), directly or
    /// through layers that only move its values.
    pub fn input_reads_ids(&self, k: usize) -> bool {
        self.reached_by(k).iter().any(|l| l.takes_ids())
    }

    /// Checks the values of input `k` for the layers that read it directly (token ids of
    /// an embedding) and for its dtype (`int` inputs hold whole numbers).
    pub fn check_input(&self, k: usize, x: &[f32]) -> Result<()> {
        let input = &self.inputs[k];
        if input.dtype == InputDtype::Int {
            if let Some((i, v)) = x
                .iter()
                .enumerate()
                .find(|(_, v)| v.fract() != 0.0 || !v.is_finite())
            {
                return Err(Error::config(
                    format!("input '{}' (dtype int), value {i}", input.name),
                    "a whole number",
                    v,
                ));
            }
        }
        for layer in self.reached_by(k) {
            layer.check_input(x)?;
        }
        Ok(())
    }

    /// For each node, the names of what it takes (Keras's "Connected to").
    pub fn connections(&self, node: usize) -> Vec<&str> {
        self.nodes[node]
            .inputs
            .iter()
            .map(|&s| self.source_name(s))
            .collect()
    }
}

/// The values a node takes: model inputs and the outputs of nodes that ran before it.
fn gather(inputs: &[Source], xs: &[Tensor], values: &[Option<Tensor>]) -> Vec<Tensor> {
    inputs
        .iter()
        .map(|s| match *s {
            Source::Input(j) => xs[j].clone(),
            Source::Node(j) => values[j].clone().expect("computed before its readers"),
        })
        .collect()
}
