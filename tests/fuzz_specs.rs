//! A mutation fuzzer over the spec reader and the model builder (issue 25): the project's
//! specs with digits changed, characters dropped or repeated and lines duplicated; reading and
//! building the model (and a forward pass on a zero batch) must give a model or an error,
//! never panic, and never allocate past the budget (held to 2^22 values here, so a mutated
//! `units = 12800000` is refused, not allocated). CI runs 1,000 cases;
//! `NABLA_FUZZ_CASES=100000 cargo test --release --test fuzz_specs` runs a long campaign.

mod common;

use common::Gen;
use nabla::prelude::*;

/// The specs that build without files (a pretrained folder, text data).
fn seeds() -> Vec<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/specs");
    let mut v = Vec::new();
    for name in [
        "mnist_mlp.toml",
        "mnist_cnn.toml",
        "mnist_cnn_bn.toml",
        "mnist_lstm.toml",
        "mnist_resnet.toml",
        "lenet5.toml",
        "iris_two_towers.toml",
        "mnist_mlp_prune.toml",
        "mnist_cnn_prune_channels.toml",
        "shakespeare_gpt.toml",
    ] {
        v.push(std::fs::read_to_string(format!("{root}/{name}")).unwrap());
    }
    v
}

fn mutate(g: &mut Gen, seed: &str) -> String {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..1 + g.below(3) {
        let at = g.below(b.len());
        match g.below(5) {
            // numbers are where sizes live
            0 | 1 => {
                if let Some(p) = (at..b.len()).find(|&i| b[i].is_ascii_digit()) {
                    b[p] = b"0123456789"[g.below(10)];
                    if g.below(3) == 0 {
                        b.insert(p, b"0123456789"[g.below(10)]);
                    }
                }
            }
            2 => {
                b.remove(at);
            }
            3 => b.insert(at, b[at]),
            _ => {
                let start = b[..at]
                    .iter()
                    .rposition(|&c| c == b'\n')
                    .map_or(0, |i| i + 1);
                let end = b[at..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |i| at + i + 1);
                let line = b[start..end].to_vec();
                b.splice(start..start, line);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// Reads, builds and runs a zero batch of 2 through the model.
fn try_spec(text: &str) -> Result<(), String> {
    let spec = Spec::from_toml(text).map_err(|e| e.to_string())?;
    let model = spec.build_model(1).map_err(|e| e.to_string())?;
    let xs: Vec<Tensor> = model
        .inputs()
        .iter()
        .map(|i| {
            let shape: Vec<usize> = std::iter::once(2).chain(i.shape.iter().copied()).collect();
            Tensor::zeros(&shape)
        })
        .collect();
    let refs: Vec<&[f32]> = xs.iter().map(|x| x.data()).collect();
    model.check_inputs(&refs).map_err(|e| e.to_string())?;
    model.forward_eval_multi(&xs);
    Ok(())
}

#[test]
fn the_spec_reader_and_builder_never_panic_on_mutated_specs() {
    // SAFETY: this test binary runs this one test; nothing reads the environment meanwhile.
    unsafe { std::env::set_var("NABLA_MAX_VALUES", (1u64 << 22).to_string()) };
    let cases: usize = std::env::var("NABLA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let seeds = seeds();
    for s in &seeds {
        try_spec(s).expect("every seed is a valid spec");
    }
    let bytes: Vec<Vec<u8>> = seeds.iter().map(|s| s.as_bytes().to_vec()).collect();
    common::write_seeds("spec", &bytes);
    let mut g = Gen(0x2545_f491_4f6c_dd1d);
    let (mut ok, mut refused) = (0usize, 0usize);
    for case in 0..cases {
        let text = mutate(&mut g, &seeds[case % seeds.len()]);
        match std::panic::catch_unwind(|| try_spec(&text)) {
            Ok(Ok(())) => ok += 1,
            Ok(Err(_)) => refused += 1,
            Err(_) => {
                let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fuzz_case.toml");
                let _ = std::fs::write(path, &text);
                panic!("case {case} panicked (written to {path})");
            }
        }
    }
    eprintln!("{cases} cases: {ok} built, {refused} refused");
    assert!(
        refused > cases / 10 && ok > cases / 10,
        "{ok} built, {refused} refused"
    );
}
