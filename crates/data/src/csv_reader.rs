//! CSV datasets: a header (or column numbers), chosen feature columns and one label column,
//! or named arrays of columns for a model of several inputs and outputs (`inputs`,
//! `targets`). Numeric labels are kept as numbers (class indices or regression targets); text
//! labels are categorical and become class indices in sorted order (`classes` lists them).
//! Ragged rows and non-numeric features are errors naming the file, the line and the column.
//! A `text` column makes a text-classification file: the texts are kept as they are (for a
//! model's tokenizer to turn into ids), and the dataset's one input is each row's number.

use crate::dataset::{Array, Dataset, X, Y};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How to read a CSV file (the spec's `[data] csv = { ... }`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvSpec {
    /// The file.
    pub path: PathBuf,
    /// The label column: its header name, or its number from 0 without a header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Feature columns (default: every column but the label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// Named inputs instead of `features`, one array of columns per model input:
    /// `inputs = { a = ["a1", "a2"], ids = ["t0", "t1", "t2"] }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, Vec<String>>,
    /// Named numeric targets besides or instead of `label`, one per model output:
    /// `targets = { main = ["class"], aux = ["score"] }` (shape `[columns]`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub targets: BTreeMap<String, Vec<String>>,
    /// Whether the first line names the columns (default true).
    #[serde(default = "yes")]
    pub header: bool,
    /// Field separator (default `,`).
    #[serde(default = "comma")]
    pub delimiter: char,
    /// Fraction of the rows, taken from the end, kept as the test split (default 0).
    #[serde(default)]
    pub test_split: f32,
    /// A column of text instead of numeric features (tokenised by a pretrained model's
    /// tokenizer; see [`CsvData::texts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

fn yes() -> bool {
    true
}
fn comma() -> char {
    ','
}

/// A CSV file read into a dataset.
#[derive(Clone, Debug, PartialEq)]
pub struct CsvData {
    /// Features `[n_features]` and one label per sample.
    pub dataset: Dataset,
    /// The names of the feature columns, in order.
    pub features: Vec<String>,
    /// For text labels, the class of each index (sorted); `None` for numeric labels.
    pub classes: Option<Vec<String>>,
    /// With a `text` column: each row's text, and the dataset's input is the row number
    /// ([`TEXT_ROW`], `[1]`) for the caller to replace with token ids.
    pub texts: Option<Vec<String>>,
}

/// The input name of a text file's row numbers.
pub const TEXT_ROW: &str = "text_row";

impl CsvSpec {
    /// Reads the file.
    pub fn read(&self) -> Result<CsvData> {
        read_csv(self)
    }
}

fn err(path: &Path, msg: String) -> Error {
    Error::File {
        path: path.display().to_string(),
        msg,
    }
}

/// Reads a CSV file as `spec` says.
pub fn read_csv(spec: &CsvSpec) -> Result<CsvData> {
    read_csv_for(spec, None, true)
}

/// Reads a new CSV file the way a model's training data was read: text labels become the
/// indices of the model's `classes` (a label it does not know is an error naming it), and
/// without `need_targets` the label and target columns may be missing (data to predict on).
pub fn read_csv_for(
    spec: &CsvSpec,
    classes: Option<&[String]>,
    need_targets: bool,
) -> Result<CsvData> {
    let path = &spec.path;
    if !spec.delimiter.is_ascii() {
        return Err(err(
            path,
            format!(
                "delimiter: expected an ASCII character, received {:?}",
                spec.delimiter
            ),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(spec.delimiter as u8)
        .flexible(true)
        .from_path(path)
        .map_err(|e| err(path, format!("cannot read: {e}")))?;
    let mut records = reader.records();
    let mut first = match records.next() {
        Some(r) => r.map_err(|e| err(path, format!("cannot read: {e}")))?,
        None => return Err(err(path, "is empty: expected a header and rows".into())),
    };
    let names: Vec<String> = if spec.header {
        first.iter().map(|s| s.trim().to_string()).collect()
    } else {
        (0..first.len()).map(|i| i.to_string()).collect()
    };
    let column = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| {
            err(
                path,
                format!("no column '{name}': expected one of {names:?}"),
            )
        })
    };
    let present = |n: &String| names.contains(n);
    let label = match need_targets {
        true => spec.label.as_deref().map(column).transpose()?,
        false => spec
            .label
            .as_ref()
            .filter(|l| present(l))
            .map(|l| column(l))
            .transpose()?,
    };
    // without targets to read, the target columns there are still not features
    let unused: BTreeMap<String, Vec<String>> = match need_targets {
        true => BTreeMap::new(),
        false => spec
            .targets
            .iter()
            .map(|(n, cols)| {
                (
                    n.clone(),
                    cols.iter().filter(|c| present(c)).cloned().collect(),
                )
            })
            .collect(),
    };
    let target_spec = if need_targets {
        &spec.targets
    } else {
        &BTreeMap::new()
    };
    if need_targets && label.is_none() && spec.targets.is_empty() {
        return Err(err(
            path,
            "expected `label` or `targets`, received neither".into(),
        ));
    }
    let named = |m: &BTreeMap<String, Vec<String>>| -> Result<Vec<(String, Vec<usize>)>> {
        m.iter()
            .map(|(n, cols)| {
                Ok((
                    n.clone(),
                    cols.iter().map(|c| column(c)).collect::<Result<_>>()?,
                ))
            })
            .collect()
    };
    let text = spec.text.as_deref().map(column).transpose()?;
    if text.is_some() && (spec.features.is_some() || !spec.inputs.is_empty()) {
        return Err(err(
            path,
            "expected `text` or numeric `features`/`inputs`, received both".into(),
        ));
    }
    let inputs = match (&spec.features, spec.inputs.is_empty()) {
        _ if text.is_some() => Vec::new(),
        (Some(_), false) => {
            return Err(err(
                path,
                "expected `features` or `inputs`, received both".into(),
            ))
        }
        (Some(f), true) => vec![(
            X.to_string(),
            f.iter().map(|n| column(n)).collect::<Result<_>>()?,
        )],
        (None, true) => {
            let used: Vec<usize> = named(&spec.targets)
                .or_else(|_| named(&unused))?
                .into_iter()
                .flat_map(|t| t.1)
                .collect();
            let rest = (0..names.len()).filter(|&i| Some(i) != label && !used.contains(&i));
            vec![(X.to_string(), rest.collect())]
        }
        (None, false) => named(&spec.inputs)?,
    };
    let targets = named(target_spec)?;
    if let Some((n, _)) = inputs.iter().chain(&targets).find(|(_, c)| c.is_empty()) {
        return Err(err(
            path,
            format!("no columns for '{n}': expected at least one"),
        ));
    }
    let features = inputs.first().map_or_else(Vec::new, |i| i.1.clone());
    let mut texts: Vec<String> = Vec::new();
    let mut values: Vec<Vec<f32>> = vec![Vec::new(); inputs.len() + targets.len()];
    let mut labels: Vec<String> = Vec::new();
    let mut rows: Vec<usize> = Vec::new(); // each row's line
    let mut line = if spec.header { 1 } else { 0 };
    let mut pending = if spec.header {
        None
    } else {
        Some(std::mem::take(&mut first))
    };
    loop {
        let rec = match pending.take() {
            Some(r) => r,
            None => match records.next() {
                Some(r) => r.map_err(|e| err(path, format!("line {}: {e}", line + 1)))?,
                None => break,
            },
        };
        line += 1;
        // the csv reader skips blank lines without counting them: the true line of an error
        // comes from the record's byte offset (read again only then)
        let byte = rec.position().map(|p| p.byte());
        let line = || byte.map_or(line, |b| line_of(path, b));
        if rec.len() == 1 && rec.get(0).is_some_and(|s| s.trim().is_empty()) {
            continue; // blank line
        }
        if rec.len() != names.len() {
            return Err(err(
                path,
                format!(
                    "line {}: expected {} fields, received {}",
                    line(),
                    names.len(),
                    rec.len()
                ),
            ));
        }
        for ((_, cols), v) in inputs.iter().chain(&targets).zip(values.iter_mut()) {
            for &c in cols {
                let s = rec.get(c).unwrap_or("").trim();
                v.push(finite(s).map_err(|what| {
                    err(
                        path,
                        format!(
                            "line {}, column '{}': expected {what}, received '{s}'",
                            line(),
                            names[c]
                        ),
                    )
                })?);
            }
        }
        if let Some(t) = text {
            texts.push(rec.get(t).unwrap_or("").to_string());
        }
        rows.push(line());
        labels.push(
            label
                .map_or("", |l| rec.get(l).unwrap_or(""))
                .trim()
                .to_string(),
        );
    }
    if labels.is_empty() {
        return Err(err(path, "has no data rows".into()));
    }
    let numeric: Option<Vec<f32>> = labels.iter().map(|s| s.parse::<f32>().ok()).collect();
    // numeric labels must be finite numbers too (`nan` is a number to `parse`)
    if let (Some(y), Some(l)) = (&numeric, label) {
        if let Some(i) = y.iter().position(|v| !v.is_finite()) {
            return Err(err(
                path,
                format!(
                    "line {}, column '{}': expected a finite number, received '{}'",
                    rows[i], names[l], labels[i]
                ),
            ));
        }
    }
    let (y, classes) = match (numeric, classes) {
        _ if label.is_none() => (Vec::new(), classes.map(<[String]>::to_vec)),
        (_, Some(known)) => {
            let mut y = Vec::with_capacity(labels.len());
            for (i, l) in labels.iter().enumerate() {
                let at = known.iter().position(|k| k == l).ok_or_else(|| {
                    err(
                        path,
                        format!(
                            "line {}, column '{}': expected one of the model's classes {known:?}, received '{l}'",
                            rows[i],
                            names[label.expect("checked")]
                        ),
                    )
                })?;
                y.push(at as f32);
            }
            (y, Some(known.to_vec()))
        }
        (Some(y), None) => (y, None),
        (None, None) => {
            let mut classes = labels.clone();
            classes.sort();
            classes.dedup();
            let y = labels
                .iter()
                .map(|l| classes.binary_search(l).unwrap() as f32)
                .collect();
            (y, Some(classes))
        }
    };
    let mut values = values.into_iter();
    // [columns] each, one column too: [1] fits a one-unit regression output and a sparse
    // cross-entropy's class index alike
    let mut arrays = |groups: &[(String, Vec<usize>)]| -> Vec<Array> {
        let v = values.by_ref();
        groups
            .iter()
            .zip(v)
            .map(|((n, cols), v)| Array::new(n, v, &[cols.len()]))
            .collect()
    };
    let mut xs = arrays(&inputs);
    if text.is_some() {
        let rows = (0..labels.len()).map(|i| i as f32).collect();
        xs.push(Array::new(TEXT_ROW, rows, &[1]));
    }
    let mut ys = arrays(&targets);
    if label.is_some() {
        ys.insert(0, Array::new(Y, y, &[]));
    }
    let dataset = Dataset::from_arrays(xs, ys)?;
    Ok(CsvData {
        dataset,
        features: features.iter().map(|&c| names[c].clone()).collect(),
        classes,
        texts: text.is_some().then_some(texts),
    })
}

/// The line (from 1) of the record the csv reader says starts at byte `offset` of the file
/// at `path` (its offset is where it began to read: before the blank lines it skipped).
fn line_of(path: &Path, offset: u64) -> usize {
    use std::io::{BufReader, Read};
    let Ok(f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut line = 1;
    for (i, b) in BufReader::new(f).bytes().map_while(|b| b.ok()).enumerate() {
        match b {
            b'\n' => line += 1,
            b'\r' => {}
            _ if i as u64 >= offset => break,
            _ => {}
        }
    }
    line
}

/// A feature value: a finite number (NaN, infinities and values beyond f32's range such as
/// 1e400 would end as a NaN loss far from the file); else what was expected.
fn finite(s: &str) -> std::result::Result<f32, &'static str> {
    match s.parse::<f32>() {
        Ok(x) if x.is_finite() => Ok(x),
        Ok(_) => Err("a finite number"),
        Err(_) => Err("a number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile_lite::Dir, PathBuf) {
        let d = tempfile_lite::Dir::new();
        let p = d.0.join("d.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    mod tempfile_lite {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicUsize, Ordering};
                static N: AtomicUsize = AtomicUsize::new(0);
                let p = std::env::temp_dir().join(format!(
                    "nabla-csv-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn spec(path: PathBuf, label: &str) -> CsvSpec {
        CsvSpec {
            path,
            label: Some(label.into()),
            features: None,
            inputs: BTreeMap::new(),
            targets: BTreeMap::new(),
            header: true,
            delimiter: ',',
            test_split: 0.0,
            text: None,
        }
    }

    #[test]
    fn a_text_column_keeps_the_texts_and_numbers_the_rows() {
        let (_d, p) = write("review,stars\n\"Good, really.\",pos\n  Meh  ,neg\n");
        let c = read_csv(&CsvSpec {
            text: Some("review".into()),
            ..spec(p.clone(), "stars")
        })
        .unwrap();
        assert_eq!(
            c.texts,
            Some(vec!["Good, really.".into(), "  Meh  ".into()])
        );
        assert_eq!(c.dataset.inputs()[0].name, TEXT_ROW);
        assert_eq!(
            (c.dataset.x(), c.dataset.y()),
            (&[0.0, 1.0][..], &[1.0, 0.0][..])
        );
        assert_eq!(c.classes, Some(vec!["neg".into(), "pos".into()]));
        let e = read_csv(&CsvSpec {
            text: Some("review".into()),
            features: Some(vec!["stars".into()]),
            ..spec(p, "stars")
        })
        .unwrap_err();
        assert!(e.to_string().contains("received both"), "{e}");
    }

    #[test]
    fn categorical_and_numeric_labels() {
        let (_d, p) = write("a,b,kind\n1,2,cat\n3,4.5,dog\n\n5,6,cat\n");
        let c = read_csv(&spec(p.clone(), "kind")).unwrap();
        assert_eq!(c.dataset.x(), &[1.0, 2.0, 3.0, 4.5, 5.0, 6.0]);
        assert_eq!(c.dataset.y(), &[0.0, 1.0, 0.0]);
        assert_eq!(c.classes, Some(vec!["cat".into(), "dog".into()]));
        let c = read_csv(&CsvSpec {
            features: Some(vec!["b".into()]),
            ..spec(p, "a")
        })
        .unwrap();
        assert_eq!(
            (c.dataset.x(), c.dataset.y(), c.classes),
            (&[2.0, 4.5, 6.0][..], &[1.0, 3.0, 5.0][..], None)
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        let (_d, p) = write("a,b,y\n1,2,0\n3,x,1\n");
        let e = read_csv(&spec(p, "y")).unwrap_err().to_string();
        assert!(
            e.contains("line 3, column 'b'") && e.contains("received 'x'"),
            "{e}"
        );
        for bad in ["nan", "inf", "-inf", "1e400"] {
            let (_d, p) = write(&format!("a,b,y\n1,2,0\n3,{bad},1\n"));
            let e = read_csv(&spec(p, "y")).unwrap_err().to_string();
            assert!(
                e.contains("line 3, column 'b'")
                    && e.contains("a finite number")
                    && e.contains(bad),
                "{e}"
            );
            let (_d, p) = write(&format!("a,b,y\n1,2,0\n\n3,4,{bad}\n"));
            let e = read_csv(&spec(p, "y")).unwrap_err().to_string();
            assert!(
                e.contains("line 4, column 'y'") && e.contains("a finite number"),
                "{e}"
            );
        }
        let (_d, p) = write("a,b,y\n1,2,0\n3,1\n");
        let e = read_csv(&spec(p, "y")).unwrap_err().to_string();
        assert!(e.contains("line 3: expected 3 fields, received 2"), "{e}");
        let (_d, p) = write("a,b,y\n1,2,0\n");
        let e = read_csv(&spec(p, "label")).unwrap_err().to_string();
        assert!(
            e.contains("no column 'label'") && e.contains("\"y\""),
            "{e}"
        );
        let (_d, p) = write("1;2;0\n3;4;1\n");
        let c = read_csv(&CsvSpec {
            header: false,
            delimiter: ';',
            ..spec(p, "2")
        })
        .unwrap();
        assert_eq!(c.dataset.len(), 2);
    }
}
