//! Every instruction-set path (`NABLA_CPU=avx512|avx2|generic`, here through `Isa::cap`)
//! gives the widest path's results up to rounding: the GEMMs (each path has its own
//! micro-kernels), the fused LSTM steps (AVX-512 and AVX2 kernels, the GEMM path on
//! generic) forward and backward, convolutions, attention, layer norm and the element-wise
//! loops. One test in its own binary, since the path is process-wide.

use nabla_core::cpu::simd::Isa;
use nabla_core::{Rng, RnnCell, RnnParams, Tensor, Window2d};

fn rand(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n = shape.iter().product();
    Tensor::from_vec((0..n).map(|_| rng.normal() * 0.5).collect(), shape)
}

/// A fixed weighting, so the scalar depends on every element differently.
fn weighted_sum(t: &Tensor) -> Tensor {
    let w: Vec<f32> = (0..t.numel())
        .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
        .collect();
    t.mul(&Tensor::from_vec(w, t.shape())).sum()
}

/// Outputs, then the gradients of every input, of the ops under test, on the path in use.
fn run_all() -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    let mut record = |name: String, inputs: &[Tensor], f: &dyn Fn(&[Tensor]) -> Tensor| {
        let leaves: Vec<Tensor> = inputs
            .iter()
            .map(|t| Tensor::param(t.data().to_vec(), t.shape()))
            .collect();
        let y = f(&leaves);
        out.push((format!("{name}: output"), y.data().to_vec()));
        let grads = weighted_sum(&y).backward();
        for (k, leaf) in leaves.iter().enumerate() {
            let g = grads.get(leaf).expect("every input gets a gradient");
            out.push((format!("{name}: gradient of input {k}"), g.to_vec()));
        }
    };
    // products: odd sizes (partial micro-kernel tiles), large enough to run on two threads
    for (m, k, n) in [(3, 5, 7), (37, 29, 41), (130, 300, 70)] {
        let (a, b) = (rand(&[m, k], 1), rand(&[k, n], 2));
        record(format!("matmul {m}x{k}x{n}"), &[a, b], &|x| {
            x[0].matmul(&x[1])
        });
    }
    // LSTM: partial unit blocks (H = 20: 16 + 4 lanes, 8 + 8 + 4), row tiles of every size
    // and I + H = 170: the sums in several runs of k
    for (b, i) in [(1, 5), (2, 5), (4, 5), (7, 5), (13, 5), (7, 150)] {
        for reverse in [false, true] {
            let (t, h) = (3, 20);
            let inputs = [
                rand(&[b, t, i], 3),
                rand(&[4 * h, i], 4),
                rand(&[4 * h, h], 5),
                rand(&[4 * h], 6),
                rand(&[4 * h], 7),
                rand(&[b, h], 8),
                rand(&[b, h], 9),
            ];
            record(format!("lstm B={b} reverse={reverse}"), &inputs, &|x| {
                let p = RnnParams {
                    w_ih: &x[1],
                    w_hh: &x[2],
                    b_ih: Some(&x[3]),
                    b_hh: Some(&x[4]),
                };
                x[0].recurrent(RnnCell::Lstm, p, Some(&x[5]), Some(&x[6]), reverse)
            });
        }
    }
    let win = Window2d {
        stride: (1, 1),
        pad: (1, 1, 1, 1),
        dilation: (1, 1),
        groups: 1,
    };
    let conv = [
        rand(&[2, 3, 9, 9], 10),
        rand(&[5, 3, 3, 3], 11),
        rand(&[5], 12),
    ];
    record("conv2d".into(), &conv, &|x| {
        x[0].conv2d_relu(&x[1], Some(&x[2]), win).max_pool2d(
            (2, 2),
            Window2d {
                stride: (2, 2),
                pad: (0, 0, 0, 0),
                ..win
            },
        )
    });
    let qkv = [
        rand(&[2, 6, 16], 13),
        rand(&[2, 6, 16], 14),
        rand(&[2, 6, 16], 15),
    ];
    record("attention".into(), &qkv, &|x| {
        Tensor::attention(&x[0], &x[1], &x[2], 4, true)
    });
    let ln = [rand(&[5, 33], 16), rand(&[33], 17), rand(&[33], 18)];
    record("layer norm, gelu, softmax".into(), &ln, &|x| {
        x[0].layer_norm(&x[1], &x[2], 1e-5).gelu().softmax()
    });
    out
}

#[test]
fn every_cpu_path_gives_the_widest_paths_results() {
    let widest = Isa::detected();
    Isa::cap(widest);
    let reference = run_all();
    for isa in [Isa::Avx512, Isa::Avx2, Isa::Generic] {
        if isa >= widest {
            continue;
        }
        assert_eq!(Isa::cap(isa), isa);
        assert_eq!(Isa::get(), isa);
        let got = run_all();
        for ((name, r), (_, g)) in reference.iter().zip(&got) {
            assert_eq!(r.len(), g.len(), "{name} on {isa:?}");
            let scale = r.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            let worst = r
                .iter()
                .zip(g)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst <= 2e-5 * scale,
                "{name} on {isa:?}: differs from {widest:?} by {worst} (largest value {scale})"
            );
        }
    }
    // an unknown name is refused by the parser (NABLA_CPU then keeps the widest path)
    assert_eq!(Isa::parse("AVX2"), Some(Isa::Avx2));
    assert_eq!(Isa::parse("sse9"), None);
}
