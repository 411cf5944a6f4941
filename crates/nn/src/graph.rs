//! The model graph (Keras's functional model): named inputs, nodes that each call a layer on
//! earlier nodes or inputs, and outputs. A layer called at two places is one layer with two
//! nodes, so both share its weights. `Sequential` is the chain where every node takes the one
//! before it.
//!
//! Building checks the graph before any weight exists: every name a node takes must exist,
//! there must be no cycle, every layer and input must lead to an output, and each layer's
//! `build` sees the shapes it is given (a merge of mismatched shapes names both inputs).

use crate::config::{InputConfig, InputDtype, LayerConfig};
use crate::error::{Error, Result};
use crate::layer::{Ctx, Layer};
use nabla_core::{Rng, Tensor};
use std::collections::HashMap;

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

fn graph_err(msg: impl Into<String>) -> Error {
    Error::Graph(msg.into())
}

/// Whether the user gave the layer a name (else it gets `dense`, `dense_1`, ... as in Keras).
fn has_name(cfg: &LayerConfig) -> bool {
    serde_json::to_value(cfg).is_ok_and(|v| v.get("name").is_some_and(|n| !n.is_null()))
}

impl Graph {
    /// Names the unnamed layers, resolves what each node takes, orders the nodes, checks the
    /// graph and builds every layer from the shapes that reach it, drawing weights from `rng`.
    pub fn build(
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
                    built[li] = Some((ins, out.clone()));
                    out
                }
            };
        }
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

    /// Per-sample shape of an output.
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
        for n in self
            .nodes
            .iter()
            .filter(|n| n.inputs.contains(&Source::Input(k)))
        {
            self.layers[n.layer].check_input(x)?;
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

/// Inputs need distinct names and positive sizes.
fn check_inputs(inputs: &[InputConfig]) -> Result<()> {
    if inputs.is_empty() {
        return Err(graph_err("a model needs at least one input, received none"));
    }
    for (i, a) in inputs.iter().enumerate() {
        if a.name.is_empty() || inputs[..i].iter().any(|b| b.name == a.name) {
            return Err(Error::config(
                "input name",
                "a distinct, non-empty name",
                format!("{:?}", a.name),
            ));
        }
        if a.shape.contains(&0) {
            let what = if inputs.len() == 1 && a.name == crate::config::DEFAULT_INPUT {
                "input_shape".to_string() // the one unnamed input of a sequential model
            } else {
                format!("shape of input '{}'", a.name)
            };
            return Err(Error::config(
                what,
                "positive sizes",
                format!("{:?}", a.shape),
            ));
        }
    }
    Ok(())
}

/// The name of every node: the user's, else the layer type numbered as Keras does
/// (`dense`, `dense_1`, ...; a repeated call is `shared`, `shared_1`, ...).
fn assign_names(inputs: &[InputConfig], entries: &[Entry]) -> Result<Vec<String>> {
    let mut taken: std::collections::HashSet<String> =
        inputs.iter().map(|i| i.name.clone()).collect();
    let given: Vec<Option<String>> = entries
        .iter()
        .map(|e| match &e.call {
            Call::Layer(l) => has_name(&l.config()).then(|| l.name().to_string()),
            Call::Again(_) => e.name.clone(),
        })
        .collect();
    for g in given.iter().flatten() {
        if !taken.insert(g.clone()) {
            return Err(Error::config(
                "layer name",
                "a name used once in the model (inputs included)",
                g,
            ));
        }
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut names = Vec::with_capacity(entries.len());
    for (e, g) in entries.iter().zip(given) {
        if let Some(g) = g {
            names.push(g);
            continue;
        }
        let kind = match &e.call {
            Call::Layer(l) => l.config().type_name().to_string(),
            Call::Again(_) => "shared".to_string(),
        };
        loop {
            let c = counts.entry(kind.clone()).or_insert(0);
            let name = if *c == 0 {
                kind.to_string()
            } else {
                format!("{kind}_{c}")
            };
            *c += 1;
            if taken.insert(name.clone()) {
                names.push(name);
                break;
            }
        }
    }
    Ok(names)
}

/// `r` as a source, for node `at` (named `who` in errors).
fn resolve(r: &Ref, at: usize, index: &NameIndex, who: &str) -> Result<Source> {
    match r {
        Ref::At(s) => Ok(*s),
        Ref::Prev if at == 0 => Ok(Source::Input(0)),
        Ref::Prev => Ok(Source::Node(at - 1)),
        Ref::Name(name) => index.map.get(name.as_str()).copied().ok_or_else(|| {
            let shown: Vec<&str> = index.order.iter().take(30).map(|s| s.as_str()).collect();
            let more = if index.order.len() > 30 { ", …" } else { "" };
            graph_err(format!(
                "'{who}' takes '{name}', and no input or layer has that name (known: {}{more})",
                shown.join(", ")
            ))
        }),
    }
}

/// Inputs and nodes by name (inputs first, as a name is looked up).
struct NameIndex {
    map: HashMap<String, Source>,
    order: Vec<String>,
}

impl NameIndex {
    fn new(inputs: &[InputConfig], names: &[String]) -> NameIndex {
        let mut map = HashMap::new();
        for (j, n) in names.iter().enumerate().rev() {
            map.insert(n.clone(), Source::Node(j));
        }
        for (k, i) in inputs.iter().enumerate().rev() {
            map.insert(i.name.clone(), Source::Input(k));
        }
        let order = inputs
            .iter()
            .map(|i| i.name.clone())
            .chain(names.iter().cloned())
            .collect();
        NameIndex { map, order }
    }
}

/// The nodes in execution order: each after everything it takes, otherwise in the order
/// given (so a `Sequential` model runs and initialises as listed). A cycle is an error that
/// names the nodes on it.
fn topological(sources: &[Vec<Source>], names: &[String]) -> Result<Vec<usize>> {
    use std::cmp::Reverse;
    let n = sources.len();
    let deps = |i: usize| {
        sources[i].iter().filter_map(|s| match s {
            Source::Node(j) => Some(*j),
            Source::Input(_) => None,
        })
    };
    // Kahn's algorithm, always taking the earliest ready node: O(n log n), not O(n²), so a
    // spec of many layers cannot stall the build
    let mut waiting: Vec<usize> = (0..n).map(|i| deps(i).count()).collect();
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        deps(i).for_each(|j| readers[j].push(i));
    }
    let mut ready: std::collections::BinaryHeap<Reverse<usize>> =
        (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &r in &readers[i] {
            waiting[r] -= 1;
            if waiting[r] == 0 {
                ready.push(Reverse(r));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // follow unplaced inputs from an unplaced node until one repeats: that is a cycle
    let mut placed = vec![false; n];
    order.iter().for_each(|&i| placed[i] = true);
    let mut at_step: Vec<Option<usize>> = vec![None; n];
    let mut path = vec![(0..n).find(|&i| !placed[i]).expect("some node is left")];
    at_step[path[0]] = Some(0);
    loop {
        let last = *path.last().expect("non-empty");
        let j = deps(last)
            .find(|&j| !placed[j])
            .expect("an unplaced node waits on one");
        if let Some(p) = at_step[j] {
            let cycle: Vec<&str> = path[p..]
                .iter()
                .chain([&j])
                .rev()
                .map(|&x| names[x].as_str())
                .collect();
            return Err(graph_err(format!(
                "the layers form a cycle: {} (each takes the one before it)",
                cycle.join(" -> ")
            )));
        }
        at_step[j] = Some(path.len());
        path.push(j);
    }
}

/// Every node and input must lead to an output: a dangling one is almost always a typo.
fn check_connected(
    sources: &[Vec<Source>],
    outputs: &[Source],
    names: &[String],
    inputs: &[InputConfig],
) -> Result<()> {
    let mut used_node = vec![false; sources.len()];
    let mut used_input = vec![false; inputs.len()];
    let mut stack: Vec<Source> = outputs.to_vec();
    while let Some(s) = stack.pop() {
        match s {
            Source::Input(k) => used_input[k] = true,
            Source::Node(j) if !used_node[j] => {
                used_node[j] = true;
                stack.extend(&sources[j]);
            }
            Source::Node(_) => {}
        }
    }
    if let Some(j) = used_node.iter().position(|u| !u) {
        return Err(graph_err(format!(
            "layer '{}' does not lead to any output (outputs: {})",
            names[j],
            outputs_named(outputs, names, inputs)
        )));
    }
    if let Some(k) = used_input.iter().position(|u| !u) {
        return Err(graph_err(format!(
            "input '{}' does not lead to any output (outputs: {})",
            inputs[k].name,
            outputs_named(outputs, names, inputs)
        )));
    }
    Ok(())
}

fn outputs_named(outputs: &[Source], names: &[String], inputs: &[InputConfig]) -> String {
    outputs
        .iter()
        .map(|s| match *s {
            Source::Input(k) => inputs[k].name.clone(),
            Source::Node(j) => names[j].clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `conv_2 [16, 14, 14] and block_1 [8, 14, 14]`
fn named_shapes(
    src: &[Source],
    shapes: &[Vec<usize>],
    names: &[String],
    inputs: &[InputConfig],
) -> String {
    src.iter()
        .zip(shapes)
        .map(|(s, shape)| {
            let name = match *s {
                Source::Input(k) => &inputs[k].name,
                Source::Node(j) => &names[j],
            };
            format!("{name} {shape:?}")
        })
        .collect::<Vec<_>>()
        .join(" and ")
}
