//! IDX files (raw or gzip) as images and as labels of a dataset: data or an error, never a
//! panic, and never an allocation past what the header may announce.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nabla::data::idx::parse_idx;

fuzz_target!(|data: &[u8]| {
    let Ok(a) = parse_idx(data) else { return };
    let images = parse_idx(&[0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4]).unwrap();
    let labels = parse_idx(&[0, 0, 8, 1, 0, 0, 0, 1, 7]).unwrap();
    let _ = nabla::data::mnist::from_idx(&a, &labels);
    let _ = nabla::data::mnist::from_idx(&images, &a);
});
