//! Image files (PNG, JPEG) read and resized to a model's input, grey and RGB: pixels or an
//! error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use nabla::data::read_image;

fuzz_target!(|data: &[u8]| {
    let path = std::env::temp_dir().join(format!("nabla_fuzz_{}.png", std::process::id()));
    std::fs::write(&path, data).unwrap();
    let _ = read_image(&path, &[1, 7, 9], false);
    let _ = read_image(&path, &[3, 4, 5], true);
});
