//! A text corpus (`[data] text`): tokenised, cut into windows and decoded back, or an
//! error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nabla::train::spec::TextSpec;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("nabla_fuzz_{}.txt", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let spec = TextSpec {
        corpus: None,
        path: Some(path),
        context: 8,
        stride: Some(4),
        test_split: 0.1,
    };
    if let Ok((train, _, tok)) = spec.ids() {
        let _ = nabla::data::windows(&train, 8, 4);
        let _ = tok.decode(&train);
    }
});
