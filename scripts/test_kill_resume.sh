#!/usr/bin/env bash
# Crash recovery (issue 25): `nabla train` of a 3-epoch spec is killed with SIGKILL at N
# moments spread over the run (default 20), each followed by `--resume` (or a fresh start when
# no checkpoint was written yet). Every run must end with the uninterrupted run's weights (bit
# for bit), history and files, and no temporary file left behind.
#   bash scripts/test_kill_resume.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
cargo build --release -q -p nabla-cli
nabla=$PWD/target/release/nabla
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed -e 's/^epochs = .*/epochs = 3/' specs/mnist_mlp.toml > "$work/spec.toml"
# the weights of a model file, by name, as bytes (the header's metadata is a map: its order
# may differ between two writes of the same model)
weights() {
    python3 - "$1" <<'PY'
import json, struct, sys, hashlib
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
d = b[8 + n:]
for k in sorted(k for k in h if k != "__metadata__"):
    s, e = h[k]["data_offsets"]
    print(k, hashlib.sha256(d[s:e]).hexdigest())
PY
}
start=$(date +%s.%N)
"$nabla" train "$work/spec.toml" --out "$work/whole" -q >/dev/null
took=$(python3 -c "import time; print(time.time() - $start)")
echo "uninterrupted run: $took s"
weights "$work/whole/model.safetensors" > "$work/whole.w"
for i in $(seq "$n"); do
    out="$work/run$i"
    delay=$(python3 -c "print(round($took * ($i - 0.5) / $n, 3))")
    "$nabla" train "$work/spec.toml" --out "$out" -q >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ -e "$out/checkpoint.safetensors" ]; then
        "$nabla" train "$work/spec.toml" --out "$out" --resume -q >/dev/null
        how="resumed"
    else
        "$nabla" train "$work/spec.toml" --out "$out" -q >/dev/null
        how="started again (no checkpoint yet)"
    fi
    weights "$out/model.safetensors" | cmp -s - "$work/whole.w" || { echo "kill $i at $delay s: the weights differ"; exit 1; }
    cmp -s "$out/history.csv" "$work/whole/history.csv" || { echo "kill $i at $delay s: history.csv differs"; diff "$out/history.csv" "$work/whole/history.csv"; exit 1; }
    for f in spec.toml curves.png checkpoint.safetensors; do
        [ -e "$out/$f" ] || { echo "kill $i at $delay s: $f missing"; exit 1; }
    done
    left=$(find "$out" -name '*.tmp' | wc -l)
    [ "$left" -eq 0 ] || { echo "kill $i at $delay s: $left temporary files left"; ls -A "$out"; exit 1; }
    echo "kill $i at $delay s: $how, same weights, history and files"
done
echo "test_kill_resume: ok ($n kills)"
