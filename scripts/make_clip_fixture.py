#!/usr/bin/env python3
"""Builds tests/fixtures/clip-tiny: a small random Hugging Face CLIPModel plus reference outputs.

Run from the workspace root with the reference venv (torch, transformers, open_clip_torch, pillow):
    .venv-ref/bin/python scripts/make_clip_fixture.py

Writes:
  config.json, model.safetensors (float16 weights), preprocessor_config.json  - a normal HF CLIP folder
  tokenizer.json.gz   - CLIP BPE tokenizer built from open_clip's bpe_simple_vocab_16e6.txt.gz (gzip: size)
  reference.safetensors - fixed inputs and transformers' outputs
  reference.json      - photo names, strings and their CLIPTokenizer ids, and OpenAI's ids
                        (scripts/clip_openai_ids.py, from OpenAI's algorithm)
The Rust tests unpack this into a temporary HF-style folder and load it through vsearch's registry.
"""
import gzip
import html  # noqa: F401  (CLIP's tokenizer cleans text with ftfy/html; kept for parity of imports)
import json
import os
import tempfile

import numpy as np
import torch
from PIL import Image, ImageOps
from safetensors.torch import save_file

import open_clip
import clip_openai_ids  # scripts/clip_openai_ids.py: OpenAI's tokenizer ids, from its algorithm
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "clip-tiny")
PHOTOS = os.path.join(ROOT, "..", "shared", "data", "ukbench-14")
PHOTO_NAMES = ["ukbench00000.jpg", "ukbench00005.jpg", "ukbench00010.jpg", "ukbench00023.jpg",
               "ukbench00042.jpg"]

STRINGS = [
    "a photo of a cat",
    "A PHOTO OF A DOG",
    "",
    "Hello, World!!! How's it going?",
    "naïve café crème brûlée",
    "Ünïcödé façade Ångström",
    "emoji 🐱🐶 and 🚀 rockets",
    "日本語のテキスト",
    "中文文本测试",
    "Привет мир",
    "numbers 1234567890 and 3.14159",
    "punctuation: ;;; ... ??? !!! --- ((()))",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines",
    "it's don't won't they're",
    "a red car parked next to a blue house",
    "MiXeD CaSe WoRdS",
    "<|endoftext|> inside text",
    "user@example.com http://example.com/path?q=1",
    "ﬁ ligature and ½ fractions",
    "one two three four five six seven eight nine ten " * 12,
    "x",
]


def build_tokenizer(tmp):
    """vocab.json + merges.txt exactly as OpenAI's CLIP SimpleTokenizer builds them."""
    bpe_path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")
    merges = merges[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_chars = [chr(c) for c in cs]
    vocab = byte_chars + [v + "</w>" for v in byte_chars]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408, len(vocab)
    # transformers 5's CLIPTokenizer is the tokenizers-backed one; it takes the vocab and merges directly.
    tok = CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=merges, model_max_length=77)
    tok.save_pretrained(tmp)
    return tok


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(1234)
    config = CLIPConfig(
        text_config=dict(vocab_size=49408, hidden_size=16, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
                         bos_token_id=49406, eos_token_id=49407, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                           image_size=224, patch_size=32, hidden_act="quick_gelu"),
        projection_dim=16,
    )
    model = CLIPModel(config).eval()
    # Spread the weights (the default init is tiny) so that errors would show, then round through float16:
    # the fixture stores float16 weights (size), and the reference uses exactly those values in float32.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layrnorm" in name or "layernorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
            elif name == "logit_scale":
                continue
            else:
                p.copy_(torch.randn_like(p) * 0.2)
            p.copy_(p.half().float())
    model.save_pretrained(OUT, safe_serialization=True)
    # Re-save the weights as float16.
    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    state["logit_scale"] = model.logit_scale.detach().float().reshape(())
    save_file(state, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})

    processor = CLIPImageProcessorPil()  # CLIP's defaults: shortest edge 224, bicubic, crop 224, CLIP mean/std
    processor.save_pretrained(OUT)

    with tempfile.TemporaryDirectory() as tmp:
        slow = build_tokenizer(tmp)
        with open(os.path.join(tmp, "tokenizer.json"), "rb") as f:
            data = f.read()
    with gzip.open(os.path.join(OUT, "tokenizer.json.gz"), "wb", compresslevel=9) as f:
        f.write(data)

    # Tokenizer reference: transformers' CLIPTokenizer ids, truncated to 77 like CLIP does.
    ids = [slow(s, truncation=True, max_length=77)["input_ids"] for s in STRINGS]

    ref = {}
    with torch.no_grad():
        # Fixed pixel tensors.
        g = torch.Generator().manual_seed(7)
        pixels = torch.randn(2, 3, 224, 224, generator=g).half().float()  # stored as float16 (size)
        ref["fixed_pixels"] = pixels.half()
        # Fixed token ids: a padded batch (padding with eos as CLIPTokenizer's pad token).
        batch = slow(STRINGS[:6], truncation=True, max_length=77, padding=True, return_tensors="pt")
        ref["fixed_input_ids"] = batch["input_ids"].to(torch.int64)
        ref["fixed_attention_mask"] = batch["attention_mask"].to(torch.int64)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    pixel_values=pixels)
        ref["image_embeds"] = out.image_embeds.float()  # normalised
        ref["text_embeds"] = out.text_embeds.float()  # normalised
        ref["logits_per_image"] = out.logits_per_image.float()
        ref["image_features"] = model.get_image_features(pixel_values=pixels).pooler_output.float()
        ref["text_features"] = model.get_text_features(input_ids=batch["input_ids"],
                                                       attention_mask=batch["attention_mask"]).pooler_output.float()

        # Photos through CLIPImageProcessorPil (the PIL one), after exif_transpose + RGB.
        photo_pixels = []
        for name in PHOTO_NAMES:
            img = ImageOps.exif_transpose(Image.open(os.path.join(PHOTOS, name))).convert("RGB")
            photo_pixels.append(processor(images=img, return_tensors="pt")["pixel_values"][0])
        photo_pixels = torch.stack(photo_pixels)
        ref["photo_pixels"] = photo_pixels.half()
        # Photo embeddings from the exact processor output (the user path must come close).
        ref["photo_embeds"] = torch.nn.functional.normalize(
            model.get_image_features(pixel_values=photo_pixels).pooler_output.float(), dim=-1)

    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "reference.safetensors"))
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"photos": PHOTO_NAMES, "photo_dir": "../shared/data/ukbench-14", "strings": STRINGS,
                   "ids": ids, "fixed_strings": STRINGS[:6]}, f, ensure_ascii=False, indent=1)
    # OpenAI's ids beside transformers' (the Rust tests require vsearch's to equal OpenAI's).
    clip_openai_ids.main()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote", OUT, "total bytes", total)


if __name__ == "__main__":
    main()
