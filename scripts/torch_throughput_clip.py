#!/usr/bin/env python3
"""PyTorch peer of benches/clip_throughput.rs: transformers CLIPModel with openai/clip-vit-base-patch32's config,
random weights, CPU, 2 threads; images/s of the image tower and texts/s of the text tower (77 tokens) at batch 1, 8, 32.

    .venv-ref/bin/python scripts/torch_throughput_clip.py
"""
import time

import torch
from transformers import CLIPConfig, CLIPModel

RUN = 6.0


def rate(fn, batch):
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < RUN or n < 3 * batch:
        fn()
        n += batch
    secs = time.perf_counter() - start
    return n / secs, n, secs


def main():
    torch.set_num_threads(2)
    torch.manual_seed(0)
    config = CLIPConfig(projection_dim=512, text_config=dict(eos_token_id=49407), vision_config=dict())
    model = CLIPModel(config).eval()
    print(f"CLIP ViT-B/32 (random weights), PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads")
    ids = torch.tensor([[49406] + [320 + i * 13 for i in range(75)] + [49407]])
    with torch.inference_mode():
        for batch in (1, 8, 32):
            px = torch.randn(batch, 3, 224, 224)
            r, n, s = rate(lambda: model.get_image_features(pixel_values=px), batch)
            print(f"image batch {batch:>2}: {r:7.1f} images/s ({n} images in {s:.1f} s)")
        for batch in (1, 8, 32):
            x = ids.repeat(batch, 1)
            r, n, s = rate(lambda: model.get_text_features(input_ids=x), batch)
            print(f"text  batch {batch:>2}: {r:7.1f} texts/s ({n} texts in {s:.1f} s, 77 tokens)")


if __name__ == "__main__":
    main()
