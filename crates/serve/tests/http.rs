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
