//! The CSV reader on any bytes: numbers with a text label (first byte even) or a text column
//! with a numeric label (odd), as `[data] csv` reads them: data or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nabla::data::CsvSpec;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let path = std::env::temp_dir().join(format!("nabla_fuzz_{}.csv", std::process::id()));
    std::fs::write(&path, body).unwrap();
    let mut spec = match mode % 2 {
        0 => serde_json::json!({"label": "species", "test_split": 0.25}),
        _ => serde_json::json!({"label": "stars", "text": "review"}),
    };
    spec["path"] = path.display().to_string().into();
    let spec: CsvSpec = serde_json::from_value(spec).unwrap();
    let _ = spec.read();
});
