//! `summary()`: a table of layers, output shapes and parameter counts, as Keras prints it; a
//! model that is not a chain gets Keras's "Connected to" column and a row per input.

use crate::config::InputDtype;
use crate::model::Model;

/// `(None, 28, 28)`
fn dims(shape: &[usize]) -> String {
    let d: Vec<String> = std::iter::once("None".to_string())
        .chain(shape.iter().map(|d| d.to_string()))
        .collect();
    format!("({})", d.join(", "))
}

impl Model {
    /// The summary table as text.
    pub fn summary(&self) -> String {
        let g = self.graph();
        let chain = g.is_chain();
        let mut rows: Vec<[String; 4]> = vec![[
            "Layer (type)".into(),
            "Output Shape".into(),
            "Param #".into(),
            "Connected to".into(),
        ]];
        if !chain {
            for i in &g.inputs {
                let kind = if i.dtype == InputDtype::Int {
                    "int input"
                } else {
                    "input"
                };
                rows.push([
                    format!("{} ({kind})", i.name),
                    dims(&i.shape),
                    "0".into(),
                    "-".into(),
                ]);
            }
        }
        let mut counted = vec![false; g.layers.len()];
        for (i, node) in g.nodes.iter().enumerate() {
            let l = &g.layers[node.layer];
            // a shared layer's weights are counted at its first call
            let n: usize = if std::mem::replace(&mut counted[node.layer], true) {
                0
            } else {
                l.params().iter().map(|p| p.value.numel()).sum::<usize>()
                    + l.int8_params()
                        .iter()
                        .map(|p| p.values.len())
                        .sum::<usize>()
            };
            let int8 = !l.int8_params().is_empty();
            let frozen_mark = if !int8 && !l.params().is_empty() && !l.trainable() {
                " [frozen]"
            } else {
                ""
            };
            let kind = if node.name == l.name() {
                let mut t = l.config().type_name().to_string();
                if int8 {
                    t += ", int8";
                }
                // pruned weights: the zeros of the matrices and filters
                let (zeros, all) =
                    l.params()
                        .iter()
                        .filter(|p| p.value.rank() >= 2)
                        .fold((0, 0), |(z, n), p| {
                            let d = p.value.data();
                            (z + d.iter().filter(|&&v| v == 0.0).count(), n + d.len())
                        });
                if all > 0 && zeros * 100 >= all {
                    t += &format!(", {:.0}% zeros", 100.0 * zeros as f64 / all as f64);
                }
                t
            } else {
                format!("shared {}", l.name())
            };
            rows.push([
                format!("{} ({kind}){frozen_mark}", node.name),
                dims(&node.shape),
                n.to_string(),
                g.connections(i).join(", "),
            ]);
        }
        let (mut trainable, mut frozen) = (0usize, 0usize);
        for (_, p) in self.named_params() {
            if p.trainable {
                trainable += p.value.numel();
            } else {
                frozen += p.value.numel();
            }
        }
        let int8: usize = self
            .named_int8_params()
            .iter()
            .map(|(_, p)| p.values.len())
            .sum();
        let cols = if chain { 3 } else { 4 };
        let width = |c: usize| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0);
        let w: Vec<usize> = (0..cols)
            .map(|c| width(c) + if c + 1 < cols { 2 } else { 0 })
            .collect();
        let total: usize = w.iter().sum::<usize>() + if chain { 0 } else { 2 };
        let line = "─".repeat(total);
        let what = if chain {
            format!("Model: \"sequential\" (input {:?})", self.input_shape())
        } else {
            let outs: Vec<&str> = self.outputs().iter().map(|o| o.0).collect();
            format!("Model: \"functional\" (outputs {})", outs.join(", "))
        };
        let mut s = format!("{what}\n{line}\n");
        for (i, r) in rows.iter().enumerate() {
            let mut row = format!(
                "{:<w0$}{:<w1$}{:>w2$}",
                r[0],
                r[1],
                r[2],
                w0 = w[0],
                w1 = w[1],
                w2 = w[2]
            );
            if !chain {
                row += &format!("  {}", r[3]);
            }
            s += row.trim_end();
            s += "\n";
            if i == 0 {
                s += &format!("{}\n", "═".repeat(total));
            }
        }
        s += &format!("{line}\n");
        s += &format!("Total params: {}\n", trainable + frozen + int8);
        s += &format!("Trainable params: {trainable}\n");
        s += &format!("Non-trainable params: {}\n", frozen + int8);
        if int8 > 0 {
            s += &format!("int8 params: {int8} (the rest float32)\n");
        }
        s
    }
}
