//! A folder of classes (Keras's `*_dataset_from_directory`, torchvision's `ImageFolder`): one
//! sub-folder per class, its name the class; classes are numbered in the sorted order of the
//! folder names, and the files inside (those `keep` accepts), sorted, are its samples.
//!
//! ```text
//! reviews/neg/a.txt  reviews/neg/b.txt  reviews/pos/c.txt ...   ->   labels 0, 0, 1, ...
//! ```

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Sample files, each with its class index.
pub(crate) type Labelled = Vec<(usize, PathBuf)>;

/// The class names and every sample file with its class index.
pub(crate) fn class_files(
    dir: &Path,
    kind: &str,
    keep: impl Fn(&Path) -> bool,
) -> Result<(Vec<String>, Labelled)> {
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
    let (mut names, mut files) = (Vec::new(), Vec::new());
    for (label, class) in classes.iter().enumerate() {
        names.push(
            class
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
        );
        files.extend(
            list(class)?
                .into_iter()
                .filter(|p| keep(p))
                .map(|p| (label, p)),
        );
    }
    if files.is_empty() {
        return Err(err(format!(
            "expected {kind} in the class folders {names:?}, found none"
        )));
    }
    Ok((names, files))
}

/// Whether `p` ends in one of `exts` (any case).
pub(crate) fn has_extension(p: &Path, exts: &[&str]) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.contains(&e.to_ascii_lowercase().as_str()))
}

/// A text-classification folder: every `.txt` file one sample, read as UTF-8.
#[derive(Clone, Debug, PartialEq)]
pub struct TextFolder {
    /// The texts.
    pub texts: Vec<String>,
    /// Their class indices.
    pub labels: Vec<usize>,
    /// The class names (the sub-folders), by index.
    pub names: Vec<String>,
}

/// Reads `dir/<class>/*.txt`; a file that is not UTF-8 is an error naming it.
pub fn read_text_folder(dir: &Path) -> Result<TextFolder> {
    let (names, files) = class_files(dir, ".txt files", |p| has_extension(p, &["txt"]))?;
    let mut out = TextFolder {
        texts: Vec::with_capacity(files.len()),
        labels: Vec::with_capacity(files.len()),
        names,
    };
    for (label, f) in files {
        let text = std::fs::read_to_string(&f).map_err(|e| Error::File {
            path: f.display().to_string(),
            msg: format!("cannot read as UTF-8 text: {e}"),
        })?;
        out.texts.push(text);
        out.labels.push(label);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_in_sorted_order_and_clear_errors() {
        let dir = std::env::temp_dir().join(format!("nabla-textfolder-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (class, file, text) in [
            ("pos", "b.txt", "great"),
            ("neg", "a.txt", "awful"),
            ("pos", "a.txt", "fine"),
        ] {
            std::fs::create_dir_all(dir.join(class)).unwrap();
            std::fs::write(dir.join(class).join(file), text).unwrap();
        }
        std::fs::write(dir.join("pos").join("notes.md"), "ignored").unwrap();
        let t = read_text_folder(&dir).unwrap();
        assert_eq!(t.names, ["neg", "pos"]);
        assert_eq!(t.texts, ["awful", "fine", "great"]);
        assert_eq!(t.labels, [0, 1, 1]);
        std::fs::write(dir.join("neg").join("bad.txt"), [0xff, 0xfe]).unwrap();
        let e = read_text_folder(&dir).unwrap_err().to_string();
        assert!(e.contains("bad.txt") && e.contains("UTF-8"), "{e}");
        let e = read_text_folder(&dir.join("neg")).unwrap_err().to_string();
        assert!(e.contains("sub-folder per class"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
