#!/usr/bin/env python3
"""PyTorch peer of benches/clip_throughput.rs: transformers CLIPModel with the configs of
openai/clip-vit-base-patch32, -base-patch16 and -large-patch14, random weights, CPU, 2 threads, under
inference_mode; images/s of the image tower at batch 1, 8, 32 (ViT-B/16, ViT-L/14: 1, 8) and texts/s of
ViT-B/32's text tower (77 tokens) at batch 1, 8, 32.

    .venv-ref/bin/python scripts/torch_throughput_clip.py [b32 b16 l14]
"""
import sys
import time

import torch
from transformers import CLIPConfig, CLIPModel

RUN = 6.0

MODELS = {
    "b32": ("ViT-B/32", dict(projection_dim=512, vision_config=dict()), (1, 8, 32)),
    "b16": ("ViT-B/16", dict(projection_dim=512, vision_config=dict(patch_size=16)), (1, 8)),
    "l14": (
        "ViT-L/14",
        dict(
            projection_dim=768,
            vision_config=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                               num_attention_heads=16, patch_size=14),
            text_config_extra=dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12),
        ),
        (1, 8),
    ),
}


def rate(fn, batch):
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < RUN or n < 3 * batch:
        fn()
        n += batch
    secs = time.perf_counter() - start
    return n / secs, n, secs


def main():
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")] or list(MODELS)
    torch.set_num_threads(2)
    torch.manual_seed(0)
    print(f"CLIP (random weights), PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads")
    ids = torch.tensor([[49406] + [320 + i * 13 for i in range(75)] + [49407]])
    for key in wanted:
        name, cfg, batches = MODELS[key]
        text = dict(eos_token_id=49407, **cfg.get("text_config_extra", {}))
        config = CLIPConfig(projection_dim=cfg["projection_dim"], text_config=text,
                            vision_config=cfg["vision_config"])
        model = CLIPModel(config).eval()
        with torch.inference_mode():
            for batch in batches:
                px = torch.randn(batch, 3, 224, 224)
                r, n, s = rate(lambda: model.get_image_features(pixel_values=px), batch)
                print(f"{name} image batch {batch:>2}: {r:7.1f} images/s ({n} images in {s:.1f} s)")
            if key != "b32":
                continue
            for batch in (1, 8, 32):
                x = ids.repeat(batch, 1)
                r, n, s = rate(lambda: model.get_text_features(input_ids=x), batch)
                print(f"{name} text  batch {batch:>2}: {r:7.1f} texts/s ({n} texts in {s:.1f} s, 77 tokens)")


if __name__ == "__main__":
    main()
