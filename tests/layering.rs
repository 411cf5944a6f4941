//! The dependency seams hold: outside nabla-core, nothing reaches the CPU kernels
//! (`cpu::`) directly, only tensor ops and `nabla_core::backend` (the one seam a GPU backend
//! needs); nn and data never use each other; the Hugging Face crate (tokenizers) sits beside
//! data: it builds on core and nn only, and only train and above use it; the search crate
//! (tune) sits on train, and only the command and the umbrella crate use it; the HTTP stack
//! (axum, tokio) stays in nabla-serve, which only the command uses.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn offenders(dirs: &[&str], needle: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in dirs {
        rust_files(&root.join(d), &mut files);
    }
    files
        .into_iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(needle))
        .map(|f| f.display().to_string())
        .collect()
}

#[test]
fn only_core_reaches_the_cpu_kernels() {
    let outside = [
        "crates/nn/src",
        "crates/data/src",
        "crates/train/src",
        "crates/cli/src",
        "crates/hub/src",
        "src",
        "examples",
    ];
    assert_eq!(offenders(&outside, "core::cpu"), Vec::<String>::new());
}

#[test]
fn nn_and_data_do_not_use_each_other() {
    assert_eq!(
        offenders(&["crates/nn/src"], "nabla_data"),
        Vec::<String>::new()
    );
    assert_eq!(
        offenders(&["crates/data/src"], "nabla_nn"),
        Vec::<String>::new()
    );
}

#[test]
fn the_hub_crate_sits_beside_data_on_core_and_nn() {
    let below = ["crates/core/src", "crates/nn/src", "crates/data/src"];
    assert_eq!(offenders(&below, "nabla_hub"), Vec::<String>::new());
    assert_eq!(offenders(&below, "tokenizers"), Vec::<String>::new());
    for other in ["nabla_train", "nabla_data", "nabla::"] {
        assert_eq!(offenders(&["crates/hub/src"], other), Vec::<String>::new());
    }
}

/// The library crates below the search crate.
const BELOW_TUNE: [&str; 6] = [
    "crates/core/src",
    "crates/nn/src",
    "crates/data/src",
    "crates/train/src",
    "crates/hub/src",
    "crates/dist/src",
];

#[test]
fn the_tune_crate_sits_above_train() {
    assert_eq!(offenders(&BELOW_TUNE, "nabla_tune"), Vec::<String>::new());
}

#[test]
fn the_http_stack_stays_in_the_serve_crate_and_the_command() {
    let below = [&BELOW_TUNE[..], &["crates/tune/src", "src"]].concat();
    assert_eq!(offenders(&below, "nabla_serve"), Vec::<String>::new());
    assert_eq!(offenders(&below, "axum"), Vec::<String>::new());
}
