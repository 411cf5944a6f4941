//! Prometheus metrics of `nabla serve` (`GET /metrics`, text exposition format 0.0.4):
//!
//! ```text
//! nabla_requests_total{model, code}          predict requests answered, by HTTP status
//! nabla_request_duration_seconds{model}      histogram: from the request read to the answer
//! nabla_batch_size{model}                    histogram: instances per model run (a run holds
//!                                            one request, or several with dynamic batching)
//! ```
//! A request for a model the server does not have counts under `model="_unknown"`, so a
//! client cannot grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Latency buckets, seconds (Prometheus's defaults, plus finer ones below 5 ms).
const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Batch-size buckets, instances.
const SIZES: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// The label of a model name a client asked for that the server does not have.
pub const UNKNOWN: &str = "_unknown";

/// Counts of observations at or below each bound, their sum and their number.
#[derive(Default)]
struct Histogram {
    buckets: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        self.buckets.resize(bounds.len(), 0);
        for (b, &le) in self.buckets.iter_mut().zip(bounds) {
            *b += u64::from(v <= le);
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, model: &str, bounds: &[f64]) {
        for (k, &le) in bounds.iter().enumerate() {
            let n = self.buckets.get(k).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{model=\"{model}\",le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{model=\"{model}\",le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{model=\"{model}\"}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{model=\"{model}\"}} {}", self.count);
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    batches: BTreeMap<String, Histogram>,
}

/// The server's counters (shared by the handlers and the batchers).
#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // counters stay usable after a panic elsewhere
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A predict request answered with `code` after `seconds`.
    pub fn request(&self, model: &str, code: u16, seconds: f64) {
        let mut m = self.inner();
        *m.requests.entry((model.to_string(), code)).or_default() += 1;
        m.latency
            .entry(model.to_string())
            .or_default()
            .observe(SECONDS, seconds);
    }

    /// A model run over `instances` samples.
    pub fn batch(&self, model: &str, instances: usize) {
        let mut m = self.inner();
        m.batches
            .entry(model.to_string())
            .or_default()
            .observe(SIZES, instances as f64);
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let m = self.inner();
        let mut out = String::new();
        out.push_str(
            "# HELP nabla_requests_total Predict requests answered, by model and HTTP status.\n",
        );
        out.push_str("# TYPE nabla_requests_total counter\n");
        for ((model, code), n) in &m.requests {
            let _ = writeln!(
                out,
                "nabla_requests_total{{model=\"{model}\",code=\"{code}\"}} {n}"
            );
        }
        let hists = [
            (
                "nabla_request_duration_seconds",
                "Seconds from a predict request read to its answer.",
                &m.latency,
                SECONDS,
            ),
            (
                "nabla_batch_size",
                "Instances per model run (several requests with dynamic batching).",
                &m.batches,
                SIZES,
            ),
        ];
        for (name, help, per_model, bounds) in hists {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            for (model, h) in per_model {
                h.render(&mut out, name, model, bounds);
            }
        }
        out
    }
}
