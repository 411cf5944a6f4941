#!/usr/bin/env python3
"""Checks `nabla export MODEL --onnx` with onnxruntime (issue 23; not needed by cargo test):
exports each model, runs it in onnxruntime on N random 28x28 images, and compares with
`nabla predict MODEL --idx` on the same images (bytes / 255). One JSON line per model with
the largest difference; exits 1 if one is over 1e-4.

    pip install onnxruntime onnx numpy
    python3 scripts/check_onnx.py target/release/nabla runs/w1/model.safetensors runs/w2/model.safetensors
"""
import json, os, subprocess, sys, tempfile
import numpy as np
import onnx, onnxruntime as ort

N = 64


def idx_file(path, images):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]))
        for d in images.shape:
            f.write(int(d).to_bytes(4, "big"))
        f.write(images.tobytes())


def main():
    nabla, models = sys.argv[1], sys.argv[2:]
    images = np.random.default_rng(0).integers(0, 256, size=(N, 28, 28), dtype=np.uint8)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        idx = os.path.join(tmp, "x.idx")
        idx_file(idx, images)
        for model in models:
            path = os.path.join(tmp, "m.onnx")
            subprocess.run([nabla, "export", model, "--onnx", path], check=True, stdout=subprocess.DEVNULL)
            onnx.checker.check_model(onnx.load(path), full_check=True)
            out = subprocess.run([nabla, "predict", model, "--idx", idx, "--format", "json"],
                                 check=True, capture_output=True, text=True).stdout
            want = np.array([json.loads(l)["probabilities"] for l in out.splitlines()], dtype=np.float32)
            s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            inp = s.get_inputs()[0]
            x = (images.astype(np.float32) / 255.0).reshape([N] + [int(d) for d in inp.shape[1:]])
            got = s.run(None, {inp.name: x})[0].reshape(N, -1)
            diff = float(np.abs(got - want).max())
            worst = max(worst, diff)
            ops = sorted({n.op_type for n in onnx.load(path).graph.node})
            print(json.dumps({"model": model, "samples": N, "max_abs_diff": diff,
                              "onnxruntime": ort.__version__, "ops": ops}))
    sys.exit(0 if worst <= 1e-4 else 1)


if __name__ == "__main__":
    main()
