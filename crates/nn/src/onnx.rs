//! Export to ONNX (opset 17), so a nabla model runs in every ONNX runtime. The graph's nodes
//! become ONNX nodes in the order they run, the weights initializers; layouts are already
//! ONNX's (NCHW images, `[OC, C/g, kh, kw]` kernels; a dense kernel `[in, out]` is
//! `MatMul`'s right operand). Layers with no ONNX form here are an error naming them.
//!
//! | nabla | ONNX |
//! | --- | --- |
//! | dense | `MatMul` (+ `Add` bias) |
//! | conv2d | `Conv` (pads, strides, dilations, group) |
//! | max_pool2d, avg_pool2d (unpadded) | `MaxPool`, `AveragePool` |
//! | global_avg/max_pool2d | `GlobalAveragePool`/`GlobalMaxPool` + `Flatten` |
//! | batch_norm | `BatchNormalization` (inference: the moving statistics) |
//! | flatten | `Flatten(axis=1)` |
//! | zero_padding2d | `Pad` (constant zeros) |
//! | dropout, spatial_dropout2d | nothing (identity at inference) |
//! | activations | `Relu`, `Sigmoid`, `Tanh`, `Softmax(axis=-1)`, `LeakyRelu`, `Elu`, `Selu`, `Softplus`, `LogSoftmax`; GELU as `x·(1 + erf(x/√2))/2`, swish as `x·σ(x)` |
//! | add, subtract, multiply, average, concatenate | `Add`, `Sub`, `Mul`, `Sum` · `1/n`, `Concat` |
//! | lstm, gru, simple_rnn (stacked, bidirectional) | one `LSTM`/`GRU`/`RNN` per layer between `Transpose`s (time-major), gates reordered, then `Reshape` |

use crate::activations::Activation;
use crate::config::LayerConfig;
use crate::error::{Error, Result};
use crate::graph::Source;
use crate::model::Model;
use crate::onnx_proto::{model as model_proto, node, tensor, tensor_i64, value_info, Attr, Msg};

/// The ONNX graph being written.
#[derive(Default)]
struct Out {
    nodes: Vec<Msg>,
    inits: Vec<Msg>,
    names: usize,
}

impl Out {
    /// A fresh value name under `base`.
    fn fresh(&mut self, base: &str) -> String {
        self.names += 1;
        format!("{base}/{}", self.names)
    }

    /// Adds `op(inputs) -> a fresh name` and returns the name.
    fn op(&mut self, op: &str, base: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(base);
        self.nodes.push(node(op, &out, inputs, &[&out], attrs));
        out
    }

    /// A float32 constant (an initializer) named under `base`.
    fn constant(&mut self, base: &str, dims: &[usize], values: &[f32]) -> String {
        let name = self.fresh(base);
        self.inits.push(tensor(&name, dims, values));
        name
    }

    /// `act(x)`, or `x` for the identity.
    fn activation(
        &mut self,
        act: &Activation,
        base: &str,
        x: String,
        layer: &str,
    ) -> Result<String> {
        let one = |me: &mut Out, op: &str, attrs: &[(&str, Attr)]| me.op(op, base, &[&x], attrs);
        Ok(match act {
            Activation::Linear => x,
            Activation::Relu => one(self, "Relu", &[]),
            Activation::Sigmoid => one(self, "Sigmoid", &[]),
            Activation::Tanh => one(self, "Tanh", &[]),
            Activation::Selu => one(self, "Selu", &[]),
            Activation::Softplus => one(self, "Softplus", &[]),
            Activation::Softmax => one(self, "Softmax", &[("axis", Attr::Int(-1))]),
            Activation::LogSoftmax => one(self, "LogSoftmax", &[("axis", Attr::Int(-1))]),
            Activation::LeakyRelu { negative_slope } => one(
                self,
                "LeakyRelu",
                &[("alpha", Attr::Float(*negative_slope))],
            ),
            Activation::Elu { alpha } => one(self, "Elu", &[("alpha", Attr::Float(*alpha))]),
            Activation::Swish => {
                let s = one(self, "Sigmoid", &[]);
                self.op("Mul", base, &[&x, &s], &[])
            }
            Activation::Gelu => {
                // x · (1 + erf(x / √2)) / 2
                let r2 = self.constant(base, &[], &[std::f32::consts::FRAC_1_SQRT_2]);
                let (half, unit) = (
                    self.constant(base, &[], &[0.5]),
                    self.constant(base, &[], &[1.0]),
                );
                let e = self.op("Mul", base, &[&x, &r2], &[]);
                let e = self.op("Erf", base, &[&e], &[]);
                let e = self.op("Add", base, &[&e, &unit], &[]);
                let e = self.op("Mul", base, &[&x, &e], &[]);
                self.op("Mul", base, &[&e, &half], &[])
            }
            other => {
                return Err(Error::config(
                    format!("activation of layer '{layer}'"),
                    "one ONNX export knows (relu, sigmoid, tanh, softmax, gelu, swish, ...)",
                    format!("{other:?}"),
                ))
            }
        })
    }
}

/// The recurrent cells and their ONNX ops.
#[derive(Clone, Copy, PartialEq)]
enum Recurrent {
    Lstm,
    Gru,
    Rnn,
}

/// A recurrent stack as one ONNX op per layer. ONNX orders the gates `i, o, f, c` (LSTM) and
/// `z, r, h` (GRU) where nabla and PyTorch order them `i, f, g, o` and `r, z, n`; the GRU
/// applies its reset gate after the recurrent product (`linear_before_reset = 1`), as
/// PyTorch's. `Y` (`[B, T, D, H]`) reshaped to `[B, T, D·H]` feeds the next layer; the
/// output is that of the top layer, or its final states `Y_h` (`[B, D, H]`) as `[B, D·H]`.
fn recurrent(
    out: &mut Out,
    base: &str,
    c: &crate::layers::RecurrentConfig,
    kind: Recurrent,
    params: &std::collections::BTreeMap<&str, &crate::layer::Param>,
    x: String,
) -> Result<String> {
    let (h, dirs) = (c.units, if c.bidirectional { 2 } else { 1 });
    let (op, order): (&str, &[usize]) = match kind {
        Recurrent::Lstm => ("LSTM", &[0, 3, 1, 2]),
        Recurrent::Gru => ("GRU", &[1, 0, 2]),
        Recurrent::Rnn => ("RNN", &[0]),
    };
    // `w [G·H, K]` with its gate blocks in ONNX's order
    let reorder = |w: &[f32], k: usize| -> Vec<f32> {
        order
            .iter()
            .flat_map(|&g| w[g * h * k..(g + 1) * h * k].iter().copied())
            .collect()
    };
    let mut x = x;
    for layer in 0..c.num_layers {
        let (mut w, mut r, mut b) = (Vec::new(), Vec::new(), Vec::new());
        let mut fan_in = 0;
        for d in 0..dirs {
            let suffix = format!("l{layer}{}", if d == 1 { "_reverse" } else { "" });
            let p = |name: &str| {
                params
                    .get(format!("{name}_{suffix}").as_str())
                    .map(|p| &p.value)
            };
            let (wi, wh) = (
                p("weight_ih").expect("built"),
                p("weight_hh").expect("built"),
            );
            fan_in = wi.shape()[1];
            w.extend(reorder(wi.data(), fan_in));
            r.extend(reorder(wh.data(), h));
            let g = order.len() * h;
            match (p("bias_ih"), p("bias_hh")) {
                (Some(bi), Some(bh)) => {
                    b.extend(reorder(bi.data(), 1));
                    b.extend(reorder(bh.data(), 1));
                }
                _ => b.extend(std::iter::repeat_n(0.0, 2 * g)),
            }
        }
        let g = order.len() * h;
        let w = out.constant(base, &[dirs, g, fan_in], &w);
        let r = out.constant(base, &[dirs, g, h], &r);
        let b = out.constant(base, &[dirs, 2 * g], &b);
        let (y, y_h) = (out.fresh(base), out.fresh(base));
        let outs = [y.clone(), y_h.clone()]; // (the LSTM's Y_c is not needed)
        let direction = if dirs == 2 {
            "bidirectional"
        } else {
            "forward"
        };
        let mut attrs = vec![
            ("hidden_size", Attr::Int(h as i64)),
            ("direction", Attr::Str(direction)),
        ];
        match kind {
            Recurrent::Gru => attrs.push(("linear_before_reset", Attr::Int(1))),
            Recurrent::Rnn => {
                let act = match c.activation {
                    Activation::Relu => "Relu",
                    _ => "Tanh",
                };
                attrs.push(("activations", Attr::Strs(vec![act; dirs])));
            }
            Recurrent::Lstm => {}
        }
        // time-major for the op (onnxruntime runs no batch-first `layout = 1`)
        let perm = |p: &[i64]| [("perm", Attr::Ints(p.to_vec()))];
        let xt = out.op("Transpose", base, &[&x], &perm(&[1, 0, 2]));
        let outs: Vec<&str> = outs.iter().map(String::as_str).collect();
        out.nodes
            .push(node(op, &y, &[&xt, &w, &r, &b], &outs, &attrs));
        let top = layer + 1 == c.num_layers;
        let (from, order, shape): (&str, &[i64], &[i64]) = match top && !c.return_sequences {
            true => (&y_h, &[1, 0, 2], &[0, -1]), // [D, B, H] -> [B, D·H]
            false => (&y, &[2, 0, 1, 3], &[0, 0, -1]), // [T, D, B, H] -> [B, T, D·H]
        };
        let batch_first = out.op("Transpose", base, &[from], &perm(order));
        let target = out.fresh(base);
        out.inits.push(tensor_i64(&target, shape));
        x = out.op("Reshape", base, &[&batch_first, &target], &[]);
    }
    Ok(x)
}

impl Model {
    /// The model as an ONNX file (opset 17): inputs named as the model's, with a symbolic
    /// batch axis; outputs named as the model's output layers.
    ///
    /// # Errors
    /// A layer (or activation) with no ONNX form here, named with its type.
    pub fn to_onnx(&self) -> Result<Vec<u8>> {
        let g = self.graph();
        let mut out = Out::default();
        let mut values: Vec<String> = vec![String::new(); g.nodes.len()];
        let name_of = |s: &Source, values: &[String]| match s {
            Source::Input(k) => g.inputs[*k].name.clone(),
            Source::Node(j) => values[*j].clone(),
        };
        let shape_of = |s: &Source| match s {
            Source::Input(k) => g.inputs[*k].shape.clone(),
            Source::Node(j) => g.nodes[*j].shape.clone(),
        };
        for &i in g.order() {
            let n = &g.nodes[i];
            let layer = &g.layers[n.layer];
            let ins: Vec<String> = n.inputs.iter().map(|s| name_of(s, &values)).collect();
            let x = ins.first().cloned().unwrap_or_default();
            let params: std::collections::BTreeMap<&str, &crate::layer::Param> = layer
                .params()
                .into_iter()
                .map(|p| (p.name.as_str(), p))
                .collect();
            let weight = |name: &str, out: &mut Out| -> Option<String> {
                let p = params.get(name)?;
                Some(out.constant(&n.name, p.value.shape(), p.value.data()))
            };
            let base = n.name.as_str();
            let unsupported = |what: &str| {
                Err(Error::config(
                    format!("layer '{}'", n.name),
                    "a layer ONNX export knows (dense, conv2d, pooling, batch_norm, flatten, dropout, activations, merges)",
                    what.to_string(),
                ))
            };
            values[i] = match layer.config() {
                LayerConfig::Dense(c) => {
                    let w = weight("kernel", &mut out).expect("a built dense layer has a kernel");
                    let mut y = out.op("MatMul", base, &[&x, &w], &[]);
                    if let Some(b) = weight("bias", &mut out) {
                        y = out.op("Add", base, &[&y, &b], &[]);
                    }
                    out.activation(&c.activation, base, y, base)?
                }
                LayerConfig::Conv2d(c) => {
                    let (win, _) = crate::layers::conv2d::window(
                        base,
                        &c.geometry(),
                        &shape_of(&n.inputs[0]),
                    )?;
                    let w = weight("kernel", &mut out).expect("a built conv2d has a kernel");
                    let mut args = vec![x.clone(), w];
                    args.extend(weight("bias", &mut out));
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let (t, b, l, r) = win.pad;
                    let i64s = |v: &[usize]| Attr::Ints(v.iter().map(|&u| u as i64).collect());
                    let y = out.op(
                        "Conv",
                        base,
                        &args,
                        &[
                            ("kernel_shape", i64s(&[c.kernel_size.0, c.kernel_size.1])),
                            ("strides", i64s(&[win.stride.0, win.stride.1])),
                            ("pads", i64s(&[t, l, b, r])),
                            ("dilations", i64s(&[win.dilation.0, win.dilation.1])),
                            ("group", Attr::Int(win.groups as i64)),
                        ],
                    );
                    out.activation(&c.activation, base, y, base)?
                }
                LayerConfig::MaxPool2d(c) | LayerConfig::AvgPool2d(c) => {
                    let max = matches!(layer.config(), LayerConfig::MaxPool2d(_));
                    let [_, h, w] = shape_of(&n.inputs[0])[..] else {
                        return unsupported("a pool over a non-image input");
                    };
                    let (k, s) = (c.pool_size, c.strides.unwrap_or(c.pool_size));
                    let (t, b, l, r) = c.padding.amounts(h, w, k, s, crate::layers::Pair(1, 1));
                    if !max && (t, b, l, r) != (0, 0, 0, 0) {
                        return unsupported("avg_pool2d with padding");
                    }
                    let i64s = |v: &[usize]| Attr::Ints(v.iter().map(|&u| u as i64).collect());
                    let attrs = [
                        ("kernel_shape", i64s(&[k.0, k.1])),
                        ("strides", i64s(&[s.0, s.1])),
                        ("pads", i64s(&[t, l, b, r])),
                    ];
                    out.op(
                        if max { "MaxPool" } else { "AveragePool" },
                        base,
                        &[&x],
                        &attrs,
                    )
                }
                LayerConfig::GlobalAvgPool2d(_) | LayerConfig::GlobalMaxPool2d(_) => {
                    let op = match layer.config() {
                        LayerConfig::GlobalAvgPool2d(_) => "GlobalAveragePool",
                        _ => "GlobalMaxPool",
                    };
                    let y = out.op(op, base, &[&x], &[]);
                    out.op("Flatten", base, &[&y], &[("axis", Attr::Int(1))])
                }
                LayerConfig::BatchNorm(c) => {
                    let ch = shape_of(&n.inputs[0])[0];
                    let gamma = weight("gamma", &mut out)
                        .unwrap_or_else(|| out.constant(base, &[ch], &vec![1.0; ch]));
                    let beta = weight("beta", &mut out)
                        .unwrap_or_else(|| out.constant(base, &[ch], &vec![0.0; ch]));
                    let mean = weight("moving_mean", &mut out).expect("moving mean");
                    let var = weight("moving_variance", &mut out).expect("moving variance");
                    out.op(
                        "BatchNormalization",
                        base,
                        &[&x, &gamma, &beta, &mean, &var],
                        &[("epsilon", Attr::Float(c.epsilon))],
                    )
                }
                LayerConfig::Activation(c) => out.activation(&c.activation, base, x, base)?,
                LayerConfig::Flatten(_) => {
                    out.op("Flatten", base, &[&x], &[("axis", Attr::Int(1))])
                }
                LayerConfig::Lstm(c) | LayerConfig::Gru(c) | LayerConfig::SimpleRnn(c) => {
                    let kind = match layer.config() {
                        LayerConfig::Lstm(_) => Recurrent::Lstm,
                        LayerConfig::Gru(_) => Recurrent::Gru,
                        _ => Recurrent::Rnn,
                    };
                    recurrent(&mut out, base, &c, kind, &params, x)?
                }
                LayerConfig::ZeroPadding2d(c) => {
                    let [t, b, l, r] = c.padding.0.map(|v| v as i64);
                    let pads = out.fresh(base);
                    out.inits.push(tensor_i64(&pads, &[0, 0, t, l, 0, 0, b, r]));
                    out.op("Pad", base, &[&x, &pads], &[])
                }
                LayerConfig::Dropout(_) | LayerConfig::SpatialDropout2d(_) => x,
                LayerConfig::Add(_) | LayerConfig::Subtract(_) | LayerConfig::Multiply(_) => {
                    let op = match layer.config() {
                        LayerConfig::Add(_) => "Add",
                        LayerConfig::Subtract(_) => "Sub",
                        _ => "Mul",
                    };
                    let mut y = ins[0].clone();
                    for other in &ins[1..] {
                        y = out.op(op, base, &[&y, other], &[]);
                    }
                    y
                }
                LayerConfig::Average(_) => {
                    let args: Vec<&str> = ins.iter().map(String::as_str).collect();
                    let sum = out.op("Sum", base, &args, &[]);
                    let k = out.constant(base, &[], &[1.0 / ins.len() as f32]);
                    out.op("Mul", base, &[&sum, &k], &[])
                }
                LayerConfig::Concatenate(c) => {
                    // the config's axis counts without the batch axis when positive
                    let axis = if c.axis >= 0 { c.axis + 1 } else { c.axis };
                    let args: Vec<&str> = ins.iter().map(String::as_str).collect();
                    out.op("Concat", base, &args, &[("axis", Attr::Int(axis))])
                }
                other => return unsupported(&format!("type '{}'", other.type_name())),
            };
        }
        let inputs: Vec<Msg> = g
            .inputs
            .iter()
            .map(|i| value_info(&i.name, &i.shape))
            .collect();
        let mut outputs = Vec::new();
        for (k, s) in g.outputs.iter().enumerate() {
            let name = g.output_name(k).to_string();
            let from = name_of(s, &values);
            // an ONNX output is named as the model's output layer
            out.nodes.push(node(
                "Identity",
                &format!("{name}/output"),
                &[&from],
                &[&name],
                &[],
            ));
            outputs.push(value_info(&name, g.output_shape(k)));
        }
        Ok(model_proto(&out.nodes, &out.inits, &inputs, &outputs))
    }
}
