"""Writes real MNIST digits as image files, for the image-loading tests.

    python3 scripts/make_digit_images.py

Reads the embedded digits (data/mnist/*.gz, IDX format; provenance in data/README.md) and takes
samples from the *test split* only (indices 8000..9999; the first 8,000 are the training split):

* tests/fixtures/digits/digit_<label>_idx<index>.png: the first test sample of each class 0..9,
  28x28 8-bit grayscale PNG (colour type 0), the raw MNIST bytes (white digit on black).
* tests/fixtures/digits/rgb56_digit_<label>_idx<index>.png: one of those digits as an 8-bit RGB
  PNG (colour type 2) scaled to 56x56 by nearest neighbour (each pixel becomes a 2x2 block),
  with R = G = B = the MNIST byte, so a loader must convert colour to gray and resize.
* tests/fixtures/digits/digit_<label>_idx<index>.jpg: one digit as a grayscale JPEG, quality 95
  (lossy: pixels are close to, not equal to, the MNIST bytes). Needs Pillow; skipped with a
  message when Pillow is missing (the committed file was made with Pillow, see the README).
* tests/fixtures/image_folder/<class>/<index>.png: a one-sub-folder-per-class dataset with
  classes 0, 1, 2 (the folder name is the label), the first four test samples of each class,
  28x28 grayscale PNG.
* tests/fixtures/digits/README.md: provenance and the file list.

Standard library only (gzip, struct, zlib); the PNGs are written by hand. Deterministic: running
it again gives byte-identical PNGs.
"""

import gzip
import os
import struct
import sys
import zlib

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
IMAGES = os.path.join(ROOT, "data", "mnist", "mnist10k-images-idx3-ubyte.gz")
LABELS = os.path.join(ROOT, "data", "mnist", "mnist10k-labels-idx1-ubyte.gz")
DIGITS = os.path.join(ROOT, "tests", "fixtures", "digits")
FOLDER = os.path.join(ROOT, "tests", "fixtures", "image_folder")

TRAIN = 8000  # first 8,000 train, last 2,000 test (data/README.md, crates/data/src/mnist.rs)
RGB_LABEL = 3  # which digit gets the 56x56 RGB variant
JPEG_LABEL = 7  # which digit gets the JPEG variant
FOLDER_CLASSES = (0, 1, 2)
FOLDER_PER_CLASS = 4


def read_idx(path):
    """Parses a (gzip-compressed) IDX file: returns (dims, data bytes). uint8 data only."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = raw[4 + 4 * ndim:]
    count = 1
    for d in dims:
        count *= d
    if len(data) != count:
        raise ValueError(f"{path}: {len(data)} data bytes, dims {dims} need {count}")
    return dims, data


def png_chunk(kind, payload):
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png_bytes(width, height, channels, pixels):
    """8-bit PNG: channels 1 -> grayscale (colour type 0), 3 -> RGB (colour type 2).
    `pixels` is row-major, `channels` bytes per pixel. Every row uses filter type 0 (None)."""
    colour_type = {1: 0, 3: 2}[channels]
    stride = width * channels
    assert len(pixels) == stride * height
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    print("wrote", os.path.relpath(path, ROOT))


def main():
    (n, h, w), images = read_idx(IMAGES)
    (n_labels,), labels = read_idx(LABELS)
    assert n == n_labels == 10000 and (h, w) == (28, 28), (n, n_labels, h, w)
    size = h * w

    def image(i):
        return images[i * size:(i + 1) * size]

    # First test sample of each class, and the first few of the image-folder classes.
    first = {}
    per_class = {c: [] for c in FOLDER_CLASSES}
    for i in range(TRAIN, n):
        label = labels[i]
        first.setdefault(label, i)
        if label in per_class and len(per_class[label]) < FOLDER_PER_CLASS:
            per_class[label].append(i)
    assert sorted(first) == list(range(10))

    listing = []  # (file, label, index, what)
    for label in range(10):
        i = first[label]
        name = f"digit_{label}_idx{i}.png"
        write(os.path.join(DIGITS, name), png_bytes(w, h, 1, image(i)))
        listing.append((name, label, i, "28x28 grayscale PNG (colour type 0), exact MNIST bytes"))

    # RGB 56x56, nearest neighbour (2x2 blocks), R = G = B.
    i = first[RGB_LABEL]
    src = image(i)
    rgb = bytearray()
    for y in range(2 * h):
        for x in range(2 * w):
            v = src[(y // 2) * w + x // 2]
            rgb += bytes((v, v, v))
    name = f"rgb56_digit_{RGB_LABEL}_idx{i}.png"
    write(os.path.join(DIGITS, name), png_bytes(2 * w, 2 * h, 3, rgb))
    listing.append((name, RGB_LABEL, i, "56x56 RGB PNG (colour type 2), R = G = B, nearest-neighbour "
                    "2x upscale of the 28x28 digit: gray conversion then a 2x downscale (nearest, or "
                    "2x2 average) gives the exact MNIST bytes"))

    # JPEG (optional, needs Pillow).
    i = first[JPEG_LABEL]
    name = f"digit_{JPEG_LABEL}_idx{i}.jpg"
    jpeg_note = None
    try:
        from PIL import Image
        import PIL
    except ImportError:
        print(f"Pillow not installed: skipping {name} (the committed file is kept)")
        Image = None
        jpeg_note = "made with Pillow (not rewritten by the last run: Pillow was missing)"
    if Image is not None:
        path = os.path.join(DIGITS, name)
        Image.frombytes("L", (w, h), bytes(image(i))).save(path, "JPEG", quality=95)
        print("wrote", os.path.relpath(path, ROOT))
        back = Image.open(path).convert("L").tobytes()
        err = max(abs(a - b) for a, b in zip(back, image(i)))
        mean = sum(abs(a - b) for a, b in zip(back, image(i))) / size
        jpeg_note = (f"Pillow {PIL.__version__}; decoded back with Pillow: max |diff| {err}, "
                     f"mean |diff| {mean:.2f} against the MNIST bytes")
        print("  jpeg:", jpeg_note)
    listing.append((name, JPEG_LABEL, i, "28x28 grayscale JPEG (1 channel), quality 95, lossy"))

    folder = []
    for c in FOLDER_CLASSES:
        for i in per_class[c]:
            write(os.path.join(FOLDER, str(c), f"{i}.png"), png_bytes(w, h, 1, image(i)))
            folder.append((f"{c}/{i}.png", c, i))

    write(os.path.join(DIGITS, "README.md"), readme(listing, folder, jpeg_note).encode())


def readme(listing, folder, jpeg_note):
    lines = [
        "# Digit image fixtures",
        "",
        "Real handwritten digits for the image-loading tests, taken from the embedded MNIST set",
        "(`data/mnist/`, provenance and licence in `data/README.md`: MNIST, LeCun, Cortes, Burges,",
        "CC BY-SA 3.0). Only the **test split** is used: indices 8000..9999 of the 10,000 embedded",
        "digits (the first 8,000 are the training split), so the pictures never overlap training data.",
        "`index` below is the position in the embedded 10,000 (`test index` = index - 8000).",
        "",
        "Generated by `scripts/make_digit_images.py` (Python standard library only; PNGs written by",
        "hand, 8-bit, no interlace, every row with filter type 0). Regenerate with",
        "",
        "    python3 scripts/make_digit_images.py",
        "",
        "which rewrites this README as well. The JPEG needs Pillow and is skipped when it is missing",
        "(the committed JPEG is kept).",
        "",
        "Pixels are raw MNIST bytes: white digit (255) on a black background (0). The label of every",
        "file is in its name (`digit_<label>_idx<index>`).",
        "",
        "## digits/",
        "",
        "The first test sample of each class 0-9, plus two variants that a loader has to convert.",
        "",
        "| file | label | index | test index | format |",
        "|---|---|---|---|---|",
    ]
    for name, label, i, what in listing:
        lines.append(f"| `{name}` | {label} | {i} | {i - TRAIN} | {what} |")
    if jpeg_note:
        lines += ["", f"JPEG: {jpeg_note}."]
    lines += [
        "",
        "## ../image_folder/",
        "",
        "A tiny one-sub-folder-per-class dataset: classes `0`, `1`, `2` (the folder name is the",
        "label), the first four test samples of each class, as 28x28 grayscale PNGs named",
        "`<index>.png`.",
        "",
        "| file | label | index | test index |",
        "|---|---|---|---|",
    ]
    for name, label, i in folder:
        lines.append(f"| `image_folder/{name}` | {label} | {i} | {i - TRAIN} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
