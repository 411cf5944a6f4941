//! The checks and steps of building a model graph, before any weight exists: inputs with
//! distinct names and positive sizes, a name for every node (Keras's `dense`, `dense_1`),
//! what each node takes resolved by name, an execution order (a cycle is an error naming its
//! layers), and every layer and input leading to an output. All in O(n log n) of the layers,
//! so no spec can stall a build.

use crate::config::{InputConfig, LayerConfig};
use crate::error::{Error, Result};
use crate::graph::{Call, Entry, Ref, Source};
use std::collections::HashMap;

pub(crate) fn graph_err(msg: impl Into<String>) -> Error {
    Error::Graph(msg.into())
}

/// Whether the user gave the layer a name (else it gets `dense`, `dense_1`, ... as in Keras).
fn has_name(cfg: &LayerConfig) -> bool {
    serde_json::to_value(cfg).is_ok_and(|v| v.get("name").is_some_and(|n| !n.is_null()))
}

/// Inputs need distinct names and positive sizes.
pub(crate) fn check_inputs(inputs: &[InputConfig]) -> Result<()> {
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
        let what = if inputs.len() == 1 && a.name == crate::config::DEFAULT_INPUT {
            "input_shape".to_string() // the one unnamed input of a sequential model
        } else {
            format!("shape of input '{}'", a.name)
        };
        crate::budget::checked_values(|| what.clone(), &a.shape)?;
        if a.shape.contains(&0) {
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
pub(crate) fn assign_names(inputs: &[InputConfig], entries: &[Entry]) -> Result<Vec<String>> {
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
pub(crate) fn resolve(r: &Ref, at: usize, index: &NameIndex, who: &str) -> Result<Source> {
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
pub(crate) struct NameIndex {
    map: HashMap<String, Source>,
    order: Vec<String>,
}

impl NameIndex {
    pub(crate) fn new(inputs: &[InputConfig], names: &[String]) -> NameIndex {
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
pub(crate) fn topological(sources: &[Vec<Source>], names: &[String]) -> Result<Vec<usize>> {
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
pub(crate) fn check_connected(
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
pub(crate) fn named_shapes(
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
