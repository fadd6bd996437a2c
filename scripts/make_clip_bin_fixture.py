#!/usr/bin/env python3
"""Writes tests/fixtures/clip-tiny/pytorch_model.bin: the tiny CLIP fixture's weights (model.safetensors)
saved by torch.save in PyTorch's zip format, as Hugging Face repos without safetensors serve them.

    /tmp/tfenv/bin/python scripts/make_clip_bin_fixture.py   (a venv with torch and safetensors)
"""
import os

import torch
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIR = os.path.join(ROOT, "tests", "fixtures", "clip-tiny")

state = load_file(os.path.join(DIR, "model.safetensors"))
torch.save(dict(sorted(state.items())), os.path.join(DIR, "pytorch_model.bin"))
print("wrote", os.path.join(DIR, "pytorch_model.bin"), len(state), "tensors")
