//! Dynamic batching (TensorFlow Serving's `--enable_batching`): concurrent predict requests
//! for one model are joined into one run of the model, which costs little more than one of
//! them (one pass over the weights for all the rows). A task per model takes the first
//! waiting request, then more until the batch holds `max_batch` instances or `max_wait` has
//! passed since the first, runs the model once on the rows side by side and hands each
//! request its own rows. A request never waits more than `max_wait` for others; one larger
//! than `max_batch` runs alone; one run at a time per model (a run uses every thread).

use crate::metrics::Metrics;
use crate::Models;
use nabla_core::Tensor;
use nabla_train::Training;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What a run hands back to one request: its rows of the first output, or the error.
pub type Answer = Result<Tensor, String>;

/// One request waiting: one tensor per model input, its instance count, where to answer.
struct Job {
    xs: Vec<Tensor>,
    n: usize,
    reply: oneshot::Sender<Answer>,
}

/// The queue of one model's batching task.
#[derive(Clone)]
pub struct Batcher(mpsc::Sender<Job>);

impl Batcher {
    /// Starts the batching task of model `name` (on the current tokio runtime).
    pub fn start(
        models: Models,
        name: String,
        (max_batch, max_wait): (usize, Duration),
        metrics: Arc<Metrics>,
    ) -> Batcher {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(run(rx, models, name, (max_batch.max(1), max_wait), metrics));
        Batcher(tx)
    }

    /// Queues `xs` (`n` instances) and waits for its rows.
    pub async fn predict(&self, xs: Vec<Tensor>, n: usize) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(Job { xs, n, reply })
            .await
            .map_err(|_| "the model's batching task stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the model's batching task stopped".to_string())?
    }
}

/// The batching loop of one model.
async fn run(
    mut rx: mpsc::Receiver<Job>,
    models: Models,
    name: String,
    (max_batch, max_wait): (usize, Duration),
    metrics: Arc<Metrics>,
) {
    let mut held: Option<Job> = None; // the request that did not fit the last batch
    loop {
        let first = match held.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => return, // the server stopped
            },
        };
        let deadline = tokio::time::Instant::now() + max_wait;
        let mut n = first.n;
        let mut jobs = vec![first];
        while n < max_batch {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(j)) if n + j.n <= max_batch => {
                    n += j.n;
                    jobs.push(j);
                }
                Ok(Some(j)) => {
                    held = Some(j);
                    break;
                }
                _ => break, // waited long enough, or no more senders
            }
        }
        metrics.batch(&name, n);
        let inputs: Vec<Vec<Tensor>> = jobs.iter_mut().map(|j| std::mem::take(&mut j.xs)).collect();
        let counts: Vec<usize> = jobs.iter().map(|j| j.n).collect();
        let (models, model) = (models.clone(), name.clone());
        let answers =
            tokio::task::spawn_blocking(move || run_batch(&models, &model, inputs, &counts))
                .await
                .unwrap_or_else(|e| vec![Err(format!("inference stopped: {e}")); jobs.len()]);
        for (job, answer) in jobs.into_iter().zip(answers) {
            let _ = job.reply.send(answer); // a client that left gets nothing
        }
    }
}

/// Runs the model once on every request's rows side by side, then cuts the first output
/// back into each request's rows.
fn run_batch(
    models: &Models,
    name: &str,
    inputs: Vec<Vec<Tensor>>,
    counts: &[usize],
) -> Vec<Answer> {
    let m = &models[name];
    let total: usize = counts.iter().sum();
    let joined: Vec<Tensor> = (0..m.inputs().len())
        .map(|k| {
            let data: Vec<f32> = inputs
                .iter()
                .flat_map(|xs| xs[k].data().iter().copied())
                .collect();
            let mut shape = inputs[0][k].shape().to_vec();
            shape[0] = total;
            Tensor::from_vec(data, &shape)
        })
        .collect();
    match m.predict_multi(&joined) {
        Ok(mut ys) => {
            let y = ys.swap_remove(0);
            let per = y.numel() / total.max(1);
            let mut row = 0;
            counts
                .iter()
                .map(|&c| {
                    let mut shape = y.shape().to_vec();
                    shape[0] = c;
                    let part = y.data()[row * per..(row + c) * per].to_vec();
                    row += c;
                    Ok(Tensor::from_vec(part, &shape))
                })
                .collect()
        }
        Err(e) => vec![Err(e.to_string()); counts.len()],
    }
}
