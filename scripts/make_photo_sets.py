"""Phone-sized photo sets for the decoding benchmark (scripts/bench_photos.sh), made from real photos.

From the first N ukbench-14 photos (640 x 480 JPEGs) it writes, under OUT (default target/photo-sets):
  640/   the photos as they are (the baseline every rate is compared with);
  12mp/  each enlarged to 4032 x 3024 (bicubic) with a little sensor-like noise so that the files weigh what
         phone photos weigh (about 2.5 MB at quality 92), every fourth one stored turned and tagged with EXIF
         orientation 6, as phones write portrait photos;
  48mp/  the first 8 of them at 8064 x 6048 (about 9 MB), for the peak-memory comparison.

Run: python3 -m venv /tmp/photo-venv && /tmp/photo-venv/bin/pip install pillow numpy
     /tmp/photo-venv/bin/python scripts/make_photo_sets.py [--n 32] [--out target/photo-sets]
(--n 200 for the browse-grid figure: past the 56 photos they repeat under new names, with other noise.)
"""
import argparse
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
UKBENCH = ROOT.parent / "shared" / "data" / "ukbench-14"
NOISE = 4.0  # standard deviation of the added noise, in 8-bit levels
ORIENTATION_TAG = 0x0112


def phone_jpeg(photo: Image.Image, size, path: Path, turned: bool, rng) -> None:
    big = photo.resize(size, Image.BICUBIC)
    pixels = np.asarray(big, dtype=np.float32)
    pixels += rng.normal(0.0, NOISE, pixels.shape).astype(np.float32)
    big = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    if turned:
        # Stored turned a quarter clockwise; EXIF orientation 6 tells readers to turn it back.
        big = big.transpose(Image.Transpose.ROTATE_90)
        exif[ORIENTATION_TAG] = 6
    big.save(path, quality=92, exif=exif.tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "photo-sets")
    args = parser.parse_args()
    found = sorted(UKBENCH.glob("ukbench*.jpg"))
    if not found:
        raise SystemExit(f"no ukbench photos in {UKBENCH}")
    # Past the 56 photos, they repeat under new names (their noise differs, so their contents do too).
    photos = [found[i % len(found)] for i in range(args.n)]
    rng = np.random.default_rng(0)
    for name in ("640", "12mp", "48mp"):
        shutil.rmtree(args.out / name, ignore_errors=True)
        (args.out / name).mkdir(parents=True)
    for i, path in enumerate(photos):
        name = f"photo{i:04d}.jpg"
        shutil.copy(path, args.out / "640" / name)
        photo = Image.open(path).convert("RGB")
        phone_jpeg(photo, (4032, 3024), args.out / "12mp" / name, i % 4 == 3, rng)
        if i < 8:
            phone_jpeg(photo, (8064, 6048), args.out / "48mp" / name, i % 4 == 3, rng)
    for name in ("640", "12mp", "48mp"):
        files = list((args.out / name).iterdir())
        mean = sum(os.path.getsize(f) for f in files) / len(files)
        print(f"{args.out / name}: {len(files)} JPEGs, {mean / 1e6:.2f} MB each on average")


if __name__ == "__main__":
    main()
