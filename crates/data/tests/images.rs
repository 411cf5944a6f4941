//! Image files as model inputs: gray and RGB PNGs, JPEG, resizing, image folders.

use nabla_data::{read_image, read_image_folder};
use std::path::{Path, PathBuf};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(rel)
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn png_jpeg_rgb_and_resized_images_read_as_the_same_digit() {
    // the gray PNG holds the IDX bytes: values are byte / 255, white digit on black
    let gray = read_image(&fixture("digits/digit_3_idx8015.png"), &[1, 28, 28], false).unwrap();
    assert_eq!(gray.len(), 784);
    assert!(gray.iter().all(|&v| (0.0..=1.0).contains(&v)));
    assert!(gray.contains(&1.0) && gray[0] == 0.0);
    // [28, 28] models read the same values
    let flat = read_image(&fixture("digits/digit_3_idx8015.png"), &[28, 28], false).unwrap();
    assert_eq!(flat, gray);
    // the same digit as a 56x56 RGB PNG: gray, halved bilinearly, about the same image
    let rgb = read_image(
        &fixture("digits/rgb56_digit_3_idx8015.png"),
        &[1, 28, 28],
        false,
    )
    .unwrap();
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(
        (mean(&rgb) - mean(&gray)).abs() < 0.02,
        "{} vs {}",
        mean(&rgb),
        mean(&gray)
    );
    // as 3 channels: three equal planes
    let planes = read_image(&fixture("digits/digit_3_idx8015.png"), &[3, 28, 28], false).unwrap();
    assert_eq!(&planes[..784], &gray[..]);
    assert_eq!(&planes[784..1568], &gray[..]);
    // the JPEG of digit 7 is lossy: within 6/255 of its PNG (measured when it was made)
    let png = read_image(&fixture("digits/digit_7_idx8005.png"), &[1, 28, 28], false).unwrap();
    let jpg = read_image(&fixture("digits/digit_7_idx8005.jpg"), &[1, 28, 28], false).unwrap();
    assert!(
        max_diff(&png, &jpg) <= 6.5 / 255.0,
        "{}",
        max_diff(&png, &jpg)
    );
    // inverted
    let inv = read_image(&fixture("digits/digit_7_idx8005.png"), &[1, 28, 28], true).unwrap();
    assert!(inv
        .iter()
        .zip(&png)
        .all(|(a, b)| (a + b - 1.0).abs() < 1e-6));
}

#[test]
fn bad_image_files_and_shapes_name_the_file() {
    let e = read_image(&fixture("digits/README.md"), &[1, 28, 28], false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("README.md") && e.contains("PNG or JPEG"), "{e}");
    let e = read_image(&fixture("digits/digit_3_idx8015.png"), &[2, 28, 28], false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("[2, 28, 28]"), "{e}");
    let e = read_image(&fixture("digits/missing.png"), &[28, 28], false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.png"), "{e}");
    // a model file's input shape decides the size to resize to: billions of pixels (which
    // hung, resizing) or a size past u32 are refused before the image is read
    let digit = fixture("digits/digit_3_idx8015.png");
    for shape in [
        [1, 100_000, 100_000],
        [3, 1 << 33, 1],
        [1, 0, 28],
        [1, usize::MAX, 2],
    ] {
        let e = read_image(&digit, &shape, false).unwrap_err().to_string();
        assert!(
            e.contains("image input of shape") && e.contains("2^28"),
            "{shape:?}: {e}"
        );
    }
}

#[test]
fn image_folder_labels_follow_the_sorted_class_folders() {
    let (data, classes) = read_image_folder(&fixture("image_folder"), &[1, 28, 28]).unwrap();
    assert_eq!(classes, ["0", "1", "2"]);
    assert_eq!(data.len(), 12);
    assert_eq!(data.x_shape(), [1, 28, 28]);
    assert_eq!(data.y(), [0., 0., 0., 0., 1., 1., 1., 1., 2., 2., 2., 2.]);
    let e = read_image_folder(&fixture("digits"), &[1, 28, 28])
        .unwrap_err()
        .to_string();
    assert!(e.contains("sub-folder per class"), "{e}");
}
