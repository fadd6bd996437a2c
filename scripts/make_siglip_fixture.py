#!/usr/bin/env python3
"""Builds tests/fixtures/siglip-tiny: a small random Hugging Face SiglipModel plus reference outputs.

Run from the workspace root with a venv holding torch, transformers, sentencepiece, protobuf, pillow:
    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install torch transformers sentencepiece protobuf pillow safetensors
    /tmp/tfenv/bin/python scripts/make_siglip_fixture.py

Writes:
  config.json, model.safetensors (float16 weights), preprocessor_config.json - a normal HF SigLIP folder
  spiece.model, tokenizer_config.json, special_tokens_map.json - SiglipTokenizer's files (no tokenizer.json,
      like google/siglip-base-patch16-224): a SentencePiece unigram model trained here on the text of
      this repository's README and licences (SigLIP's own 32k vocabulary is not reachable from here)
  reference.safetensors - fixed inputs and transformers' outputs
  reference.json - photo names, strings and their SiglipTokenizer ids (padded to max_length)
"""
import glob
import io
import json
import os

import sentencepiece as spm
import torch
from PIL import Image, ImageOps
from safetensors.torch import save_file
from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel, SiglipTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "siglip-tiny")
PHOTOS = os.path.join(ROOT, "..", "shared", "data", "ukbench-14")
PHOTO_NAMES = ["ukbench00000.jpg", "ukbench00005.jpg", "ukbench00010.jpg", "ukbench00023.jpg",
               "ukbench00042.jpg"]
MAX_LEN = 16
IMAGE_SIZE = 64

STRINGS = [
    "a photo of a cat",
    "A PHOTO OF A DOG",
    "",
    "Hello, World!!! How's it going?",
    "naïve café crème brûlée",
    "Ünïcödé façade Ångström",
    "emoji 🐱🐶 and 🚀 rockets",
    "日本語のテキスト",
    "Привет мир",
    "numbers 1234567890 and 3.14159",
    "punctuation: ;;; ... ??? !!! --- ((()))",
    "  leading and trailing spaces  ",
    "tabs\tand\nnewlines",
    "it's don't won't they're",
    "ﬁ ligature and ½ fractions",
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen",
    "▁already▁has▁spiece▁underlines",
    "</s> inside text <unk>",
    "x",
]


def corpus():
    """Lines of the repository's own prose: README, licences, crate docs."""
    lines = []
    files = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "sample_images", "LICENSES.md")]
    files += sorted(glob.glob(os.path.join(ROOT, "crates", "*", "*.md")))
    for path in files:
        with open(path, encoding="utf-8") as f:
            lines += [l.strip() for l in f if l.strip()]
    return lines


def train_spiece(path):
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus()), model_writer=model, model_type="unigram", vocab_size=600,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        character_coverage=1.0, num_threads=1, seed_sentencepiece_size=100000, shuffle_input_sentence=False,
        normalization_rule_name="nmt_nfkc")
    with open(path, "wb") as f:
        f.write(model.getvalue())


def main():
    os.makedirs(OUT, exist_ok=True)
    spiece = os.path.join(OUT, "spiece.model")
    train_spiece(spiece)
    tok = SiglipTokenizer(vocab_file=spiece, model_max_length=MAX_LEN)
    tok.save_pretrained(OUT)
    for extra in ["added_tokens.json", "tokenizer.json"]:
        p = os.path.join(OUT, extra)
        if os.path.exists(p):
            os.remove(p)

    torch.manual_seed(4321)
    config = SiglipConfig(
        text_config=dict(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=MAX_LEN, pad_token_id=1,
                         projection_size=32),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                           image_size=IMAGE_SIZE, patch_size=16),
    )
    model = SiglipModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layer_norm" in name or "layernorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
            elif name in ("logit_scale", "logit_bias"):
                continue
            else:
                p.copy_(torch.randn_like(p) * 0.2)
            p.copy_(p.half().float())
    model.save_pretrained(OUT, safe_serialization=True)
    state = {k: v.detach().half().contiguous() for k, v in model.state_dict().items()}
    for k in ("logit_scale", "logit_bias"):
        state[k] = getattr(model, k).detach().float().contiguous()
    save_file(state, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})

    processor = SiglipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    processor.save_pretrained(OUT)

    batch = tok(STRINGS, padding="max_length", truncation=True, max_length=MAX_LEN, return_tensors="pt")
    ids = batch["input_ids"].tolist()
    ref = {"input_ids": batch["input_ids"].to(torch.int64)}
    with torch.no_grad():
        ref["text_embeds"] = torch.nn.functional.normalize(
            model.get_text_features(input_ids=batch["input_ids"]).pooler_output.float(), dim=-1)
        g = torch.Generator().manual_seed(7)
        pixels = torch.randn(2, 3, IMAGE_SIZE, IMAGE_SIZE, generator=g).half().float()
        ref["fixed_pixels"] = pixels.half()
        ref["fixed_image_embeds"] = torch.nn.functional.normalize(
            model.get_image_features(pixel_values=pixels).pooler_output.float(), dim=-1)
        photo_pixels = []
        for name in PHOTO_NAMES:
            img = ImageOps.exif_transpose(Image.open(os.path.join(PHOTOS, name))).convert("RGB")
            photo_pixels.append(processor(images=img, return_tensors="pt")["pixel_values"][0])
        photo_pixels = torch.stack(photo_pixels)
        ref["photo_pixels"] = photo_pixels.float()
        ref["photo_embeds"] = torch.nn.functional.normalize(
            model.get_image_features(pixel_values=photo_pixels).pooler_output.float(), dim=-1)
    save_file({k: v.contiguous() for k, v in ref.items()}, os.path.join(OUT, "reference.safetensors"))
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"photos": PHOTO_NAMES, "photo_dir": "../shared/data/ukbench-14", "strings": STRINGS,
                   "ids": ids, "max_length": MAX_LEN}, f, ensure_ascii=False, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote", OUT, sorted(os.listdir(OUT)), "total bytes", total)


if __name__ == "__main__":
    main()
