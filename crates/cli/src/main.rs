//! `nabla`: train, evaluate, predict, summarise and benchmark models from the command line.

mod bench;
mod evaluate;
mod predict;
mod summary;
mod train;

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
    },
    /// Print the predicted class and probabilities of samples.
    Predict {
        /// A saved model.
        model: PathBuf,
        /// Index of a sample of the built-in test split (default 0).
        #[arg(long, conflicts_with = "idx")]
        index: Option<usize>,
        /// An IDX images file: predicts every image in it.
        #[arg(long)]
        idx: Option<PathBuf>,
    },
    /// Print the layers, output shapes and parameter counts of a spec or a saved model.
    Summary {
        /// A .toml spec or a saved model.
        path: PathBuf,
    },
    /// Run a benchmark workload (W1) and print one JSON line.
    Bench {
        /// Workload id: W1.
        workload: String,
        /// Override the number of epochs (the JSON says so).
        #[arg(long)]
        epochs: Option<usize>,
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
        } => evaluate::run(&model, images.zip(labels)),
        Command::Predict { model, index, idx } => predict::run(&model, index, idx),
        Command::Summary { path } => summary::run(&path),
        Command::Bench { workload, epochs } => bench::run(&workload, epochs),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
