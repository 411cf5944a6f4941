#!/usr/bin/env bash
# Coverage-guided fuzzing of nabla's readers (issue 25): cargo-fuzz (libFuzzer) over the
# model-file, spec, CSV, IDX, image and text readers, each seeded with the valid files the
# mutation fuzzers in tests/ start from.
#
#   bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET..]     # default: 60 s, every target
#
# Installs cargo-fuzz from crates.io when missing. Builds with the machine's own toolchain:
# nightly when there is one, else stable with RUSTC_BOOTSTRAP=1 (cargo-fuzz's sanitizer flags
# are nightly features; no other toolchain can be fetched on a fresh machine).
# A crash stops the run with libFuzzer's report; the input is kept in
# fuzz/artifacts/TARGET/. CI runs the stable mutation fuzzers (tests/fuzz_*.rs) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(model_file spec csv idx image text)

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  toolchain=()
  export RUSTC_BOOTSTRAP=1
fi

corpus="$PWD/fuzz/corpus"
if [ ! -d "$corpus/model_file" ]; then
  echo "fuzz: writing the seed files to $corpus"
  NABLA_FUZZ_SEEDS="$corpus" NABLA_FUZZ_CASES=300 cargo test --release -q \
    --test fuzz_model_files --test fuzz_specs --test fuzz_data_files >/dev/null
fi

for t in "${targets[@]}"; do
  echo "fuzz: $t for ${secs} s"
  # the spec and model targets read whole files: allow inputs of up to 1 MB
  (cd fuzz && cargo "${toolchain[@]}" fuzz run --release "$t" "$corpus/$t" -- \
    -max_total_time="$secs" -max_len=1048576 -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 2>&1 \
    | grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done|==|SUMMARY|.*(panicked|ERROR|crash))" || true)
  if ls fuzz/artifacts/"$t"/crash-* fuzz/artifacts/"$t"/oom-* fuzz/artifacts/"$t"/timeout-* >/dev/null 2>&1; then
    echo "fuzz: $t found a failing input in fuzz/artifacts/$t" >&2
    exit 1
  fi
done
echo "fuzz: ok"
