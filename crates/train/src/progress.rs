//! Keras-style progress: `Epoch 1/5` then `250/250 - 1s - 3ms/step - loss: ... - accuracy: ...`;
//! for token sequences (language models) the epoch line also gives `tokens/s`.
//! A live bar (indicatif) only when stdout is a terminal; otherwise one line per epoch.

use crate::logs::Logs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Progress of one epoch.
pub struct Progress {
    bar: Option<ProgressBar>,
    steps: usize,
    start: Instant,
    verbose: u8,
    /// Tokens trained on this epoch, when the samples are token sequences.
    tokens: Option<usize>,
}

impl Progress {
    /// Starts epoch `epoch` (1-based) of `epochs`, with `steps` batches.
    pub fn new(epoch: usize, epochs: usize, steps: usize, verbose: u8) -> Progress {
        if verbose > 0 {
            println!("Epoch {epoch}/{epochs}");
        }
        let live = verbose == 1 && std::io::stdout().is_terminal();
        let bar = live.then(|| {
            let b = ProgressBar::with_draw_target(Some(steps as u64), ProgressDrawTarget::stdout());
            b.set_style(
                ProgressStyle::with_template("{pos}/{len} [{bar:30}] - {elapsed} {msg}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            b
        });
        Progress {
            bar,
            steps,
            start: Instant::now(),
            verbose,
            tokens: None,
        }
    }

    /// Reports `tokens` trained per epoch as tokens/s in the epoch line.
    pub fn with_tokens(mut self, tokens: usize) -> Progress {
        self.tokens = Some(tokens);
        self
    }

    /// After step `step` (1-based), with the running logs.
    pub fn step(&self, step: usize, logs: impl FnOnce() -> Logs) {
        if let Some(b) = &self.bar {
            b.set_position(step as u64);
            if step.is_multiple_of(16) || step == self.steps {
                b.set_message(format!("- {}", logs().line()));
            }
        }
    }

    /// Ends the epoch with its final logs (training and validation).
    pub fn finish(self, logs: &Logs) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        if self.verbose > 0 {
            let secs = self.start.elapsed().as_secs_f64();
            let per_step = secs * 1000.0 / self.steps.max(1) as f64;
            let rate = self
                .tokens
                .map(|t| format!(" - {:.0} tokens/s", t as f64 / secs.max(1e-9)))
                .unwrap_or_default();
            println!(
                "{}/{} - {:.1}s - {:.2}ms/step{rate} - {}",
                self.steps,
                self.steps,
                secs,
                per_step,
                logs.line()
            );
        }
    }
}
