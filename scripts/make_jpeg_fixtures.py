#!/usr/bin/env python3
"""Writes the JPEG test fixtures of tests/fixtures/jpeg/ from the sample photos (sample_images/).

They hold what the other JPEGs the tests read do not: restart markers, which libjpeg-turbo's compressor (the
one the tests can call) does not write, and a progressive file. Each is a small crop, re-encoded by Pillow
(its libjpeg-turbo), a few KB, and checked in:

- `restart-420.jpg`: `sample_images/baboon.jpg`, a 161 x 97 crop (sides that are no multiple of the 16-pixel
  MCU), 4:2:0, a restart marker every 3 MCUs.
- `restart-444-rows.jpg`: `sample_images/china.jpg`, a 120 x 80 crop, 4:4:4, a restart marker every MCU row.
- `restart-gray.jpg`: `sample_images/butterfly.jpg` in grayscale, 75 x 61, a restart marker every 7 blocks.
- `progressive.jpg`: the `restart-420.jpg` crop, progressive (the 1/8 decoder leaves it to libjpeg-turbo).

Usage (PyPI is reachable, a venv under /tmp is enough):
    python3 -m venv /tmp/jpeg && /tmp/jpeg/bin/pip install pillow
    /tmp/jpeg/bin/python scripts/make_jpeg_fixtures.py
"""

from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
OUT = ROOT / "tests" / "fixtures" / "jpeg"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    baboon = Image.open(SAMPLES / "baboon.jpg").convert("RGB").crop((40, 30, 201, 127))
    baboon.save(OUT / "restart-420.jpg", quality=90, subsampling=2, restart_marker_blocks=3)
    baboon.save(OUT / "progressive.jpg", quality=90, subsampling=2, progressive=True)
    china = Image.open(SAMPLES / "china.jpg").convert("RGB").crop((200, 150, 320, 230))
    china.save(OUT / "restart-444-rows.jpg", quality=95, subsampling=0, restart_marker_rows=1)
    butterfly = Image.open(SAMPLES / "butterfly.jpg").convert("L").crop((10, 10, 85, 71))
    butterfly.save(OUT / "restart-gray.jpg", quality=85, restart_marker_blocks=7)
    for path in sorted(OUT.glob("*.jpg")):
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
