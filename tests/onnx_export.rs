//! `Model::to_onnx` (issue 23): a model of the layers ONNX export knows gives an ONNX file
//! (ModelProto, IR version 8, opset 17) naming the ops in the order they run, with the
//! weights as initializers; a layer it does not know is an error naming the layer and its
//! type. The numbers are checked against onnxruntime by scripts/check_onnx.py (Python, not
//! needed here): W1, W2, W3, a residual net with batch norm, LeNet-5, bidirectional and
//! stacked GRU, LSTM and simple RNN stacks agree to 1e-6.

use nabla::prelude::*;

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_cnn_and_an_lstm_export_to_onnx_and_a_layer_norm_is_refused_by_name() {
    let m = Sequential::new([1, 8, 8])
        .add(Conv2d::new(4, 3).activation(Activation::Relu))
        .add(Pool2d::max(2))
        .add(Flatten::new())
        .add(Dropout::new(0.5))
        .add(Dense::new(3).activation(Activation::Softmax))
        .build(1)
        .unwrap();
    let bytes = m.to_onnx().unwrap();
    // field 1 (ir_version) = 8, then the producer's name
    assert_eq!(&bytes[..2], &[0x08, 0x08]);
    assert!(contains(&bytes, "nabla"));
    for op in [
        "Conv", "Relu", "MaxPool", "Flatten", "MatMul", "Add", "Softmax",
    ] {
        assert!(contains(&bytes, op), "{op}");
    }
    assert!(
        !contains(&bytes, "Dropout"),
        "dropout is the identity at inference"
    );
    // every weight is there, as raw little-endian floats
    let kernel = &m.graph().layers[0].params()[0].value;
    let raw: Vec<u8> = kernel.data().iter().flat_map(|v| v.to_le_bytes()).collect();
    assert!(bytes.windows(raw.len()).any(|w| w == raw.as_slice()));
    let lstm = Sequential::new([5, 4])
        .add(Lstm::new(3))
        .add(Dense::new(2))
        .build(1)
        .unwrap();
    let bytes = lstm.to_onnx().unwrap();
    for op in ["Transpose", "LSTM", "Reshape", "MatMul"] {
        assert!(contains(&bytes, op), "{op}");
    }
    let norm = Sequential::new([5, 4])
        .add(nabla::nn::layers::LayerNorm::new())
        .build(1)
        .unwrap();
    let e = norm.to_onnx().unwrap_err().to_string();
    assert!(
        e.contains("layer 'layer_norm'") && e.contains("'layer_norm'"),
        "{e}"
    );
}
