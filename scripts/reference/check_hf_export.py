"""Checks that a sequence-classification folder exported by nabla loads in Hugging Face transformers
and gives the logits nabla computed.

    python3 scripts/reference/check_hf_export.py EXPORTED_DIR EXPECTED.json

EXPORTED_DIR is a Hugging Face model folder (config.json, model.safetensors). EXPECTED.json holds
`input_ids`, `token_type_ids` and `attention_mask` (lists of lists of ints, one row per sequence,
already padded to one length; `token_type_ids` may be left out) and `logits` (lists of floats, one
row of num_labels per sequence). tests/fixtures/hub/tiny_bert_cls_reference.json has this shape.

The folder is loaded with AutoModelForSequenceClassification.from_pretrained(EXPORTED_DIR,
dtype=torch.float32, attn_implementation="eager", output_loading_info=True); any missing,
unexpected or mismatched tensor fails the check. The model runs in eval mode on the ids and the
script prints one JSON line

    {"max_abs_diff": ..., "n": <number of sequences>, "labels": model.config.id2label}

and exits 1 if max_abs_diff > 1e-4 (or the logits' shapes differ), 0 otherwise. Needs torch and
transformers 5.x; runs on the CPU.
"""

import json
import sys

import torch

TOLERANCE = 1e-4


def main(exported_dir, expected_path):
    from transformers import AutoModelForSequenceClassification

    with open(expected_path) as f:
        expected = json.load(f)
    model, info = AutoModelForSequenceClassification.from_pretrained(
        exported_dir, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:  # missing_keys, unexpected_keys, mismatched_keys, error_msgs
        sys.exit(f"check_hf_export: {exported_dir} does not load cleanly: {bad}")
    model.eval()

    inputs = {k: torch.tensor(expected[k], dtype=torch.long)
              for k in ("input_ids", "token_type_ids", "attention_mask") if k in expected}
    want = torch.tensor(expected["logits"], dtype=torch.float32)
    with torch.no_grad():
        got = model(**inputs).logits.float()
    if got.shape != want.shape:
        sys.exit(f"check_hf_export: logits shape {list(got.shape)}, expected {list(want.shape)}")
    diff = float((got - want).abs().max()) if want.numel() else 0.0
    print(json.dumps({"max_abs_diff": diff, "n": int(want.shape[0]), "labels": model.config.id2label},
                     ensure_ascii=False))
    return 0 if diff <= TOLERANCE else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: check_hf_export.py EXPORTED_DIR EXPECTED.json")
    sys.exit(main(sys.argv[1], sys.argv[2]))
