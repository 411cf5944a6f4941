//! A mutation fuzzer over the data readers (issue 25): valid CSV files (numbers with a text
//! label, a text column), IDX images and labels (raw and gzip), PNG images and UTF-8 text, with bits
//! flipped, bytes overwritten, digits changed, cuts and repeats; each reader must return
//! data or an error, never panic. CI runs 2,000 cases; `NABLA_FUZZ_CASES=100000 cargo test
//! --release --test fuzz_data_files` runs a long campaign (a case that panics is written to
//! `target/fuzz_case.bin`, its reader named in the failure).

mod common;

use common::Gen;
use nabla::data::idx::parse_idx;
use nabla::data::{read_image, CsvSpec};
use nabla::train::spec::TextSpec;
use std::path::Path;

/// A reader: its name, its valid seeds, and what it does with one file's bytes.
struct Reader {
    name: &'static str,
    seeds: Vec<Vec<u8>>,
    read: fn(&[u8], &Path) -> bool,
}

fn csv(spec: serde_json::Value, bytes: &[u8], dir: &Path) -> bool {
    let path = dir.join("data.csv");
    std::fs::write(&path, bytes).unwrap();
    let mut spec = spec;
    spec["path"] = path.display().to_string().into();
    let spec: CsvSpec = serde_json::from_value(spec).unwrap();
    spec.read().is_ok()
}

fn idx_seed(magic: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, magic];
    b[3] = dims.len() as u8;
    for d in dims {
        b.extend(d.to_be_bytes());
    }
    b.extend(data);
    b
}

fn gz(raw: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

fn readers(dir: &Path) -> Vec<Reader> {
    let png = dir.join("seed.png");
    let pixels: Vec<f32> = (0..7 * 9).map(|i| (i % 11) as f32 / 10.0).collect();
    nabla::data::image_file::write_gray_png(&png, &pixels, 7, 9).unwrap();
    let text = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n\u{e9}t\u{e9} \u{1f600}\n";
    vec![
        Reader {
            name: "csv (numbers, text label)",
            seeds: vec![b"a,b,c,species\n1.5,2,-3e-2,setosa\n4,5.25,6,virginica\n0.5,1,7,setosa\n8,9,1e3,versicolor\n".to_vec()],
            read: |b, d| csv(serde_json::json!({"label": "species", "test_split": 0.25}), b, d),
        },
        Reader {
            name: "csv (text column)",
            seeds: vec![b"review,stars\n\"good, really\",5\nbad,1\n\"said \"\"meh\"\"\",3\n".to_vec()],
            read: |b, d| csv(serde_json::json!({"label": "stars", "text": "review"}), b, d),
        },
        Reader {
            name: "idx",
            seeds: vec![
                idx_seed(3, &[3, 4, 5], &(0..60).map(|i| (i * 7) as u8).collect::<Vec<_>>()),
                idx_seed(1, &[3], &[1, 7, 2]),
                gz(&idx_seed(3, &[2, 3, 3], &[5; 18])),
            ],
            read: |b, _| {
                let Ok(a) = parse_idx(b) else {
                    return false;
                };
                // as images, then as labels, of a dataset
                let images = parse_idx(&idx_seed(3, &[3, 2, 2], &[9; 12])).unwrap();
                let labels = parse_idx(&idx_seed(1, &[3], &[1, 7, 2])).unwrap();
                let _ = nabla::data::mnist::from_idx(&a, &labels);
                let _ = nabla::data::mnist::from_idx(&images, &a);
                true
            },
        },
        Reader {
            name: "png",
            seeds: vec![std::fs::read(&png).unwrap()],
            read: |b, d| {
                let path = d.join("image.png");
                std::fs::write(&path, b).unwrap();
                let gray = read_image(&path, &[1, 7, 9], false).is_ok();
                let rgb = read_image(&path, &[3, 4, 5], true).is_ok();
                gray && rgb
            },
        },
        Reader {
            name: "text",
            seeds: vec![text.as_bytes().to_vec()],
            read: |b, d| {
                let path = d.join("text.txt");
                std::fs::write(&path, b).unwrap();
                let spec = TextSpec {
                    corpus: None,
                    path: Some(path),
                    context: 8,
                    stride: Some(4),
                    test_split: 0.1,
                };
                let Ok((train, _, tok)) = spec.ids() else {
                    return false;
                };
                let ok = nabla::data::windows(&train, 8, 4).is_ok();
                ok && tok.decode(&train).is_ok()
            },
        },
    ]
}

#[test]
fn the_data_readers_never_panic_on_mutated_files() {
    let cases: usize = std::env::var("NABLA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let readers = readers(dir.path());
    for r in &readers {
        for s in &r.seeds {
            assert!((r.read)(s, dir.path()), "{}: every seed is valid", r.name);
        }
    }
    // the cargo-fuzz targets: csv takes a mode byte first (0: numbers, 1: text column)
    let csv: Vec<Vec<u8>> = readers[..2]
        .iter()
        .enumerate()
        .flat_map(|(mode, r)| r.seeds.iter().map(move |s| [&[mode as u8][..], s].concat()))
        .collect();
    common::write_seeds("csv", &csv);
    for (r, target) in readers[2..].iter().zip(["idx", "image", "text"]) {
        common::write_seeds(target, &r.seeds);
    }
    let mut g = Gen(0x2545_f491_4f6c_dd1d);
    let mut counts = vec![(0usize, 0usize); readers.len()];
    for case in 0..cases {
        let k = case % readers.len();
        let r = &readers[k];
        let seed = &r.seeds[g.below(r.seeds.len())];
        let bytes = common::mutate(&mut g, seed, 0..seed.len());
        let path = dir.path();
        match std::panic::catch_unwind(|| (r.read)(&bytes, path)) {
            Ok(true) => counts[k].0 += 1,
            Ok(false) => counts[k].1 += 1,
            Err(_) => {
                let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fuzz_case.bin");
                let _ = std::fs::write(out, &bytes);
                panic!(
                    "case {case}: the {} reader panicked (written to {out})",
                    r.name
                );
            }
        }
    }
    for (r, (ok, refused)) in readers.iter().zip(&counts) {
        eprintln!("{}: {ok} read, {refused} refused", r.name);
        assert!(*refused > 0, "{}: the mutations reach the checks", r.name);
    }
}
