#!/usr/bin/env bash
# The multi-process tests of data-parallel training (issue 20), under `mpirun -np 2`:
#   1. 2 processes of batch 64 give the per-epoch losses of 1 process of batch 128 (1e-5
#      relative) and end with bit-identical weights (crates/dist/tests/mpi.rs);
#   2. the same 2 processes on two test hosts (network namespaces, MPI over TCP,
#      scripts/mpi_two_hosts.sh) give the same losses, bit for bit;
#   3. `nabla train` under mpirun: one of the two processes is killed mid-run, the other stops
#      within 30 s with a non-zero status, `--resume` from the last checkpoint finishes with
#      the history of an uninterrupted run, and the checkpoint resumes on 1 process too.
# Installs Open MPI (Debian: openmpi-bin libopenmpi-dev, and libclang-dev for rsmpi's
# bindings) and iproute2 when missing; the two-host test needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s openmpi-bin libopenmpi-dev libclang-dev iproute2 >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openmpi-bin libopenmpi-dev libclang-dev iproute2 >/dev/null
fi
# Open MPI refuses root unless told (CI containers run as root); oversubscribe on 1 core
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mpirun="mpirun -np 2"

cargo clippy --release -p nabla-dist -p nabla-cli --all-targets --features mpi -- -D warnings
bin=$(cargo test --release -p nabla-dist --features mpi --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "mpi":
        print(m["executable"])')
echo "== $mpirun $bin --ignored"
$mpirun "$bin" --ignored --test-threads=1

cargo build --release -p nabla-cli --features mpi
nabla=$PWD/target/release/nabla
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== W6 (1 epoch) on one host, then on two test hosts over TCP"
losses() { grep '^{' | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["train_loss_per_epoch"], file=sys.stderr); print(r["train_loss_per_epoch"])'; }
one=$($mpirun "$nabla" bench W6 --epochs 1 | losses)
two=$(bash scripts/mpi_two_hosts.sh "$nabla" bench W6 --epochs 1 | tee "$work/two.json" | losses)
cut -c1-300 "$work/two.json"
[ "$one" = "$two" ] || { echo "two hosts: losses $two, one host: $one"; exit 1; }
cat > "$work/spec.toml" <<'SPEC'
[data]
dataset = "mnist"
[model]
input_shape = [28, 28]
layers = [
  { type = "flatten" },
  { type = "dense", units = 64, activation = "relu" },
  { type = "dense", units = 10, activation = "softmax" },
]
[train]
optimizer = { type = "adam", learning_rate = 1e-3 }
loss = "sparse_categorical_crossentropy"
metrics = ["accuracy"]
epochs = 400
batch_size = 64
seed = 1
SPEC
echo "== killing one of two processes mid-run"
$mpirun "$nabla" train "$work/spec.toml" --out "$work/run" --quiet >"$work/log" 2>&1 &
launcher=$!
for _ in $(seq 600); do [ -e "$work/run/checkpoint.safetensors" ] && break; sleep 0.1; done
[ -e "$work/run/checkpoint.safetensors" ] || { cat "$work/log"; echo "no checkpoint written"; exit 1; }
victim=$(pgrep -P "$launcher" -f "nabla train" | tail -1)
kill -9 "$victim"
start=$(date +%s)
status=0
timeout 60 tail --pid="$launcher" -f /dev/null || true
wait "$launcher" || status=$?
took=$(( $(date +%s) - start ))
tail -5 "$work/log"
echo "the launcher ended with status $status, $took s after the kill"
[ "$status" -ne 0 ] || { echo "expected a non-zero status"; exit 1; }
[ "$took" -le 30 ] || { echo "expected the run to stop within 30 s"; exit 1; }
# no half-written files: every file of the run folder is whole (temporary files are dot files)
ls -A "$work/run"
echo "== --resume on 2 processes, 5 epochs in all"
$mpirun "$nabla" train "$work/spec.toml" --out "$work/run" --resume --epochs 5 --quiet | tail -3
[ -e "$work/run/model.safetensors" ] || { echo "--resume did not finish the run"; exit 1; }
echo "== the same 5 epochs without the kill give the same history"
$mpirun "$nabla" train "$work/spec.toml" --out "$work/whole" --epochs 5 --quiet >/dev/null
diff "$work/whole/history.csv" "$work/run/history.csv" || { echo "the resumed run's history differs"; exit 1; }
echo "== the 2-process checkpoint resumes on 1 process (another count): a 6th epoch"
"$nabla" train "$work/spec.toml" --out "$work/run" --resume --epochs 6 --quiet | tail -1
[ "$(wc -l <"$work/run/history.csv")" -eq 7 ] || { cat "$work/run/history.csv"; echo "expected 6 epochs"; exit 1; }
echo "test_mpi: ok"
