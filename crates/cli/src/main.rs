//! `nabla`: train, evaluate, predict, summarise and benchmark models from the command line.

mod augment;
mod bench;
#[cfg(feature = "hub")]
mod bench_bert;
mod bench_dist;
mod bench_gpt;
mod bench_quant;
mod csv_input;
#[cfg(feature = "hub")]
mod embed;
mod evaluate;
mod generate;
mod predict;
mod prune;
mod quantize;
mod serve;
mod summary;
mod train;
mod tune;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// nabla (∇): train and ship neural networks from a TOML spec.
#[derive(Parser)]
#[command(name = "nabla", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train the model a spec describes; writes DIR/model.safetensors, history.csv, spec.toml.
    Train {
        /// The TOML spec (see docs/spec.md).
        spec: PathBuf,
        /// Output folder (default: runs/<spec name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override train.epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override train.seed.
        #[arg(long)]
        seed: Option<u64>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
        /// Continue from DIR/checkpoint.safetensors (written after every epoch).
        #[arg(long)]
        resume: bool,
    },
    /// Search hyper-parameters: train the spec once per trial with the values its [tune]
    /// table draws (grid, random or Bayesian); DIR gets trials.csv, best.toml,
    /// best_model.safetensors and tune.png.
    Tune {
        /// A TOML spec with a [tune] table (see docs/tune.md).
        spec: PathBuf,
        /// Output folder (default: runs/<spec name>_tune).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Continue the search in DIR (its trials.csv) without repeating finished trials.
        #[arg(long)]
        resume: bool,
    },
    /// Serve saved models over HTTP (TensorFlow Serving's REST API: POST
    /// /v1/models/NAME:predict with {"instances": [..]}), until SIGTERM or Ctrl-C.
    Serve {
        /// Saved models, as NAME=PATH or PATH (named after the file, or its folder for
        /// model.safetensors).
        #[arg(required = true)]
        models: Vec<String>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (0: any free port).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The largest request body accepted, in bytes.
        #[arg(long, default_value_t = 16 << 20)]
        max_body: usize,
        /// Dynamic batching: join concurrent requests for a model into runs of up to this
        /// many instances (0: each request runs on its own).
        #[arg(long, default_value_t = 0)]
        max_batch: usize,
        /// Dynamic batching: how long, in milliseconds, a batch's first request waits for
        /// others.
        #[arg(long, default_value_t = 2.0)]
        batch_wait_ms: f64,
    },
    /// Print the loss and metrics of a saved model (default data: the built-in test split).
    Evaluate {
        /// A model saved by `nabla train` or `Model::save`.
        model: PathBuf,
        /// IDX images file to evaluate on instead (with --labels).
        #[arg(long, requires = "labels")]
        images: Option<PathBuf>,
        /// IDX labels file (with --images).
        #[arg(long, requires = "images")]
        labels: Option<PathBuf>,
        /// A spec whose data's test split to evaluate on (read as `nabla train` reads it), or
        /// a CSV file read as the model's training CSV was (its columns, class names and
        /// normalisation, kept in the model file).
        #[arg(long, conflicts_with = "images")]
        data: Option<PathBuf>,
    },
    /// Train the spec's model dense (or take --from), then again under its [prune] schedule;
    /// print the test metrics, sparsity and size of both.
    Prune {
        /// A TOML spec with a [prune] table (see docs/compression.md).
        spec: PathBuf,
        /// Output folder: dense.safetensors and model.safetensors (pruned, sparse form).
        #[arg(long)]
        out: PathBuf,
        /// Start from this trained model instead of training the dense model first.
        #[arg(long)]
        from: Option<PathBuf>,
        /// No progress output.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Quantise a saved model to int8 (its dense layers) and print the size and the test
    /// metrics before and after.
    Quantize {
        /// A model saved by `nabla train` or `Model::save`.
        model: PathBuf,
        /// Where to write the quantised model (one .safetensors file).
        #[arg(long)]
        out: PathBuf,
        /// dynamic: int8 weights, activations quantised per row as the model runs; static:
        /// also the 2-d convolutions, their input ranges calibrated on training samples
        /// first (the spec's training split with --data SPEC, else the built-in digits' or
        /// the given file's).
        #[arg(long, default_value = "dynamic")]
        mode: String,
        /// Calibration batches (of 32 samples) for --mode static.
        #[arg(long, default_value_t = 10)]
        calibrate: usize,
        /// IDX images file to measure the test metrics on (with --labels).
        #[arg(long, requires = "labels")]
        images: Option<PathBuf>,
        /// IDX labels file (with --images).
        #[arg(long, requires = "images")]
        labels: Option<PathBuf>,
        /// The test data as for `nabla evaluate --data`: a spec or a CSV file.
        #[arg(long, conflicts_with = "images")]
        data: Option<PathBuf>,
    },
    /// Print the predicted class and probabilities of samples.
    Predict {
        /// A saved model.
        model: PathBuf,
        /// Index of a sample of the built-in test split (default 0).
        #[arg(long, conflicts_with = "idx")]
        index: Option<usize>,
        /// An IDX images file: predicts every image in it.
        #[arg(long, conflicts_with = "images")]
        idx: Option<PathBuf>,
        /// PNG or JPEG files, each converted to the model's input shape (gray or RGB,
        /// resized, values / 255).
        #[arg(conflicts_with = "index")]
        images: Vec<PathBuf>,
        /// Invert image files (1 - value): for dark digits on a light background, since
        /// MNIST digits are light on dark.
        #[arg(long, requires = "images")]
        invert: bool,
        /// A text to classify with a fine-tuned transformer (repeat for several).
        #[arg(long = "text", conflicts_with_all = ["index", "idx", "images"])]
        texts: Vec<String>,
        /// Also write the predictions to a file: CSV (id, class, name, one probability per
        /// class), or JSON lines for a `.json`/`.jsonl` name.
        #[arg(long)]
        out: Option<PathBuf>,
        /// How to print the predictions.
        #[arg(long, value_enum, default_value = "table")]
        format: predict::Format,
    },
    /// Generate text with a model trained on `[data] text` (its vocabulary is saved inside
    /// the model file), streaming characters as they are sampled.
    Generate {
        /// A saved model.
        model: PathBuf,
        /// The text to continue.
        #[arg(long)]
        prompt: String,
        /// New characters to write.
        #[arg(long, default_value_t = 300)]
        tokens: usize,
        /// Divides the logits (0: always the most likely character).
        #[arg(long, default_value_t = 1.0)]
        temperature: f32,
        /// Sample among the k most likely only (0: all).
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        /// Sample among the most likely until their probabilities reach p.
        #[arg(long, default_value_t = 1.0)]
        top_p: f32,
        /// Seed of the sampling.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Write a PNG grid of training images: the originals in the first row, then rows of
    /// the same images as the spec's `[data] augment` settings transform them.
    Augment {
        /// The TOML spec.
        spec: PathBuf,
        /// The PNG to write.
        #[arg(long, default_value = "augment.png")]
        out: PathBuf,
        /// Images per row.
        #[arg(long, default_value_t = 8)]
        samples: usize,
        /// Augmented rows under the originals.
        #[arg(long, default_value_t = 5)]
        rows: usize,
        /// Seed of the random transforms (default: the spec's train.seed).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Print the layers, output shapes and parameter counts of a spec or a saved model.
    Summary {
        /// A .toml spec or a saved model.
        path: PathBuf,
        /// Also draw the model graph into this PNG (Keras's plot_model).
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Sentence vectors of texts with a Hugging Face sentence-transformers folder (e.g.
    /// all-MiniLM-L6-v2): its tokenizer, pooling and normalisation.
    #[cfg(feature = "hub")]
    Embed {
        /// The model folder (config.json, model.safetensors, tokenizer.json, modules.json).
        model: PathBuf,
        /// A text to embed (repeat for several).
        #[arg(long = "text")]
        texts: Vec<String>,
        /// A file with one text per line.
        file: Option<PathBuf>,
        /// Write the vectors to a .csv or .npy file (default: CSV rows on standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Texts per forward pass.
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
    /// Write a fine-tuned BERT classifier as a Hugging Face folder (BertForSequenceClassification:
    /// config.json, model.safetensors, tokenizer.json) that transformers loads.
    #[cfg(feature = "hub")]
    Export {
        /// A saved model (for --hf: one fine-tuned from `[model] pretrained`, a pooler and a
        /// classifier head).
        model: PathBuf,
        /// Write a Hugging Face folder that transformers loads.
        #[arg(long, required_unless_present = "onnx", conflicts_with = "onnx")]
        hf: Option<PathBuf>,
        /// Write an ONNX file (opset 17) that any ONNX runtime runs.
        #[arg(long)]
        onnx: Option<PathBuf>,
    },
    /// Run a benchmark workload of shared/bench/WORKLOADS.md and print one JSON line.
    Bench {
        /// Workload id: W1 (MLP), W2 (CNN), W3 (LSTM), W4 (GPT), W5 (MiniLM, with --model) or
        /// W6 (W2 data-parallel: mpirun -np 2 nabla bench W6) or W7 (W1 quantised to
        /// int8).
        workload: String,
        /// Override the number of epochs (W1-W3) or timed steps (W4, W5); the JSON says so.
        #[arg(long)]
        epochs: Option<usize>,
        /// W5: the all-MiniLM-L6-v2 folder (scripts/get_minilm.py makes it).
        #[arg(long)]
        model: Option<PathBuf>,
    },
}

fn main() {
    // `nabla evaluate MODEL | head` should end quietly when head closes the pipe, as Unix tools
    // do, not panic on the failed write: restore the default SIGPIPE action Rust turns off.
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Tune { spec, out, resume } => tune::run(&spec, out, resume),
        Command::Serve {
            models,
            host,
            port,
            max_body,
            max_batch,
            batch_wait_ms,
        } => serve::run(&models, (&host, port), max_body, (max_batch, batch_wait_ms)),
        Command::Train {
            spec,
            out,
            epochs,
            seed,
            quiet,
            resume,
        } => train::run(train::TrainArgs {
            spec,
            out,
            epochs,
            seed,
            quiet,
            resume,
        }),
        Command::Evaluate {
            model,
            images,
            labels,
            data,
        } => {
            evaluate::run(&model, evaluate::Source::from_args(images.zip(labels), data))
        }
        Command::Prune {
            spec,
            out,
            from,
            quiet,
        } => prune::run(&spec, &out, from, quiet),
        Command::Quantize {
            model,
            out,
            mode,
            calibrate,
            images,
            labels,
            data,
        } => quantize::run(
            &model,
            &out,
            &mode,
            calibrate,
            evaluate::Source::from_args(images.zip(labels), data),
        ),
        #[cfg(feature = "hub")]
        Command::Embed {
            model,
            texts,
            file,
            out,
            batch,
        } => embed::run(embed::EmbedArgs {
            model,
            texts,
            file,
            out,
            batch,
        }),
        #[cfg(feature = "hub")]
        Command::Export { model, hf, onnx } => (|| -> anyhow::Result<()> {
            let m = nabla::prelude::Model::load(&model)?;
            if let Some(path) = onnx {
                let bytes = m.to_onnx()?;
                nabla::nn::saving::write_atomic(&path, &bytes)
                    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
                println!("wrote {} (ONNX, opset 17, {} bytes)", path.display(), bytes.len());
            }
            if let Some(hf) = hf {
                nabla::hub::export_bert_classifier(&m, &hf)?;
                println!("wrote {} (config.json, model.safetensors, tokenizer.json)", hf.display());
            }
            Ok(())
        })(),
        Command::Predict {
            model,
            index,
            idx,
            images,
            invert,
            texts,
            out,
            format,
        } => {
            let src = predict::Sources {
                index,
                idx,
                images: &images,
                invert,
                texts: &texts,
            };
            predict::run(&model, src, out.as_deref(), format)
        }
        Command::Generate {
            model,
            prompt,
            tokens,
            temperature,
            top_k,
            top_p,
            seed,
        } => generate::run(
            &model,
            &prompt,
            tokens,
            nabla::nn::generate::Sampling {
                temperature,
                top_k,
                top_p,
                seed,
            },
        ),
        Command::Augment {
            spec,
            out,
            samples,
            rows,
            seed,
        } => augment::run(&spec, &out, samples, rows, seed),
        Command::Summary { path, plot } => summary::run(&path, plot.as_deref()),
        Command::Bench {
            workload,
            epochs,
            model,
        } => match (workload.to_ascii_uppercase().as_str(), model) {
            #[cfg(feature = "hub")]
            ("W5", Some(dir)) => bench_bert::run(&dir, epochs),
            ("W5", _) => Err(anyhow::anyhow!(
                "W5: expected --model DIR (an all-MiniLM-L6-v2 folder: python3 scripts/get_minilm.py DIR) and nabla built with the hub feature"
            )),
            ("W6", _) => bench_dist::run(epochs),
            ("W7", _) => bench_quant::run(epochs),
            _ => bench::run(&workload, epochs),
        },
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
