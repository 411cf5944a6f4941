//! An image-folder dataset (Keras's `image_dataset_from_directory`, torchvision's
//! `ImageFolder`): one sub-folder per class, its name the class; classes are numbered in
//! the sorted order of the folder names and every `.png`, `.jpg` and `.jpeg` file inside
//! is one sample, read as [`read_image`](crate::image_file::read_image) reads it.
//!
//! ```text
//! digits/0/a.png  digits/0/b.png  digits/1/c.jpg ...   ->   labels 0, 0, 1, ...
//! ```

use crate::class_folders::{class_files, has_extension};
use crate::dataset::Dataset;
use crate::error::Result;
use crate::image_file::read_image;
use std::path::Path;

/// The samples of `dir` as `shape` images with class-index labels, and the class names.
pub fn read_image_folder(dir: &Path, shape: &[usize]) -> Result<(Dataset, Vec<String>)> {
    let images = |p: &Path| has_extension(p, &["png", "jpg", "jpeg"]);
    let (names, files) = class_files(dir, ".png/.jpg images", images)?;
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for (label, file) in files {
        x.extend(read_image(&file, shape, false)?);
        y.push(label as f32);
    }
    Ok((Dataset::new(x, shape, y, &[])?, names))
}
