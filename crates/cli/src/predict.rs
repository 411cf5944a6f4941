//! `nabla predict MODEL [--index I | --idx FILE | IMAGE.png .. | --text "..."]`: predicted
//! class (and its name, when the model file keeps class names) and probabilities. Image files
//! (PNG, JPEG) are converted to the model's input shape: gray for 1 channel or `[h, w]`
//! inputs, RGB for 3, resized bilinearly, values / 255 (`--invert` for dark-on-light digits).
//! Texts are tokenised by the tokenizer a fine-tuned transformer keeps in its file.

use anyhow::{Context, Result};
use nabla::data::idx::read_idx_file;
use nabla::prelude::*;
use std::path::{Path, PathBuf};

/// How `nabla predict` writes its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per sample: the best class, its name, its probability and all of them.
    Table,
    /// One JSON object per line: id, class, name, label, probabilities.
    Json,
    /// CSV with a header: id, class, name, label, one probability column per class.
    Csv,
}

/// A batch's predictions: the probabilities, each row's id (the first CSV column, named
/// `key`: a CSV row number, an image file, a sample index, a text) and how the table shows
/// it, and the labels when the data has them.
struct Rows {
    probs: Tensor,
    key: &'static str,
    ids: Vec<String>,
    shown: Vec<String>,
    labels: Option<Vec<f32>>,
}

/// What to predict on (the command's arguments): a sample of the built-in test split, an
/// IDX file, image or CSV files, or texts.
pub struct Sources<'a> {
    pub index: Option<usize>,
    pub idx: Option<PathBuf>,
    pub images: &'a [PathBuf],
    pub invert: bool,
    pub texts: &'a [String],
}

pub fn run(model_path: &Path, src: Sources, out: Option<&Path>, format: Format) -> Result<()> {
    let (names, rows) = predictions(model_path, src)?;
    let names = names.as_deref();
    match format {
        Format::Table => print_rows(&rows, names),
        Format::Json => print!("{}", json_lines(&rows, names)),
        Format::Csv => print!("{}", String::from_utf8(csv_text(&rows, names)?)?),
    }
    if let Some(out) = out {
        let json = out.extension().is_some_and(|e| e == "json" || e == "jsonl");
        let bytes = match json {
            true => json_lines(&rows, names).into_bytes(),
            false => csv_text(&rows, names)?,
        };
        nabla::nn::saving::write_atomic(out, &bytes)
            .with_context(|| format!("cannot write {}", out.display()))?;
        let said = format!("wrote {} predictions to {}", rows.ids.len(), out.display());
        match format {
            Format::Table => println!("{said}"),
            _ => eprintln!("{said}"), // stdout holds the rows alone
        }
    }
    Ok(())
}

/// The model's class names and its predictions on the data the arguments name.
fn predictions(model_path: &Path, src: Sources) -> Result<(Option<Vec<String>>, Rows)> {
    let Sources {
        index,
        idx,
        images,
        invert,
        texts,
    } = src;
    if model_path.is_dir() {
        anyhow::ensure!(
            !texts.is_empty(),
            "{}: a Hugging Face folder takes --text \"...\"",
            model_path.display()
        );
        return predict_folder(model_path, texts);
    }
    let model = Model::load(model_path)?;
    let names = model.class_names().map(<[String]>::to_vec);
    if let [file] = images {
        if file.extension().is_some_and(|e| e == "csv") {
            return Ok((names, predict_csv(&model, model_path, file)?));
        }
    }
    if !texts.is_empty() {
        return Ok((names, predict_texts(&model, texts)?));
    }
    if !images.is_empty() {
        let shape = model.input_shape().to_vec();
        let mut x = Vec::new();
        for path in images {
            x.extend(nabla::data::read_image(path, &shape, invert)?);
        }
        let batch: Vec<usize> = std::iter::once(images.len()).chain(shape).collect();
        let probs = model.predict(&Tensor::from_vec(x, &batch))?;
        let ids: Vec<String> = images.iter().map(|p| p.display().to_string()).collect();
        let shown = ids.clone();
        let rows = Rows {
            probs,
            key: "file",
            ids,
            shown,
            labels: None,
        };
        return Ok((names, rows));
    }
    let (x, labels, first) = match idx {
        Some(path) => {
            let a = read_idx_file(&path)?;
            let x: Vec<f32> = a.data.iter().map(|&p| p as f32 / 255.0).collect();
            (Tensor::from_vec(x, &a.dims), None, 0)
        }
        None => {
            let (_, test) = nabla::datasets::mnist()?;
            let i = index.unwrap_or(0);
            anyhow::ensure!(
                i < test.len(),
                "--index: expected a sample index in [0, {}], received {i}",
                test.len() - 1
            );
            let (x, y) = test.batch(&[i]);
            (x, Some(y.to_vec()), i)
        }
    };
    // images [n, 28, 28] for a model taking [1, 28, 28]: same values, the model's view
    let per: usize = model.input_shape().iter().product();
    let x = if x.rank() > 0
        && x.numel() == x.shape()[0] * per
        && &x.shape()[1..] != model.input_shape()
    {
        let shape: Vec<usize> = std::iter::once(x.shape()[0])
            .chain(model.input_shape().iter().copied())
            .collect();
        x.reshape(&shape)
    } else {
        x
    };
    let probs = model.predict(&x)?;
    let ids: Vec<String> = (0..probs.shape()[0])
        .map(|i| (first + i).to_string())
        .collect();
    let shown = ids.iter().map(|i| format!("sample {i}")).collect();
    Ok((
        names,
        Rows {
            probs,
            key: "sample",
            ids,
            shown,
            labels,
        },
    ))
}

/// Every row of a CSV file, read as the model's training CSV was, numbered from 1 as a
/// spreadsheet shows them (the header not counted).
fn predict_csv(model: &Model, model_path: &Path, file: &Path) -> Result<Rows> {
    let data = crate::csv_input::read(model, model_path, file, false)?;
    let idx: Vec<usize> = (0..data.dataset.len()).collect();
    let (xs, _) = data.dataset.batch_all(&idx);
    let probs = probabilities(model.predict_multi(&xs)?.swap_remove(0));
    let ids: Vec<String> = (1..=probs.shape()[0]).map(|i| i.to_string()).collect();
    let shown = ids.iter().map(|i| format!("row {i}")).collect();
    Ok(Rows {
        probs,
        key: "row",
        ids,
        shown,
        labels: None,
    })
}

/// Each row's best class.
fn best(rows: &Rows) -> Vec<(usize, &[f32])> {
    let classes = rows.probs.numel() / rows.probs.shape()[0].max(1);
    rows.probs
        .data()
        .chunks(classes.max(1))
        .map(|r| (nabla::core::backend::argmax_rows(r, r.len())[0], r))
        .collect()
}

/// The name of class `c` (its index when the model names none).
fn label(names: Option<&[String]>, c: usize) -> String {
    names
        .and_then(|n| n.get(c))
        .cloned()
        .unwrap_or_else(|| c.to_string())
}

/// One JSON object per row.
fn json_lines(rows: &Rows, names: Option<&[String]>) -> String {
    let mut out = String::new();
    for (i, (b, row)) in best(rows).into_iter().enumerate() {
        let mut o = serde_json::json!({ rows.key: rows.ids[i], "class": b, "probabilities": row });
        if names.is_some() {
            o["name"] = label(names, b).into();
        }
        if let Some(l) = &rows.labels {
            o["label"] = l[i].into();
        }
        out.push_str(&o.to_string());
        out.push('\n');
    }
    out
}

/// CSV: `key,class,name[,label],p_<class>..`.
fn csv_text(rows: &Rows, names: Option<&[String]>) -> Result<Vec<u8>> {
    let classes = rows.probs.numel() / rows.probs.shape()[0].max(1);
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec![rows.key.to_string(), "class".into(), "name".into()];
    if rows.labels.is_some() {
        header.push("label".into());
    }
    header.extend((0..classes).map(|c| format!("p_{}", label(names, c))));
    w.write_record(&header)?;
    for (i, (b, row)) in best(rows).into_iter().enumerate() {
        let mut rec = vec![rows.ids[i].clone(), b.to_string(), label(names, b)];
        if let Some(l) = &rows.labels {
            rec.push(l[i].to_string());
        }
        rec.extend(row.iter().map(|p| p.to_string()));
        w.write_record(&rec)?;
    }
    Ok(w.into_inner()?)
}

/// Texts through a fine-tuned transformer: its own tokenizer, cut and padded to its length.
#[cfg(feature = "hub")]
fn predict_texts(model: &Model, texts: &[String]) -> Result<Rows> {
    let json = model.tokenizer().ok_or_else(|| {
        anyhow::anyhow!("--text: expected a model that keeps a tokenizer (fine-tuned from [model] pretrained), received one without")
    })?;
    let tok = nabla::hub::Tokenizer::from_json(json.as_bytes())?;
    let t = match model.inputs() {
        [ids, _, _] if ids.name == "input_ids" => ids.shape[0],
        other => anyhow::bail!(
            "--text: expected a model with inputs input_ids, token_type_ids, attention_mask, received {:?}",
            other.iter().map(|i| i.name.as_str()).collect::<Vec<_>>()
        ),
    };
    let pairs: Vec<(&str, Option<&str>)> = texts.iter().map(|s| (s.as_str(), None)).collect();
    let e = tok.encode_batch(&pairs, t)?.padded_to(t);
    let f = |v: &[u32]| Tensor::from_vec(v.iter().map(|&i| i as f32).collect(), &[texts.len(), t]);
    let xs = [f(&e.input_ids), f(&e.token_type_ids), f(&e.attention_mask)];
    let probs = probabilities(model.predict_multi(&xs)?.swap_remove(0));
    let shown = texts
        .iter()
        .map(|t| format!("{:?}", t.chars().take(40).collect::<String>()))
        .collect();
    let ids = texts.to_vec();
    Ok(Rows {
        probs,
        key: "text",
        ids,
        shown,
        labels: None,
    })
}

#[cfg(not(feature = "hub"))]
fn predict_texts(_: &Model, _: &[String]) -> Result<Rows> {
    anyhow::bail!("--text: expected nabla built with the `hub` feature")
}

/// A Hugging Face `BertForSequenceClassification` folder on texts.
#[cfg(feature = "hub")]
fn predict_folder(dir: &Path, texts: &[String]) -> Result<(Option<Vec<String>>, Rows)> {
    let p = nabla::hub::load(dir, 512)?;
    let names = p.model.class_names().map(<[String]>::to_vec);
    anyhow::ensure!(
        names.is_some(),
        "{}: expected a classifier folder (BertForSequenceClassification) to predict with",
        dir.display()
    );
    Ok((names, predict_texts(&p.model, texts)?))
}

#[cfg(not(feature = "hub"))]
fn predict_folder(dir: &Path, _: &[String]) -> Result<(Option<Vec<String>>, Rows)> {
    anyhow::bail!(
        "{}: a model folder needs nabla built with the hub feature",
        dir.display()
    )
}

/// Rows of logits (a classifier read from Hugging Face outputs them) as probabilities;
/// rows that already are distributions stay as they are.
fn probabilities(y: Tensor) -> Tensor {
    let n = y.shape()[0].max(1);
    let c = y.numel() / n;
    let is_dist = y
        .data()
        .chunks(c)
        .all(|r| r.iter().all(|&v| v >= 0.0) && (r.iter().sum::<f32>() - 1.0).abs() < 1e-3);
    if is_dist {
        y
    } else {
        y.reshape(&[n, c]).softmax()
    }
}

/// One line per row: the best class (and its name), its probability and all of them.
fn print_rows(rows: &Rows, names: Option<&[String]>) {
    for (i, (b, row)) in best(rows).into_iter().enumerate() {
        let truth = rows
            .labels
            .as_ref()
            .map(|l| format!(" (label {})", l[i]))
            .unwrap_or_default();
        let ps: Vec<String> = row.iter().map(|p| format!("{p:.4}")).collect();
        let name = names
            .and_then(|n| n.get(b))
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!(
            "{}: class {b}{name}{truth} p={:.4} probabilities=[{}]",
            rows.shown[i],
            row[b],
            ps.join(", ")
        );
    }
}
