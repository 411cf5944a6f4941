//! Finite-difference gradient checks: one line per differentiable primitive (and a few
//! composites), through the shared `grad_check` harness.
#![allow(clippy::cloned_ref_to_slice_refs)] // one shape for every harness call reads better

use nabla_core::testing::grad_check;
use nabla_core::{Rng, Tensor, UnaryOp};

fn rand(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.normal()).collect(), shape)
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    let t = rand(shape, seed);
    Tensor::from_vec(t.data().iter().map(|v| v.abs() + 0.5).collect(), shape)
}

/// A fixed weighting, so the scalar depends on every element differently.
fn weighted_sum(t: &Tensor) -> Tensor {
    let w: Vec<f32> = (0..t.numel())
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
        .collect();
    t.mul(&Tensor::from_vec(w, t.shape())).sum()
}

#[test]
fn binary_ops_with_broadcasting() {
    let (a, b, c) = (rand(&[3, 4], 1), rand(&[4], 2), positive(&[3, 1], 3));
    grad_check("add", &[a.clone(), b.clone()], |x| {
        weighted_sum(&x[0].add(&x[1]))
    });
    grad_check("sub", &[a.clone(), c.clone()], |x| {
        weighted_sum(&x[0].sub(&x[1]))
    });
    grad_check("mul", &[a.clone(), b.clone()], |x| {
        weighted_sum(&x[0].mul(&x[1]))
    });
    grad_check("div", &[a.clone(), c.clone()], |x| {
        weighted_sum(&x[0].div(&x[1]))
    });
    grad_check("div same shape", &[a.clone(), positive(&[3, 4], 4)], |x| {
        weighted_sum(&x[0].div(&x[1]))
    });
    grad_check("maximum", &[a.clone(), b.clone()], |x| {
        weighted_sum(&x[0].maximum(&x[1]))
    });
    grad_check("minimum", &[a.clone(), rand(&[3, 4], 7)], |x| {
        weighted_sum(&x[0].minimum(&x[1]))
    });
}

#[test]
fn maximum_minimum_values_and_ties() {
    let a = Tensor::from_vec(vec![1.0, 5.0, 2.0], &[3]).requires_grad(true);
    let b = Tensor::from_vec(vec![3.0, 4.0, 2.0], &[3]).requires_grad(true);
    assert_eq!(a.maximum(&b).to_vec(), vec![3.0, 5.0, 2.0]);
    assert_eq!(a.minimum(&b).to_vec(), vec![1.0, 4.0, 2.0]);
    let g = a.maximum(&b).sum().backward();
    // the tie (2, 2) sends its gradient to the first operand only
    assert_eq!(g.get(&a).unwrap(), &[0.0, 1.0, 1.0]);
    assert_eq!(g.get(&b).unwrap(), &[1.0, 0.0, 0.0]);
}

#[test]
fn scalar_ops() {
    let a = rand(&[2, 3], 5);
    grad_check("scale", &[a.clone()], |x| weighted_sum(&x[0].scale(-1.7)));
    grad_check("add_scalar", &[a.clone()], |x| {
        weighted_sum(&x[0].add_scalar(3.0))
    });
    grad_check("powf", &[positive(&[2, 3], 6)], |x| {
        weighted_sum(&x[0].powf(1.5))
    });
    grad_check("clamp", &[a], |x| weighted_sum(&x[0].clamp(-0.5, 0.5)));
}

#[test]
fn unary_ops() {
    let a = rand(&[3, 5], 7);
    for op in [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Abs,
        UnaryOp::Relu,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Gelu,
        UnaryOp::GeluTanh,
        UnaryOp::LeakyRelu(0.2),
        UnaryOp::Elu(1.3),
        UnaryOp::Selu,
        UnaryOp::Silu,
        UnaryOp::Softplus,
        UnaryOp::Cosh,
    ] {
        grad_check(&format!("{op:?}"), &[a.clone()], |x| {
            weighted_sum(&x[0].unary(op))
        });
    }
    let p = positive(&[3, 5], 8);
    grad_check("log", &[p.clone()], |x| weighted_sum(&x[0].log()));
    grad_check("sqrt", &[p], |x| weighted_sum(&x[0].sqrt()));
}

#[test]
fn matmul_linear_transpose() {
    let (a, b) = (rand(&[3, 4], 9), rand(&[4, 5], 10));
    grad_check("matmul 2d", &[a.clone(), b.clone()], |x| {
        weighted_sum(&x[0].matmul(&x[1]))
    });
    let (ab, bb) = (rand(&[2, 3, 4], 11), rand(&[2, 4, 2], 12));
    grad_check("matmul batched", &[ab.clone(), bb], |x| {
        weighted_sum(&x[0].matmul(&x[1]))
    });
    grad_check("matmul shared rhs", &[ab, b.clone()], |x| {
        weighted_sum(&x[0].matmul(&x[1]))
    });
    let bias = rand(&[5], 13);
    grad_check("linear", &[a.clone(), b.clone(), bias], |x| {
        weighted_sum(&x[0].linear(&x[1], Some(&x[2])))
    });
    grad_check("linear no bias", &[a.clone(), b], |x| {
        weighted_sum(&x[0].linear(&x[1], None))
    });
    grad_check("transpose", &[a], |x| weighted_sum(&x[0].transpose()));
}

#[test]
fn reductions_and_reshapes() {
    let a = rand(&[2, 3, 4], 14);
    grad_check("sum", &[a.clone()], |x| x[0].square().sum());
    grad_check("mean", &[a.clone()], |x| x[0].square().mean());
    for axis in 0..3 {
        grad_check("sum_axis", &[a.clone()], |x| {
            weighted_sum(&x[0].sum_axis(axis))
        });
    }
    grad_check("mean_axis", &[a.clone()], |x| {
        weighted_sum(&x[0].mean_axis(1))
    });
    grad_check("reshape", &[a.clone()], |x| {
        weighted_sum(&x[0].reshape(&[4, 6]))
    });
    grad_check("flatten", &[a], |x| weighted_sum(&x[0].flatten()));
}

#[test]
fn softmax_family_and_nll() {
    let a = rand(&[4, 5], 15);
    grad_check("softmax", &[a.clone()], |x| weighted_sum(&x[0].softmax()));
    grad_check("log_softmax", &[a.clone()], |x| {
        weighted_sum(&x[0].log_softmax())
    });
    grad_check("pick", &[a.clone()], |x| {
        weighted_sum(&x[0].pick(&[1, 0, 4, 4]))
    });
    grad_check("nll(log_softmax)", &[a], |x| {
        x[0].log_softmax().nll(&[0, 4, 2, 2])
    });
}

#[test]
fn gradients_accumulate_over_uses() {
    // y = x·x + x  =>  dy/dx = 2x + 1
    let x = Tensor::param(vec![1.0, -2.0, 3.0], &[3]);
    let g = x.mul(&x).add(&x).sum().backward();
    assert_eq!(g.get(&x).unwrap(), &[3.0, -3.0, 7.0]);
    // and over passes
    let mut acc = g.clone();
    acc.accumulate(x.mul(&x).add(&x).sum().backward());
    assert_eq!(acc.get(&x).unwrap(), &[6.0, -6.0, 14.0]);
}

#[test]
fn inference_mode_records_nothing() {
    let x = Tensor::param(vec![1.0, 2.0], &[2]);
    let y = nabla_core::no_grad(|| x.mul(&x).sum());
    assert!(!y.is_requires_grad());
    assert!(y.backward().is_empty());
    assert!(nabla_core::is_grad_enabled());
    // inputs that need no gradient record nothing either
    let c = Tensor::from_vec(vec![1.0, 2.0], &[2]);
    assert!(!c.exp().has_op());
}

#[test]
fn unary_owned_reuses_only_unshared_buffers() {
    let x = rand(&[4, 3], 16);
    let want = x.relu();
    // shared (x is still alive): must not touch x
    let y = x.clone().unary_owned(UnaryOp::Relu);
    assert_eq!(y.data(), want.data());
    assert_ne!(x.data(), want.data(), "x had negatives and is unchanged");
    // unshared: computed in place, same values, new identity
    let z = x.detach();
    let id = z.id();
    let z = z.unary_owned(UnaryOp::Relu);
    assert_eq!(z.data(), want.data());
    assert_ne!(z.id(), id);
    // needing a gradient: recorded as usual
    let p = x.detach().requires_grad(true);
    let g = p.clone().unary_owned(UnaryOp::Relu).sum().backward();
    let expect: Vec<f32> = x.data().iter().map(|&v| (v > 0.0) as u8 as f32).collect();
    assert_eq!(g.get(&p).unwrap(), expect.as_slice());
}

fn win(
    stride: (usize, usize),
    pad: (usize, usize, usize, usize),
    dilation: (usize, usize),
    groups: usize,
) -> nabla_core::Window2d {
    nabla_core::Window2d {
        stride,
        pad,
        dilation,
        groups,
    }
}

#[test]
fn conv2d_plain_strided_padded_dilated_grouped() {
    let x = rand(&[2, 4, 6, 5], 20);
    let cases = [
        ("plain", (1, 1), (0, 0, 0, 0), (1, 1), 1),
        (
            "strided + asymmetric padding",
            (2, 1),
            (1, 0, 2, 1),
            (1, 1),
            1,
        ),
        ("dilated", (1, 2), (1, 1, 1, 1), (2, 1), 1),
        ("grouped", (1, 1), (1, 1, 0, 0), (1, 1), 2),
    ];
    for (name, s, p, d, g) in cases {
        let w = rand(&[4, 4 / g, 3, 2], 21);
        let b = rand(&[4], 22);
        grad_check(
            &format!("conv2d {name}"),
            &[x.clone(), w.clone(), b.clone()],
            |t| weighted_sum(&t[0].conv2d(&t[1], Some(&t[2]), win(s, p, d, g))),
        );
        // fused ReLU: the same values as conv2d then relu, and its gradient
        let fused = x.conv2d_relu(&w, Some(&b), win(s, p, d, g));
        assert_eq!(
            fused.data(),
            x.conv2d(&w, Some(&b), win(s, p, d, g)).relu().data()
        );
        grad_check(&format!("conv2d_relu {name}"), &[x.clone(), w, b], |t| {
            weighted_sum(&t[0].conv2d_relu(&t[1], Some(&t[2]), win(s, p, d, g)))
        });
    }
}

#[test]
fn pooling_on_odd_sizes_with_padding_and_strides() {
    // distinct values so that no finite-difference step crosses a tie
    let n = 2 * 3 * 5 * 7;
    let vals: Vec<f32> = (0..n).map(|i| ((i * 37) % n) as f32 * 0.1).collect();
    let x = Tensor::from_vec(vals, &[2, 3, 5, 7]);
    for (k, s, p) in [
        ((2, 2), (2, 2), (0, 0, 0, 0)),
        ((3, 2), (2, 1), (1, 1, 0, 1)),
        ((3, 3), (1, 1), (1, 1, 1, 1)),
    ] {
        grad_check("max_pool2d", &[x.clone()], |t| {
            weighted_sum(&t[0].max_pool2d(k, win(s, p, (1, 1), 1)))
        });
        grad_check("avg_pool2d", &[x.clone()], |t| {
            weighted_sum(&t[0].avg_pool2d(k, win(s, p, (1, 1), 1)))
        });
    }
}

#[test]
fn batch_norm_in_training_mode() {
    for shape in [vec![4, 3], vec![2, 3, 2, 3]] {
        let x = rand(&shape, 30);
        let (g, b) = (positive(&[3], 31), rand(&[3], 32));
        grad_check("batch_norm", &[x, g, b], |t| {
            weighted_sum(&t[0].batch_norm(&t[1], &t[2], 1e-5).0)
        });
    }
}

#[test]
fn layout_ops_permute_pad_narrow() {
    let a = rand(&[2, 3, 4], 31);
    grad_check("permute", &[a.clone()], |x| {
        weighted_sum(&x[0].permute(&[2, 0, 1]))
    });
    grad_check("pad", &[a.clone()], |x| {
        weighted_sum(&x[0].pad(&[(0, 1), (2, 0), (1, 3)]))
    });
    grad_check("narrow", &[a.clone()], |x| {
        weighted_sum(&x[0].narrow(2, 1, 2))
    });
    // a composite: narrow after pad gives back the input
    let back = a.pad(&[(0, 0), (1, 1), (0, 0)]).narrow(1, 1, 3);
    assert_eq!(back.data(), a.data());
}

#[test]
fn upsampling_nearest_and_bilinear() {
    use nabla_core::Interpolation;
    let a = rand(&[2, 2, 3, 5], 32);
    for mode in [Interpolation::Nearest, Interpolation::Bilinear] {
        grad_check(&format!("upsample2d {mode:?}"), &[a.clone()], |x| {
            weighted_sum(&x[0].upsample2d((2, 3), mode))
        });
    }
}

#[test]
fn relu_in_the_buffer_of_its_input_while_recording() {
    // the product is held by no one else, so `unary_owned` turns it into the ReLU's output
    // in place; its gradient comes from the output's sign
    let (a, b) = (rand(&[3, 5], 41), rand(&[3, 5], 42));
    grad_check("relu in place", &[a.clone(), b.clone()], |x| {
        weighted_sum(&x[0].mul(&x[1]).unary_owned(UnaryOp::Relu))
    });
    let want = a.mul(&b).relu();
    assert_eq!(a.mul(&b).unary_owned(UnaryOp::Relu).data(), want.data());
    // ops whose gradient reads their own output keep it: tanh, division, softmax
    grad_check("relu after tanh", &[a.clone()], |x| {
        weighted_sum(&x[0].tanh().unary_owned(UnaryOp::Relu))
    });
    grad_check("relu after division", &[a.clone(), b.clone()], |x| {
        let d = x[1].square().add_scalar(1.0);
        weighted_sum(&x[0].div(&d).unary_owned(UnaryOp::Relu))
    });
    grad_check("relu after softmax", &[a], |x| {
        weighted_sum(&x[0].softmax().unary_owned(UnaryOp::Relu))
    });
}

#[test]
fn layer_norm_and_rms_norm_over_the_last_axis() {
    let (x, g, b) = (rand(&[2, 3, 5], 51), rand(&[5], 52), rand(&[5], 53));
    grad_check("layer_norm", &[x.clone(), g.clone(), b], |t| {
        weighted_sum(&t[0].layer_norm(&t[1], &t[2], 1e-5))
    });
    grad_check("rms_norm", &[x, g], |t| {
        weighted_sum(&t[0].rms_norm(&t[1], 1e-5))
    });
}

#[test]
fn embedding_rows_and_padding() {
    let table = rand(&[6, 4], 54);
    // index 2 twice: its gradient adds up; index 0 is padding: its row, no gradient
    let idx = [2, 0, 5, 2, 1, 0];
    // (the padding row's gradient is held at zero on purpose, so the check runs without)
    grad_check("embedding", &[table.clone()], |t| {
        weighted_sum(&t[0].embedding(&idx, &[2, 3], None))
    });
    let y = table.embedding(&idx, &[2, 3], Some(0));
    assert_eq!(y.shape(), [2, 3, 4]);
    assert_eq!(&y.data()[..4], &table.data()[8..12]);
    assert_eq!(&y.data()[4..8], &table.data()[..4]);
    let t = table.requires_grad(true);
    let gr = t.embedding(&idx, &[6], Some(0)).sum().backward();
    let dt = gr.get(&t).unwrap();
    assert_eq!(&dt[..4], &[0.0; 4], "padding row gets no gradient");
    assert_eq!(&dt[8..12], &[2.0; 4], "index 2 used twice");
}

#[test]
fn recurrent_cells_over_several_steps_both_directions() {
    use nabla_core::{RnnCell, RnnParams};
    let (b, t, i, h) = (2, 4, 3, 2);
    for cell in [
        RnnCell::Lstm,
        RnnCell::Gru,
        RnnCell::RnnTanh,
        RnnCell::RnnRelu,
    ] {
        let gh = cell.gates() * h;
        let lstm = cell == RnnCell::Lstm;
        for reverse in [false, true] {
            let mut inputs = vec![
                rand(&[b, t, i], 40),
                rand(&[gh, i], 41).scale(0.6),
                rand(&[gh, h], 42).scale(0.6),
                rand(&[gh], 43).scale(0.3),
                rand(&[gh], 44).scale(0.3),
                rand(&[b, h], 45),
            ];
            if lstm {
                inputs.push(rand(&[b, h], 46));
            }
            let name = format!("{cell:?} reverse={reverse}");
            grad_check(&name, &inputs, |x| {
                let p = RnnParams {
                    w_ih: &x[1],
                    w_hh: &x[2],
                    b_ih: Some(&x[3]),
                    b_hh: Some(&x[4]),
                };
                let y = x[0].recurrent(cell, p, Some(&x[5]), x.get(6), reverse);
                weighted_sum(&y)
            });
        }
    }
}

#[test]
fn stacked_recurrent_layers_without_biases_or_states() {
    use nabla_core::{RnnCell, RnnParams};
    let (b, t, i, h) = (2, 3, 2, 3);
    for cell in [RnnCell::Lstm, RnnCell::Gru] {
        let gh = cell.gates() * h;
        let s = cell.states() * h;
        let inputs = [
            rand(&[b, t, i], 50),
            rand(&[gh, i], 51).scale(0.5),
            rand(&[gh, h], 52).scale(0.5),
            rand(&[gh, h], 53).scale(0.5),
            rand(&[gh, h], 54).scale(0.5),
        ];
        grad_check(&format!("stacked {cell:?}"), &inputs, |x| {
            let p1 = RnnParams {
                w_ih: &x[1],
                w_hh: &x[2],
                b_ih: None,
                b_hh: None,
            };
            let y1 = x[0].recurrent(cell, p1, None, None, false);
            let h1 = y1.narrow(2, 0, h);
            let p2 = RnnParams {
                w_ih: &x[3],
                w_hh: &x[4],
                b_ih: None,
                b_hh: None,
            };
            let y2 = h1.recurrent(cell, p2, None, None, true);
            assert_eq!(y2.shape(), [b, t, s]);
            weighted_sum(&y2)
        });
    }
}

#[test]
fn concat_along_each_axis() {
    let (a, b) = (rand(&[2, 3, 2], 60), rand(&[2, 1, 2], 61));
    grad_check("concat axis 1", &[a.clone(), b.clone()], |x| {
        weighted_sum(&Tensor::concat(&[&x[0], &x[1], &x[0]], 1))
    });
    let c = rand(&[2, 3, 4], 62);
    grad_check("concat last axis", &[a.clone(), c], |x| {
        weighted_sum(&Tensor::concat(&[&x[0], &x[1]], 2))
    });
    let y = Tensor::concat(&[&a, &rand(&[1, 3, 2], 63)], 0);
    assert_eq!(y.shape(), [3, 3, 2]);
    assert_eq!(&y.data()[..12], a.data());
}

#[test]
fn fused_attention_with_and_without_causal_mask_and_cached_keys() {
    let (b, t, heads, dk) = (2, 4, 2, 3);
    let w = heads * dk;
    for causal in [false, true] {
        let inputs = [
            rand(&[b, t, w], 70),
            rand(&[b, t, w], 71),
            rand(&[b, t, w], 72),
        ];
        grad_check(&format!("attention causal={causal}"), &inputs, |x| {
            weighted_sum(&Tensor::attention(&x[0], &x[1], &x[2], heads, causal))
        });
    }
    // two queries against five keys (three cached): query i sees keys up to i + 3
    let inputs = [
        rand(&[b, 2, w], 73),
        rand(&[b, 5, w], 74),
        rand(&[b, 5, w], 75),
    ];
    grad_check("attention over cached keys", &inputs, |x| {
        weighted_sum(&Tensor::attention(&x[0], &x[1], &x[2], heads, true))
    });
    // 32 queries or more: the causal kernel works in blocks of 16 rows, each skipping the
    // keys its rows cannot see (odd length: a last block of one row; and with cached keys)
    for (t, s) in [(33, 33), (32, 35)] {
        let inputs = [
            rand(&[1, t, 2], 76),
            rand(&[1, s, 2], 77),
            rand(&[1, s, 2], 78),
        ];
        grad_check(
            &format!("causal attention over {t} queries, {s} keys"),
            &inputs,
            |x| weighted_sum(&Tensor::attention(&x[0], &x[1], &x[2], 1, true)),
        );
    }
}

#[test]
fn fused_attention_equals_the_composed_ops() {
    for t in [5, 37] {
        fused_attention_equals_the_composed_ops_over(t);
    }
}

fn fused_attention_equals_the_composed_ops_over(t: usize) {
    let (b, heads, dk) = (2, 2, 4);
    let w = heads * dk;
    let (q, k, v) = (
        rand(&[b, t, w], 80),
        rand(&[b, t, w], 81),
        rand(&[b, t, w], 82),
    );
    let split = |x: &Tensor| x.reshape(&[b, t, heads, dk]).permute(&[0, 2, 1, 3]);
    let mask: Vec<f32> = (0..t * t)
        .map(|i| if i % t > i / t { -1e9 } else { 0.0 })
        .collect();
    let scores = split(&q)
        .matmul(&split(&k).permute(&[0, 1, 3, 2]))
        .scale(1.0 / (dk as f32).sqrt())
        .add(&Tensor::from_vec(mask, &[t, t]));
    let composed = scores
        .softmax()
        .matmul(&split(&v))
        .permute(&[0, 2, 1, 3])
        .reshape(&[b, t, w]);
    let fused = Tensor::attention(&q, &k, &v, heads, true);
    nabla_core::testing::assert_close(
        fused.data(),
        composed.data(),
        1e-5,
        1e-4,
        "causal attention",
    );
}

#[test]
fn fused_attention_with_a_key_padding_mask() {
    let (b, t, heads, dk) = (2, 4, 2, 2);
    let w = heads * dk;
    // row 0: keys 0 and 3 padded (causal query 0 sees no real key: zeros); row 1: key 1 padded
    let keep = [0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
    for causal in [false, true] {
        let inputs = [
            rand(&[b, t, w], 90),
            rand(&[b, t, w], 91),
            rand(&[b, t, w], 92),
        ];
        grad_check(&format!("masked attention causal={causal}"), &inputs, |x| {
            weighted_sum(&Tensor::attention_masked(
                &x[0],
                &x[1],
                &x[2],
                heads,
                causal,
                Some(&keep),
            ))
        });
    }
    let (q, k, v) = (
        rand(&[b, t, w], 93),
        rand(&[b, t, w], 94),
        rand(&[b, t, w], 95),
    );
    let y = Tensor::attention_masked(&q, &k, &v, heads, true, Some(&keep));
    assert!(
        y.data()[..w].iter().all(|&x| x == 0.0),
        "no real key: zero output"
    );
    // padded keys change nothing: same output as dropping them (row 1, query 3, non-causal)
    let full = Tensor::attention_masked(&q, &k, &v, heads, false, Some(&keep));
    let v2 = Tensor::from_vec(
        v.data()
            .iter()
            .enumerate()
            .map(|(i, &x)| if i / w == 5 { x + 100.0 } else { x })
            .collect(),
        v.shape(),
    );
    let moved = Tensor::attention_masked(&q, &k, &v2, heads, false, Some(&keep));
    nabla_core::testing::assert_close(moved.data(), full.data(), 1e-6, 0.0, "padded value ignored");
    // nor does a padded key whose score dwarfs the real ones (the maximum is over real keys)
    let loud = Tensor::from_vec(
        k.data()
            .iter()
            .enumerate()
            .map(|(i, &x)| if i / w == 5 { x * 1e4 } else { x })
            .collect(),
        k.shape(),
    );
    let y = Tensor::attention_masked(&q, &loud, &v, heads, false, Some(&keep));
    nabla_core::testing::assert_close(y.data(), full.data(), 1e-6, 0.0, "loud padded key ignored");
    // recorded for a backward (the weights kept) or not (one head's weights at a time): the
    // same values
    let [qg, kg, vg] = [&q, &k, &v].map(|t| t.clone().requires_grad(true));
    for causal in [false, true] {
        let kept = Tensor::attention_masked(&qg, &kg, &vg, heads, causal, Some(&keep));
        let seen = nabla_core::no_grad(|| {
            Tensor::attention_masked(&qg, &kg, &vg, heads, causal, Some(&keep))
        });
        assert!(kept.is_requires_grad() && !seen.is_requires_grad());
        assert_eq!(kept.data(), seen.data(), "causal={causal}");
    }
}

/// Dropout inside the fused attention: for one seed a fixed function whose gradient checks
/// out (with a key mask and causal rows too); over many seeds its mean is the undropped
/// output (inverted dropout is unbiased); the same seed gives the same output.
#[test]
fn attention_dropout_gradients_and_mean() {
    let (b, t, heads, dk) = (2, 5, 2, 3);
    let w = heads * dk;
    let keep = [1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0];
    for causal in [false, true] {
        let inputs = [
            rand(&[b, t, w], 96),
            rand(&[b, t, w], 97),
            rand(&[b, t, w], 98),
        ];
        grad_check(
            &format!("attention dropout causal={causal}"),
            &inputs,
            |x| {
                weighted_sum(&Tensor::attention_dropout(
                    &x[0],
                    &x[1],
                    &x[2],
                    (heads, causal),
                    Some(&keep),
                    Some((0.3, 7)),
                ))
            },
        );
    }
    let (q, k, v) = (
        rand(&[b, t, w], 93),
        rand(&[b, t, w], 94),
        rand(&[b, t, w], 95),
    );
    let plain = Tensor::attention_masked(&q, &k, &v, heads, false, None);
    let run =
        |seed| Tensor::attention_dropout(&q, &k, &v, (heads, false), None, Some((0.25, seed)));
    assert_eq!(run(3).to_vec(), run(3).to_vec(), "same seed, same masks");
    assert_ne!(run(3).to_vec(), run(4).to_vec());
    let n = 4000;
    let mut mean = vec![0.0f64; plain.numel()];
    for seed in 0..n {
        for (m, y) in mean.iter_mut().zip(run(seed).data()) {
            *m += *y as f64 / n as f64;
        }
    }
    for (m, p) in mean.iter().zip(plain.data()) {
        assert!(
            (m - *p as f64).abs() < 0.05 * (1.0 + p.abs() as f64),
            "mean {m} vs {p}"
        );
    }
}

#[test]
fn recurrent_inference_path_equals_the_training_path() {
    use nabla_core::{no_grad, RnnCell, RnnParams};
    // 70 rows: the inference path cuts them into blocks of at most 64
    let (b, t, i, h) = (70, 5, 3, 4);
    for cell in [RnnCell::Lstm, RnnCell::Gru, RnnCell::RnnTanh] {
        let gh = cell.gates() * h;
        let x = rand(&[b, t, i], 100);
        let (wi, wh) = (
            rand(&[gh, i], 101).scale(0.5),
            rand(&[gh, h], 102).scale(0.5),
        );
        let (bi, bh, h0) = (rand(&[gh], 103), rand(&[gh], 104), rand(&[b, h], 105));
        for reverse in [false, true] {
            let run = || {
                let p = RnnParams {
                    w_ih: &wi,
                    w_hh: &wh,
                    b_ih: Some(&bi),
                    b_hh: Some(&bh),
                };
                x.recurrent(cell, p, Some(&h0), None, reverse)
            };
            let wi = wi.clone().requires_grad(true);
            let train = {
                let p = RnnParams {
                    w_ih: &wi,
                    w_hh: &wh,
                    b_ih: Some(&bi),
                    b_hh: Some(&bh),
                };
                x.recurrent(cell, p, Some(&h0), None, reverse)
            };
            let infer = no_grad(run);
            nabla_core::testing::assert_close(
                infer.data(),
                train.data(),
                1e-6,
                1e-5,
                &format!("{cell:?} reverse={reverse}"),
            );
        }
    }
}

#[test]
fn fused_conv_relu_max_pool_equals_the_three_ops() {
    use nabla_core::testing::assert_close;
    // odd map sizes, 2x2/2 (the fast path), 3x3/2 and overlapping 2x2/1 windows, groups
    let cases = [
        ((2, 2), (2, 2), 1, 9),
        ((3, 3), (2, 2), 2, 8),
        ((2, 2), (1, 1), 1, 7),
    ];
    for (k, s, groups, size) in cases {
        let x = rand(&[3, 2, size, size], 110);
        let w = rand(&[4, 2 / groups, 3, 3], 111).scale(0.5);
        let b = rand(&[4], 112).scale(0.3);
        let cw = win((1, 1), (0, 0, 0, 0), (1, 1), groups);
        let pw = win(s, (0, 0, 0, 0), (1, 1), 1);
        let (fused, d_fused) = {
            let xs = [x.clone(), w.clone(), b.clone()].map(|t| t.requires_grad(true));
            let y = xs[0].conv2d_relu_max_pool(&xs[1], Some(&xs[2]), cw, k, s);
            let g = weighted_sum(&y).backward();
            let d: Vec<Vec<f32>> = xs.iter().map(|t| g.get(t).unwrap().to_vec()).collect();
            (y, d)
        };
        let (plain, d_plain) = {
            let xs = [x.clone(), w.clone(), b.clone()].map(|t| t.requires_grad(true));
            let y = xs[0]
                .conv2d(&xs[1], Some(&xs[2]), cw)
                .relu()
                .max_pool2d(k, pw);
            let g = weighted_sum(&y).backward();
            let d: Vec<Vec<f32>> = xs.iter().map(|t| g.get(t).unwrap().to_vec()).collect();
            (y, d)
        };
        let what = format!("k {k:?} s {s:?}");
        assert_eq!(fused.shape(), plain.shape(), "{what}");
        assert_eq!(fused.data(), plain.data(), "{what}: values");
        for (a, b) in d_fused.iter().zip(&d_plain) {
            assert_close(a, b, 1e-5, 1e-5, &format!("{what}: gradients"));
        }
        // finite differences too (overlapping windows put near-ties within ε: their gradients
        // are checked through the equality with the separately checked ops above)
        if s == k {
            grad_check(&format!("conv relu pool {what}"), &[x, w, b], |t| {
                weighted_sum(&t[0].conv2d_relu_max_pool(&t[1], Some(&t[2]), cw, k, s))
            });
        }
    }
}
