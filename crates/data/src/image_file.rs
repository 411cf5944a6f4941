//! Reading PNG and JPEG images (the `image` crate) as model inputs.
//!
//! An image becomes `[channels, height, width]` floats in `[0, 1]` (8-bit values / 255;
//! 16-bit / 65535): converted to gray (1 channel, ITU-R BT.601 luma) or RGB (3 channels) as
//! asked, and resized to the asked height and width with a bilinear (triangle) filter when
//! its size differs. Nothing is inverted: MNIST digits are white on black, so a digit
//! drawn dark on light must be inverted (`invert`) to look like them.

use crate::error::{Error, Result};
use image::imageops::FilterType;
use std::path::Path;

/// The most values an image input may have (2^28 floats, 1 GiB): a model file's input shape
/// decides the size an image is resized to, and must not ask for billions of pixels.
pub const MAX_IMAGE_VALUES: usize = 1 << 28;

/// Reads the image at `path` as `shape = [channels, height, width]` (channels 1 or 3), or
/// `[height, width]` for one gray channel; `invert` maps each value `v` to `1 - v`.
pub fn read_image(path: &Path, shape: &[usize], invert: bool) -> Result<Vec<f32>> {
    let (c, h, w) = match *shape {
        [h, w] => (1, h, w),
        [c @ (1 | 3), h, w] => (c, h, w),
        _ => {
            return Err(Error::File {
                path: path.display().to_string(),
                msg: format!(
                    "an image can feed a model taking [height, width], [1, height, width] or [3, height, width], not {shape:?}"
                ),
            })
        }
    };
    let err = |msg: String| Error::File {
        path: path.display().to_string(),
        msg,
    };
    let values = [c, h, w].iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if values.is_none_or(|v| v > MAX_IMAGE_VALUES) || h == 0 || w == 0 {
        return Err(err(format!(
            "an image input of shape {shape:?}: expected 1 to {MAX_IMAGE_VALUES} values (2^28), received {}",
            values.map_or("more than 2^64".to_string(), |v| v.to_string())
        )));
    }
    let img =
        image::open(path).map_err(|e| err(format!("not a readable PNG or JPEG image: {e}")))?;
    let img = if (img.width() as usize, img.height() as usize) != (w, h) {
        img.resize_exact(w as u32, h as u32, FilterType::Triangle)
    } else {
        img
    };
    let values: Vec<f32> = if c == 1 {
        img.to_luma32f().into_raw()
    } else {
        // [h, w, 3] interleaved -> [3, h, w] planes
        let rgb = img.to_rgb32f().into_raw();
        (0..3)
            .flat_map(|ch| rgb.iter().skip(ch).step_by(3).copied().collect::<Vec<_>>())
            .collect()
    };
    Ok(values
        .into_iter()
        .map(|v| if invert { 1.0 - v } else { v })
        .collect())
}

/// Writes a gray image `[height, width]` of values in `[0, 1]` (clamped) as an 8-bit PNG,
/// atomically (a temporary file renamed into place).
pub fn write_gray_png(path: &Path, pixels: &[f32], height: usize, width: usize) -> Result<()> {
    let err = |msg: String| Error::File {
        path: path.display().to_string(),
        msg,
    };
    if pixels.len() != height * width {
        return Err(err(format!(
            "expected {height}x{width} = {} pixels, received {}",
            height * width,
            pixels.len()
        )));
    }
    let bytes: Vec<u8> = pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let img = image::GrayImage::from_raw(width as u32, height as u32, bytes)
        .ok_or_else(|| err("image buffer of the wrong size".into()))?;
    let tmp = path.with_extension("png.tmp");
    img.save_with_format(&tmp, image::ImageFormat::Png)
        .map_err(|e| err(format!("cannot write the PNG: {e}")))?;
    std::fs::rename(&tmp, path).map_err(|e| err(format!("cannot move the PNG into place: {e}")))
}
