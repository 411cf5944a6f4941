//! An image-folder dataset (Keras's `image_dataset_from_directory`, torchvision's
//! `ImageFolder`): one sub-folder per class, its name the class; classes are numbered in
//! the sorted order of the folder names and every `.png`, `.jpg` and `.jpeg` file inside
//! is one sample, read as [`read_image`](crate::image_file::read_image) reads it.
//!
//! ```text
//! digits/0/a.png  digits/0/b.png  digits/1/c.jpg ...   ->   labels 0, 0, 1, ...
//! ```

use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::image_file::read_image;
use std::path::{Path, PathBuf};

/// The samples of `dir` as `shape` images with class-index labels, and the class names.
pub fn read_image_folder(dir: &Path, shape: &[usize]) -> Result<(Dataset, Vec<String>)> {
    let err = |msg: String| Error::File {
        path: dir.display().to_string(),
        msg,
    };
    let list = |d: &Path| -> Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| err(format!("cannot list {}: {e}", d.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    let classes: Vec<PathBuf> = list(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    if classes.is_empty() {
        return Err(err(
            "expected one sub-folder per class (e.g. 0/, 1/), found none".into(),
        ));
    }
    let is_image = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
    };
    let (mut x, mut y, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (label, class) in classes.iter().enumerate() {
        names.push(
            class
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
        for file in list(class)?.into_iter().filter(|p| is_image(p)) {
            x.extend(read_image(&file, shape, false)?);
            y.push(label as f32);
        }
    }
    if y.is_empty() {
        return Err(err(format!(
            "expected .png/.jpg images in the class folders {names:?}, found none"
        )));
    }
    Ok((Dataset::new(x, shape, y, &[])?, names))
}
