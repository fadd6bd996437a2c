#!/usr/bin/env python3
"""Reference PDQ hashes for vsearch's PDQ test (tests/it/pdq.rs), from Meta's C++ implementation.

PyPI's `pdqhash` wraps ThreatExchange's pdq/cpp (its luminance, tent filter, DCT and median). This
script hashes, with it:

  * every photo of ../shared/data/ukbench-14 and sample_images/ (decoded by Pillow, EXIF orientation
    applied as vsearch applies it);
  * edited copies of some of them, written to tests/fixtures/pdq/edits/: re-encoded at JPEG quality 30,
    resized to half, centre-cropped to 80%, rotated 90 degrees (JPEG), and resized to a quarter as PNG;
  * exact edits of the PNGs (rotations, mirror, crop): the Rust test makes the same edits on its own
    decode, so both sides see the same pixels.

A PNG is lossless: Pillow and vsearch's decoder give the same pixels, so the Rust hash must be within 2
bits (floating-point order only). JPEG decoders differ slightly (libjpeg against zune-jpeg): within 10.

Run:  python3 -m venv /tmp/pdq-venv && /tmp/pdq-venv/bin/pip install pdqhash pillow numpy
      /tmp/pdq-venv/bin/python scripts/make_pdq_reference.py
Writes tests/fixtures/pdq/reference.json (and the edited copies).
"""

import json
import os
import sys

import numpy as np
import pdqhash
from PIL import Image, ImageOps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UKBENCH = os.path.join(ROOT, "..", "shared", "data", "ukbench-14")
SAMPLES = os.path.join(ROOT, "sample_images")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "pdq")
EDITS = os.path.join(FIXTURE, "edits")

# The ukbench photos whose edited copies are written (one of each of the first objects).
EDITED = ["ukbench00000.jpg", "ukbench00012.jpg", "ukbench00024.jpg", "ukbench00036.jpg"]

# Exact edits both sides make on the decoded pixels (name -> Pillow).
EXACT = {
    "rotate90": lambda im: im.transpose(Image.Transpose.ROTATE_270),  # clockwise, as image::rotate90
    "rotate180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
    "flip_horizontal": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    # The centre 80%: from (w/10, h/10), (w - 2 (w/10)) x (h - 2 (h/10)), integer division.
    "crop80": lambda im: im.crop(
        (im.width // 10, im.height // 10, im.width - im.width // 10, im.height - im.height // 10)
    ),
}


def load(path):
    im = Image.open(path)
    im = ImageOps.exif_transpose(im)
    return im.convert("RGB")


def pdq(im):
    bits, quality = pdqhash.compute(np.asarray(im, dtype=np.uint8))
    # bits[0] is the highest bit (255): the hex Meta's tools print.
    value = 0
    for b in bits:
        value = (value << 1) | int(b)
    return f"{value:064x}", int(quality)


def entry(rel, im, edit=None):
    h, q = pdq(im)
    lossless = rel.lower().endswith(".png")
    return {"file": rel, "edit": edit, "lossless": lossless, "hash": h, "quality": q}


def main():
    if not os.path.isdir(UKBENCH):
        sys.exit(f"{UKBENCH} is missing (the ukbench-14 photos beside the checkout)")
    os.makedirs(EDITS, exist_ok=True)
    out = []
    for name in sorted(os.listdir(UKBENCH)):
        if name.endswith(".jpg"):
            out.append(entry(f"../shared/data/ukbench-14/{name}", load(os.path.join(UKBENCH, name))))
    for name in sorted(os.listdir(SAMPLES)):
        if not name.lower().endswith((".jpg", ".png")):
            continue
        rel = f"sample_images/{name}"
        im = load(os.path.join(SAMPLES, name))
        out.append(entry(rel, im))
        if name.lower().endswith(".png"):
            for edit, apply in EXACT.items():
                out.append(entry(rel, apply(im), edit))
    for name in EDITED:
        im = load(os.path.join(UKBENCH, name))
        stem = name[: -len(".jpg")]
        w, h = im.size
        copies = {
            f"{stem}_q30.jpg": (im, {"quality": 30}),
            f"{stem}_half.jpg": (im.resize((w // 2, h // 2), Image.Resampling.LANCZOS), {"quality": 85}),
            f"{stem}_crop80.jpg": (EXACT["crop80"](im), {"quality": 85}),
            f"{stem}_rotate90.jpg": (EXACT["rotate90"](im), {"quality": 85}),
            f"{stem}_quarter.png": (im.resize((w // 4, h // 4), Image.Resampling.LANCZOS), {}),
        }
        for file, (copy, options) in copies.items():
            path = os.path.join(EDITS, file)
            copy.save(path, **options)
            out.append(entry(f"tests/fixtures/pdq/edits/{file}", load(path)))
    with open(os.path.join(FIXTURE, "reference.json"), "w") as f:
        json.dump(
            {
                "generator": f"scripts/make_pdq_reference.py, pdqhash {pdqhash.__version__} (Meta's pdq/cpp)",
                "images": out,
            },
            f,
            indent=1,
        )
        f.write("\n")
    print(f"{len(out)} reference hashes written to {os.path.relpath(FIXTURE, ROOT)}/reference.json")


if __name__ == "__main__":
    main()
