//! The server over a real socket: predictions equal to the model's, status and health, and
//! every kind of bad request answered with a 4xx that names the problem while the server
//! keeps serving.

use nabla_nn::{Activation, Dense, Model, Sequential};
use nabla_serve::{router, Models, Options};
use nabla_train::Training;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

fn model() -> Model {
    let mut m = Sequential::new([2, 2])
        .add(nabla_nn::Flatten::new())
        .add(Dense::new(3).activation(Activation::Softmax))
        .build(7)
        .unwrap();
    m.set_class_names(vec!["a".into(), "b".into(), "c".into()]);
    m
}

/// Starts the server on a free port; returns the address.
fn start(options: Options) -> String {
    let models: Models = Arc::new([("m".to_string(), model())].into_iter().collect());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, router(models, options)).await.unwrap();
        });
    });
    addr
}

/// `(status, body)` of one request.
fn request(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn predictions_status_health_and_clear_errors() {
    let addr = start(Options {
        max_body: 2000,
        max_instances: 8,
        ..Default::default()
    });
    assert_eq!(
        request(&addr, "GET", "/health", ""),
        (200, "ok".to_string())
    );
    let (code, body) = request(&addr, "GET", "/v1/models/m", "");
    assert!(code == 200 && body.contains("AVAILABLE"), "{code} {body}");
    // nested as the input shape, or flat: the model's own predictions, exactly
    let (code, body) = request(
        &addr,
        "POST",
        "/v1/models/m:predict",
        r#"{"instances": [[[1, 2], [3, 4]], [0.5, -1, 0, 2]]}"#,
    );
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let x = nabla_core::Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 0.5, -1.0, 0.0, 2.0], &[2, 2, 2]);
    let want = model().predict(&x).unwrap();
    let got: Vec<f32> = v["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap() as f32)
        })
        .collect();
    assert_eq!(got, want.data());
    assert_eq!(v["classes"].as_array().unwrap().len(), 2);
    // bad requests: each a 4xx naming its problem; the server goes on
    let cases = [
        ("/v1/models/m:predict", "{not json", 400, "not JSON"),
        (
            "/v1/models/m:predict",
            r#"{"inputs": [1]}"#,
            400,
            "instances\\\": [..]",
        ),
        (
            "/v1/models/m:predict",
            r#"{"instances": [[1, 2, 3]]}"#,
            400,
            "expected 4 numbers",
        ),
        (
            "/v1/models/m:predict",
            r#"{"instances": [[1, 2, "x", 4]]}"#,
            400,
            "expected numbers",
        ),
        (
            "/v1/models/m:predict",
            r#"{"instances": []}"#,
            400,
            "expected 1 to 8 samples",
        ),
        (
            "/v1/models/nope:predict",
            r#"{"instances": [[1, 2, 3, 4]]}"#,
            404,
            "no model named 'nope'",
        ),
        (
            "/v1/models/m:explain",
            r#"{"instances": [[1, 2, 3, 4]]}"#,
            404,
            ":predict",
        ),
    ];
    for (path, body, code, says) in cases {
        let (c, b) = request(&addr, "POST", path, body);
        assert_eq!(c, code, "{path} {body}: {b}");
        assert!(b.contains(says), "{path} {body}: {b}");
    }
    let big = format!(r#"{{"instances": [[{}]]}}"#, vec!["1.0"; 1000].join(","));
    assert_eq!(request(&addr, "POST", "/v1/models/m:predict", &big).0, 413);
    let one = r#"{"instances": [[1, 2, 3, 4]]}"#;
    assert_eq!(
        request(&addr, "POST", "/v1/models/m:predict", one).0,
        200,
        "still serving"
    );
}

/// A metric's value in the `/metrics` text (0 when absent).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Dynamic batching: concurrent requests are joined into fewer model runs, and each gets its
/// own rows (the model's predictions for its instances); `/metrics` counts the requests by
/// status, their latency and the instances per run; a bad request is refused alone, never
/// failing the batch it would have joined.
#[test]
fn dynamic_batching_answers_each_request_with_its_rows_and_metrics_count_them() {
    let addr = start(Options {
        max_batch: 64,
        batch_wait: std::time::Duration::from_millis(300),
        ..Default::default()
    });
    let clients: Vec<_> = (0..8)
        .map(|k| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let x = [k as f32, 1.0, -0.5 * k as f32, 2.0];
                let body = format!(r#"{{"instances": [{x:?}, {x:?}]}}"#);
                let (code, body) = request(&addr, "POST", "/v1/models/m:predict", &body);
                (x, code, body)
            })
        })
        .collect();
    let bad = request(
        &addr,
        "POST",
        "/v1/models/m:predict",
        r#"{"instances": [[1, 2]]}"#,
    );
    assert_eq!(bad.0, 400, "{}", bad.1);
    for c in clients {
        let (x, code, body) = c.join().unwrap();
        assert_eq!(code, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let want = model()
            .predict(&nabla_core::Tensor::from_vec(x.repeat(2), &[2, 2, 2]))
            .unwrap();
        let got: Vec<f32> = v["predictions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().clone())
            .map(|p| p.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(got.len(), want.numel());
        for (g, w) in got.iter().zip(want.data()) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {:?}", want.data());
        }
    }
    assert_eq!(request(&addr, "POST", "/v1/models/x:predict", "{}").0, 404);
    let (code, text) = request(&addr, "GET", "/metrics", "");
    assert_eq!(code, 200);
    let m = |name: &str| metric(&text, name);
    assert_eq!(
        m("nabla_requests_total{model=\"m\",code=\"200\"}"),
        8.0,
        "{text}"
    );
    assert_eq!(
        m("nabla_requests_total{model=\"m\",code=\"400\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        m("nabla_requests_total{model=\"_unknown\",code=\"404\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        m("nabla_request_duration_seconds_count{model=\"m\"}"),
        9.0,
        "{text}"
    );
    // 16 instances in fewer than 8 runs: requests were joined
    assert_eq!(m("nabla_batch_size_sum{model=\"m\"}"), 16.0, "{text}");
    let runs = m("nabla_batch_size_count{model=\"m\"}");
    assert!((1.0..8.0).contains(&runs), "{runs} runs\n{text}");
}
