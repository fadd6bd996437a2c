#!/usr/bin/env python3
"""Writes the HEIC and AVIF test fixtures of tests/fixtures/heif/ from the sample photos (sample_images/).

Each fixture is small (tens of KB) and checked in; this script says how each was made and remakes them:

- `squirrel.heic`, `squirrel.avif`, `butterfly.heic`, `butterfly.avif`: the JPEGs `sample_images/squirrel_cls.jpg`
  and `sample_images/butterfly.jpg` (their twins, which the tests read from sample_images/) re-encoded, HEVC
  through pillow-heif (libheif + x265) and AV1 through Pillow's own AVIF plugin (libavif).
- `butterfly_10bit.heic`: `butterfly.jpg` as 10-bit HEVC (its 8-bit values shifted to 16 bits, which
  pillow-heif writes as 10), as cameras and AVIF/HDR encoders write: decoded to 8-bit RGB like the others.
- `messi_rotated.heic`: `sample_images/messi5.jpg` stored turned a quarter (the pixels as a phone's sensor gives
  them) with the transforms that stand it up again in the HEIF container (`irot`/`imir`, written by libheif from
  the EXIF orientation 6) AND that EXIF orientation 6 kept in its EXIF block, as iPhones write them. A reader that
  applies the container's transforms and then the EXIF orientation again gets it turned twice.
- `corrupt.heic`: `squirrel.heic`'s `ftyp` box followed by 4 KB of noise (a HEIC by its brand, unreadable after).
- `truncated.heic`: the first half of `squirrel.heic` (the coded image data cut off).

Usage (PyPI is reachable, a venv under /tmp is enough):
    python3 -m venv /tmp/heif && /tmp/heif/bin/pip install pillow-heif pillow
    /tmp/heif/bin/python scripts/make_heif_fixtures.py
"""

import io
import random
import struct
import sys
from pathlib import Path

import pillow_heif
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
OUT = ROOT / "tests" / "fixtures" / "heif"

# Re-encoding quality: files of tens of KB at these sizes. AV1 at 70 blurs the fur of the squirrel enough to
# move its Lite0 embedding to a cosine of 0.987 from the JPEG's; at 80 it stays over 0.99 (phones encode higher).
HEIC_QUALITY = 70
AVIF_QUALITY = 80

TWINS = {"squirrel": "squirrel_cls.jpg", "butterfly": "butterfly.jpg"}
ROTATED_SOURCE = "messi5.jpg"
EXIF_ORIENTATION_TAG = 0x0112


def exif_with_orientation(orientation: int) -> bytes:
    """A minimal EXIF block (TIFF header, one IFD) holding only the orientation tag."""
    exif = Image.Exif()
    exif[EXIF_ORIENTATION_TAG] = orientation
    return exif.tobytes()


def write(name: str, data: bytes) -> None:
    path = OUT / name
    path.write_bytes(data)
    print(f"{path.relative_to(ROOT)}: {len(data)} bytes", file=sys.stderr)


def encode_heic(image: Image.Image, **kwargs) -> bytes:
    out = io.BytesIO()
    pillow_heif.from_pillow(image).save(out, quality=HEIC_QUALITY, **kwargs)
    return out.getvalue()


def encode_avif(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="AVIF", quality=AVIF_QUALITY)
    return out.getvalue()


def ftyp_end(data: bytes) -> int:
    size, kind = struct.unpack(">I4s", data[:8])
    assert kind == b"ftyp", kind
    return size


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, source in TWINS.items():
        image = Image.open(SAMPLES / source).convert("RGB")
        write(f"{name}.heic", encode_heic(image))
        write(f"{name}.avif", encode_avif(image))

    butterfly = Image.open(SAMPLES / TWINS["butterfly"]).convert("RGB")
    wide = b"".join(struct.pack("<H", v << 8) for v in butterfly.tobytes())
    ten_bit = pillow_heif.from_bytes(mode="RGB;16", size=butterfly.size, data=wide)
    out = io.BytesIO()
    ten_bit.save(out, quality=HEIC_QUALITY)
    write("butterfly_10bit.heic", out.getvalue())

    # Stored a quarter turn off (EXIF 6: the stored image is turned 90 degrees counter-clockwise; the reader
    # turns it 90 degrees clockwise), with EXIF 6 in the file: pillow-heif hands the orientation to libheif,
    # which writes irot/imir, and keeps the EXIF block as given.
    upright = Image.open(SAMPLES / ROTATED_SOURCE).convert("RGB")
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    write("messi_rotated.heic", encode_heic(stored, exif=exif_with_orientation(6)))

    heic = (OUT / "squirrel.heic").read_bytes()
    noise = random.Random(29).randbytes(4096)
    write("corrupt.heic", heic[: ftyp_end(heic)] + noise)
    write("truncated.heic", heic[: len(heic) // 2])


if __name__ == "__main__":
    main()
