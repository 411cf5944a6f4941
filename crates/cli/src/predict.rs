//! `nabla predict MODEL [--index I | --idx FILE | IMAGE.png .. | --text "..."]`: predicted
//! class (and its name, when the model file keeps class names) and probabilities. Image files
//! (PNG, JPEG) are converted to the model's input shape: gray for 1 channel or `[h, w]`
//! inputs, RGB for 3, resized bilinearly, values / 255 (`--invert` for dark-on-light digits).
//! Texts are tokenised by the tokenizer a fine-tuned transformer keeps in its file.

use anyhow::{Context, Result};
use nabla::data::idx::read_idx_file;
use nabla::prelude::*;
use std::path::{Path, PathBuf};

pub fn run(
    model_path: &Path,
    index: Option<usize>,
    idx: Option<PathBuf>,
    images: &[PathBuf],
    invert: bool,
    texts: &[String],
    out: Option<&Path>,
) -> Result<()> {
    if model_path.is_dir() {
        anyhow::ensure!(
            !texts.is_empty(),
            "{}: a Hugging Face folder takes --text \"...\"",
            model_path.display()
        );
        return predict_folder(model_path, texts);
    }
    let model = Model::load(model_path)?;
    if let [file] = images {
        if file.extension().is_some_and(|e| e == "csv") {
            return predict_csv(&model, model_path, file, out);
        }
    }
    anyhow::ensure!(
        out.is_none(),
        "--out: expected a CSV file to predict on (nabla predict MODEL rows.csv --out p.csv)"
    );
    if !texts.is_empty() {
        return predict_texts(&model, texts);
    }
    if !images.is_empty() {
        let shape = model.input_shape().to_vec();
        let mut x = Vec::new();
        for path in images {
            x.extend(nabla::data::read_image(path, &shape, invert)?);
        }
        let batch: Vec<usize> = std::iter::once(images.len()).chain(shape).collect();
        let probs = model.predict(&Tensor::from_vec(x, &batch))?;
        let names: Vec<String> = images.iter().map(|p| p.display().to_string()).collect();
        return print_rows(&probs, |i| names[i].clone(), None, model.class_names());
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
    print_rows(
        &probs,
        |i| format!("sample {}", first + i),
        labels.as_deref(),
        model.class_names(),
    )
}

/// Every row of a CSV file, read as the model's training CSV was; with `out`, the rows also
/// go to a CSV file (`row,class,name,p_<class>...`, written atomically).
fn predict_csv(model: &Model, model_path: &Path, file: &Path, out: Option<&Path>) -> Result<()> {
    let data = crate::csv_input::read(model, model_path, file, false)?;
    let idx: Vec<usize> = (0..data.dataset.len()).collect();
    let (xs, _) = data.dataset.batch_all(&idx);
    let probs = probabilities(model.predict_multi(&xs)?.swap_remove(0));
    let names = model.class_names();
    // rows numbered from 1 as a spreadsheet shows them (the header not counted)
    print_rows(&probs, |i| format!("row {}", i + 1), None, names)?;
    if let Some(out) = out {
        let n = probs.shape()[0];
        let classes = probs.numel() / n.max(1);
        let label = |c: usize| {
            names
                .and_then(|n| n.get(c))
                .cloned()
                .unwrap_or_else(|| c.to_string())
        };
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec!["row".to_string(), "class".into(), "name".into()];
        header.extend((0..classes).map(|c| format!("p_{}", label(c))));
        w.write_record(&header)?;
        for (i, row) in probs.data().chunks(classes).enumerate() {
            let best = nabla::core::backend::argmax_rows(row, classes)[0];
            let mut rec = vec![(i + 1).to_string(), best.to_string(), label(best)];
            rec.extend(row.iter().map(|p| p.to_string()));
            w.write_record(&rec)?;
        }
        nabla::nn::saving::write_atomic(out, &w.into_inner()?)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("wrote {n} predictions to {}", out.display());
    }
    Ok(())
}

/// Texts through a fine-tuned transformer: its own tokenizer, cut and padded to its length.
#[cfg(feature = "hub")]
fn predict_texts(model: &Model, texts: &[String]) -> Result<()> {
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
    let short = |i: usize| {
        let s: String = texts[i].chars().take(40).collect();
        format!("{s:?}")
    };
    print_rows(&probs, short, None, model.class_names())
}

#[cfg(not(feature = "hub"))]
fn predict_texts(_: &Model, _: &[String]) -> Result<()> {
    anyhow::bail!("--text: expected nabla built with the `hub` feature")
}

/// A Hugging Face `BertForSequenceClassification` folder on texts.
#[cfg(feature = "hub")]
fn predict_folder(dir: &Path, texts: &[String]) -> Result<()> {
    let p = nabla::hub::load(dir, 512)?;
    anyhow::ensure!(
        p.model.class_names().is_some(),
        "{}: expected a classifier folder (BertForSequenceClassification) to predict with",
        dir.display()
    );
    predict_texts(&p.model, texts)
}

#[cfg(not(feature = "hub"))]
fn predict_folder(dir: &Path, _: &[String]) -> Result<()> {
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

/// One line per row of `probs`: the best class (and its name), its probability and all of
/// them.
fn print_rows(
    probs: &Tensor,
    what: impl Fn(usize) -> String,
    labels: Option<&[f32]>,
    names: Option<&[String]>,
) -> Result<()> {
    let n = probs.shape()[0];
    let classes = probs.numel() / n.max(1);
    for (i, row) in probs.data().chunks(classes).enumerate() {
        let best = nabla::core::backend::argmax_rows(row, classes)[0];
        let truth = labels
            .map(|l| format!(" (label {})", l[i]))
            .unwrap_or_default();
        let ps: Vec<String> = row.iter().map(|p| format!("{p:.4}")).collect();
        let name = names
            .and_then(|n| n.get(best))
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!(
            "{}: class {best}{name}{truth} p={:.4} probabilities=[{}]",
            what(i),
            row[best],
            ps.join(", ")
        );
    }
    Ok(())
}
