//! `nabla serve`: saved models behind an HTTP JSON API that follows TensorFlow Serving's
//! REST convention, so its clients work unchanged:
//!
//! ```text
//! POST /v1/models/NAME:predict   {"instances": [x1, x2, ...]}  ->  {"predictions": [y1, y2, ...]}
//! GET  /v1/models/NAME           the model's status (AVAILABLE)
//! GET  /health                   200 once the models are loaded (liveness and readiness)
//! GET  /metrics                  Prometheus metrics (requests, latency, batch sizes)
//! ```
//! Each instance is one sample, nested as the model's input shape or flat; with several
//! inputs, an object `{"input_name": ..}`. A prediction is the first output's row (a nested
//! list for multi-dimensional outputs); with class names in the model file the response
//! also carries `"classes"` (the best class's name per instance). Bad requests get a 4xx
//! with `{"error": ".."}` naming the problem; bodies are bounded; SIGTERM or Ctrl-C stops
//! accepting and lets the requests in flight finish. Inference runs off the async
//! threads, on nabla's own pool; with `max_batch` set, concurrent requests for a model are
//! joined into one run (`batcher.rs`).

mod batcher;
mod metrics;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use batcher::Batcher;
use metrics::Metrics;
use nabla_core::Tensor;
use nabla_nn::Model;
use nabla_train::Training;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The models served, by name.
pub type Models = Arc<BTreeMap<String, Model>>;

/// Server options.
#[derive(Clone, Debug)]
pub struct Options {
    /// The largest request body accepted, in bytes (default 16 MiB).
    pub max_body: usize,
    /// The most instances in one request (default 4,096).
    pub max_instances: usize,
    /// Dynamic batching: the most instances joined into one model run; 0 (the default)
    /// runs each request on its own.
    pub max_batch: usize,
    /// Dynamic batching: how long the first request of a batch waits for others (default
    /// 2 ms).
    pub batch_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_body: 16 << 20,
            max_instances: 4096,
            max_batch: 0,
            batch_wait: Duration::from_millis(2),
        }
    }
}

#[derive(Clone)]
struct Shared {
    models: Models,
    options: Options,
    metrics: Arc<Metrics>,
    /// One batching task per model, when batching is on.
    batchers: Arc<BTreeMap<String, Batcher>>,
}

/// A 4xx or 5xx with `{"error": message}` (TensorFlow Serving's error body).
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

/// The HTTP routes over `models` (with batching on, call it inside a tokio runtime: each
/// model's batching task starts here).
pub fn router(models: Models, options: Options) -> Router {
    let limit = options.max_body;
    let metrics = Arc::new(Metrics::default());
    let batchers = match options.max_batch {
        0 => BTreeMap::new(),
        max => models
            .keys()
            .map(|name| {
                let b = Batcher::start(
                    models.clone(),
                    name.clone(),
                    (max, options.batch_wait),
                    metrics.clone(),
                );
                (name.clone(), b)
            })
            .collect(),
    };
    let shared = Shared {
        models,
        options,
        metrics,
        batchers: Arc::new(batchers),
    };
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(prometheus))
        .route("/v1/models/{target}", get(status).post(predict))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

async fn prometheus(State(s): State<Shared>) -> impl IntoResponse {
    let content = "text/plain; version=0.0.4; charset=utf-8";
    (
        [(axum::http::header::CONTENT_TYPE, content)],
        s.metrics.render(),
    )
}

/// Serves `models` on `listener` until SIGTERM or Ctrl-C, then drains the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    models: Models,
    options: Options,
) -> std::io::Result<()> {
    let stop = stop_signal()?;
    axum::serve(listener, router(models, options))
        .with_graceful_shutdown(stop)
        .await
}

/// Binds `addr` (e.g. `127.0.0.1:8080`), calls `ready` with the bound address, and serves
/// `models` until SIGTERM or Ctrl-C (a runtime of its own: the calling thread blocks).
pub fn run_blocking(
    addr: &str,
    models: Models,
    options: Options,
    ready: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    // two threads for the sockets; inference goes to nabla's pool through spawn_blocking
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        // the handlers exist before anyone is told the address, so no signal is missed
        let stop = stop_signal()?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        axum::serve(listener, router(models, options))
            .with_graceful_shutdown(stop)
            .await
    })
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C); the handlers are installed now, not when first
/// polled.
#[cfg(unix)]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = (
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    );
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn model<'a>(s: &'a Shared, name: &str) -> Result<&'a Model, ApiError> {
    s.models.get(name).ok_or_else(|| {
        let known: Vec<&String> = s.models.keys().collect();
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no model named '{name}': this server has {known:?}"),
        )
    })
}

async fn status(
    State(s): State<Shared>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    model(&s, &name)?;
    Ok(Json(json!({
        "model_version_status": [
            { "version": "1", "state": "AVAILABLE", "status": { "error_code": "OK", "error_message": "" } }
        ]
    })))
}

async fn predict(
    State(s): State<Shared>,
    Path(target): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let start = Instant::now();
    let name = target.strip_suffix(":predict").unwrap_or(&target);
    let label = match s.models.contains_key(name) {
        true => name.to_string(),
        false => metrics::UNKNOWN.to_string(), // a client must not grow the label set
    };
    let out = predict_request(&s, &target, &body).await;
    let code = match &out {
        Ok(_) => 200,
        Err(e) => e.0.as_u16(),
    };
    s.metrics
        .request(&label, code, start.elapsed().as_secs_f64());
    out
}

async fn predict_request(s: &Shared, target: &str, body: &[u8]) -> Result<Json<Value>, ApiError> {
    let name = target.strip_suffix(":predict").ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("POST /v1/models/{target}: expected /v1/models/NAME:predict"),
        )
    })?;
    let m = model(s, name)?;
    let request: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let instances = request
        .get("instances")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            bad("expected a JSON object with \"instances\": [..] (one entry per sample)")
        })?;
    if instances.is_empty() || instances.len() > s.options.max_instances {
        return Err(bad(format!(
            "instances: expected 1 to {} samples, received {}",
            s.options.max_instances,
            instances.len()
        )));
    }
    let xs = inputs(m, instances)?;
    // the inputs are checked here, so a bad request never fails a batch it would join
    let values: Vec<&[f32]> = xs.iter().map(|x| x.data()).collect();
    m.check_inputs(&values)
        .map_err(|e| bad(format!("instances: {e}")))?;
    let names = m.class_names().map(<[String]>::to_vec);
    let internal = |e: String| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e);
    let y = match s.batchers.get(name) {
        Some(b) => b.predict(xs, instances.len()).await.map_err(internal)?,
        None => {
            let (shared, name) = (s.clone(), name.to_string());
            let n = instances.len();
            // inference is CPU work for nabla's pool: off the async threads
            tokio::task::spawn_blocking(move || {
                shared.metrics.batch(&name, n);
                shared.models[&name]
                    .predict_multi(&xs)
                    .map(|mut ys| ys.swap_remove(0))
                    .map_err(|e| e.to_string())
            })
            .await
            .map_err(|e| internal(format!("inference stopped: {e}")))?
            .map_err(internal)?
        }
    };
    Ok(Json(response(&y, names.as_deref())))
}

/// One tensor per model input from the instances (each nested as the input's shape, or flat).
fn inputs(m: &Model, instances: &[Value]) -> Result<Vec<Tensor>, ApiError> {
    let specs = m.inputs();
    let mut data: Vec<Vec<f32>> = vec![Vec::new(); specs.len()];
    for (i, inst) in instances.iter().enumerate() {
        for (k, spec) in specs.iter().enumerate() {
            let part = match (inst, specs.len()) {
                (Value::Object(o), _) => o.get(&spec.name).ok_or_else(|| {
                    bad(format!("instances[{i}]: expected the input '{}' (inputs: {:?})", spec.name, specs.iter().map(|s| &s.name).collect::<Vec<_>>()))
                })?,
                (v, 1) => v,
                _ => {
                    return Err(bad(format!(
                        "instances[{i}]: the model has {} inputs: expected an object {{\"{}\": .., ..}}",
                        specs.len(),
                        spec.name
                    )))
                }
            };
            let before = data[k].len();
            flatten(part, &mut data[k]).map_err(|what| bad(format!("instances[{i}]: {what}")))?;
            let per: usize = spec.shape.iter().product();
            let got = data[k].len() - before;
            if got != per {
                return Err(bad(format!(
                    "instances[{i}]: expected {per} numbers (input '{}' of shape {:?}), received {got}",
                    spec.name, spec.shape
                )));
            }
        }
    }
    Ok(specs
        .iter()
        .zip(data)
        .map(|(spec, d)| {
            let shape: Vec<usize> = std::iter::once(instances.len())
                .chain(spec.shape.iter().copied())
                .collect();
            Tensor::from_vec(d, &shape)
        })
        .collect())
}

/// Appends the numbers of a nested list to `out`.
fn flatten(v: &Value, out: &mut Vec<f32>) -> Result<(), String> {
    match v {
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN) as f32;
            if !x.is_finite() {
                return Err(format!("expected finite numbers, received {n}"));
            }
            out.push(x);
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(|x| flatten(x, out)),
        other => Err(format!("expected numbers (nested lists), received {other}")),
    }
}

/// `{"predictions": [row, ..]}`, rows nested as the output's shape; `"classes"` too when the
/// model names its classes.
fn response(y: &Tensor, names: Option<&[String]>) -> Value {
    let n = y.shape()[0].max(1);
    let per = y.numel() / n;
    let rows: Vec<Value> = y
        .data()
        .chunks(per.max(1))
        .map(|r| nest(r, &y.shape()[1..]))
        .collect();
    let mut out = json!({ "predictions": rows });
    if let Some(names) = names.filter(|c| c.len() == per) {
        let best: Vec<Value> = y
            .data()
            .chunks(per)
            .map(|r| {
                let i = r
                    .iter()
                    .enumerate()
                    .fold(0, |b, (i, v)| if *v > r[b] { i } else { b });
                Value::String(names[i].clone())
            })
            .collect();
        out["classes"] = Value::Array(best);
    }
    out
}

fn nest(v: &[f32], shape: &[usize]) -> Value {
    match shape {
        [] | [_] => json!(v),
        [_, rest @ ..] => {
            let per: usize = rest.iter().product();
            Value::Array(v.chunks(per.max(1)).map(|c| nest(c, rest)).collect())
        }
    }
}
