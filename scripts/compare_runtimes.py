#!/usr/bin/env python3
"""vsearch against ONNX Runtime and OpenVINO on one CLIP or SigLIP folder, same machine, same run, same inputs.

Exports the vision and text towers of a Hugging Face CLIPModel or SiglipModel folder (as its config.json's
model_type says) with torch.onnx (opset 17; each export checked against transformers' own outputs), then
runs, in rounds alternating the sides (vsearch, ONNX Runtime, OpenVINO, vsearch, ...):

- images: every photo of --images (default ../shared/data/ukbench-14, 56 photos) preprocessed by
  transformers' image processor for the runtimes (vsearch preprocesses with its own recipe for the family),
  model time only, at batch 1 (one call per photo) and batch 32;
- texts: the 64 captions below (short, of varied lengths) in batches of 16, CLIP's each padded to its
  longest, SigLIP's padded to the model's length (64), as SigLIP is trained and pooled (its last position);

all cores, one warm-up pass per side, best of --rounds. vsearch runs as `cargo bench --bench clip_folder`
(one process per round, loading the same folder). With --int8 it also runs ONNX Runtime's dynamic int8
(`quantize_dynamic`), OpenVINO's post-training int8 (NNCF, calibrated on the same photos and captions) and
vsearch's `--precision int8`, each with the cosine of its features to its own f32 features.

    python scripts/compare_runtimes.py [--model DIR | --random siglip-b16] [--rounds 3] [--int8] [--keep-onnx]

Without --model it writes a full-size model with random weights (drawn as transformers initialises it):
--random clip-b32 (the default) is transformers' CLIPConfig defaults, openai/clip-vit-base-patch32's shapes,
with the tokenizer and preprocessor of tests/fixtures/clip-tiny, like benches/clip_throughput.rs;
--random siglip-b16 is SiglipConfig's defaults, google/siglip-base-patch16-224's shapes, with the
SentencePiece model of tests/fixtures/siglip-tiny and a 224 x 224 preprocessor. Needs: torch, transformers,
sentencepiece, onnx, onnxscript, onnxruntime, openvino (and nncf for --int8) from PyPI, and cargo.
"""
import argparse
import gzip
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
IMAGE_BATCHES = (1, 32)
TEXT_BATCH = 16

# Short captions of varied lengths, as a search box receives them.
CAPTIONS = [
    "a dog", "red car", "a cat sleeping on a sofa", "sunset over the sea",
    "a bowl of fruit on a wooden table", "two people walking on a beach at dusk",
    "mountains", "a close-up photo of a coffee mug with a chipped handle",
    "children playing football in a park", "a black and white photo of an old bridge",
    "snow", "the skyline of a big city at night with lights reflected in the river",
    "a bicycle leaning against a brick wall", "birthday cake with candles",
    "a plate of pasta", "an empty train station platform in the rain",
    "a green apple", "screenshot of a spreadsheet", "a handwritten note on yellow paper",
    "a small boat on a calm lake surrounded by pine trees in the morning fog",
    "keys", "a laptop and a notebook on a desk", "a portrait of an elderly man smiling",
    "flowers in a vase", "a cup of tea", "a yellow taxi stuck in traffic on a busy street",
    "a stack of books", "graffiti on a concrete wall", "a horse in a field",
    "the inside of a cathedral with stained glass windows",
    "a pair of running shoes", "a blurry photo of a concert crowd",
    "fireworks", "a receipt", "a baby asleep in a crib",
    "a table set for dinner with candles, wine glasses and white plates",
    "an airplane taking off", "a red umbrella", "a cluttered kitchen counter",
    "a lighthouse on a rocky coast during a storm", "a chess board",
    "a bird on a branch", "a street market selling vegetables",
    "a person holding a phone", "an old wooden door with a rusty lock",
    "a winding mountain road seen from above", "a guitar", "a dog wearing sunglasses",
    "ice cream cone melting in the sun", "a group photo of a family at a wedding",
    "a map", "a tent under the stars", "a messy desk with three monitors and cables everywhere",
    "a glass of orange juice", "a cat", "a scanned page of a printed document",
    "a field of sunflowers under a blue sky", "a bus stop", "a camera on a tripod",
    "a crowded subway car during rush hour", "a teddy bear", "a waterfall in a tropical forest",
    "a pizza", "a man riding a bicycle across a bridge in the city",
]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def cpu_info():
    model, flags = platform.processor(), set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    simd = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile")
            if f in flags]
    return model, " ".join(simd) or "none of AVX2/AVX-512"


def make_random_vit_b32(dest: Path):
    """transformers' CLIPConfig defaults (ViT-B/32's shapes), random weights, the tiny fixture's tokenizer."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    config = CLIPConfig(projection_dim=512, text_config=dict(eos_token_id=49407, bos_token_id=49406))
    CLIPModel(config).eval().save_pretrained(dest)
    fixture = ROOT / "tests/fixtures/clip-tiny"
    with gzip.open(fixture / "tokenizer.json.gz", "rb") as src, open(dest / "tokenizer.json", "wb") as dst:
        shutil.copyfileobj(src, dst)
    shutil.copy(fixture / "preprocessor_config.json", dest)


def make_random_siglip_b16(dest: Path):
    """transformers' SiglipConfig defaults (siglip-base-patch16-224's shapes), random weights, the tiny
    fixture's SentencePiece model (its ids fit the 32,000-row embedding), a 224 x 224 preprocessor."""
    import json

    import torch
    from transformers import SiglipConfig, SiglipModel

    torch.manual_seed(0)
    config = SiglipConfig()
    SiglipModel(config).eval().save_pretrained(dest)
    fixture = ROOT / "tests/fixtures/siglip-tiny"
    shutil.copy(fixture / "spiece.model", dest)
    tok = json.loads((fixture / "tokenizer_config.json").read_text())
    tok["model_max_length"] = config.text_config.max_position_embeddings
    (dest / "tokenizer_config.json").write_text(json.dumps(tok, indent=2))
    pre = json.loads((fixture / "preprocessor_config.json").read_text())
    side = config.vision_config.image_size
    pre["size"] = {"height": side, "width": side}
    (dest / "preprocessor_config.json").write_text(json.dumps(pre, indent=2))


RANDOM_MODELS = {"clip-b32": make_random_vit_b32, "siglip-b16": make_random_siglip_b16}


def model_family(model_dir: Path) -> str:
    import json

    config = json.loads((model_dir / "config.json").read_text())
    return "siglip" if config.get("model_type") == "siglip" else "clip"


def load_inputs(family, model_dir: Path, photos):
    """(model, pixel rows, text batches, text rows one by one, caption lengths) as transformers prepares
    them for `family`: CLIP's captions to their own end of text, batches padded to their longest with
    end of text; SigLIP's padded to the model's length."""
    from PIL import Image

    images = [Image.open(f).convert("RGB") for f in photos]
    text_batches = []
    if family == "siglip":
        from transformers import SiglipModel, SiglipTokenizer

        try:
            from transformers import SiglipImageProcessorPil as Processor
        except ImportError:
            from transformers import SiglipImageProcessor as Processor
        model = SiglipModel.from_pretrained(model_dir).eval()
        tokenizer = SiglipTokenizer.from_pretrained(model_dir)
        n = model.config.text_config.max_position_embeddings
        encode = lambda c: tokenizer(c, padding="max_length", max_length=n, truncation=True)["input_ids"]
        rows, pad = [encode(c) for c in CAPTIONS], tokenizer.pad_token_id
    else:
        from transformers import CLIPImageProcessor as Processor
        from transformers import CLIPModel, CLIPTokenizerFast

        model = CLIPModel.from_pretrained(model_dir).eval()
        tokenizer = CLIPTokenizerFast.from_pretrained(model_dir)
        # Padded with end-of-text, as vsearch pads (the causal mask keeps padding out of the pooled token).
        rows, pad = [tokenizer(c)["input_ids"][:77] for c in CAPTIONS], tokenizer.convert_tokens_to_ids("<|endoftext|>")
    lengths = [len(r) for r in rows]
    for i in range(0, len(rows), TEXT_BATCH):
        batch = rows[i:i + TEXT_BATCH]
        n = max(map(len, batch))
        text_batches.append(np.array([r + [pad] * (n - len(r)) for r in batch], dtype=np.int64))
    text_rows = [np.array([r], dtype=np.int64) for r in rows]
    processor = Processor.from_pretrained(model_dir)
    pixels = processor(images=images, return_tensors="np")["pixel_values"].astype(np.float32)
    return model, pixels, text_batches, text_rows, lengths


class Towers:
    """The two towers as modules returning the features vsearch returns (before normalising): CLIP's
    projected pooled outputs, SigLIP's heads' outputs (the vision tower's attention pooling, the text
    tower's head on its last position)."""

    def __init__(self, model, family="clip"):
        import torch

        class SiglipVision(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, pixel_values):
                return self.m.vision_model(pixel_values=pixel_values).pooler_output

        class SiglipText(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids):
                return self.m.text_model(input_ids=input_ids).pooler_output

        if family == "siglip":
            self.vision, self.text = SiglipVision(model).eval(), SiglipText(model).eval()
            return

        class Vision(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, pixel_values):
                out = self.m.vision_model(pixel_values=pixel_values)
                return self.m.visual_projection(out.pooler_output)

        class Text(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, input_ids):
                out = self.m.text_model(input_ids=input_ids)
                return self.m.text_projection(out.pooler_output)

        self.vision, self.text = Vision(model).eval(), Text(model).eval()


def export(towers, work: Path, pixels, text_batches, reference):
    """Both towers as ONNX (opset 17, dynamic batch and length); ONNX Runtime's outputs checked against
    transformers' on every input (other batch sizes and lengths than the traced ones included)."""
    import onnxruntime as ort
    import torch

    paths = {"vision": work / "vision.onnx", "text": work / "text.onnx"}
    cases = {
        "vision": (towers.vision, "pixel_values", pixels[:2], {0: "batch"},
                   [(pixels[i:i + 32], reference["image"][i:i + 32]) for i in range(0, len(pixels), 32)]),
        "text": (towers.text, "input_ids", text_batches[0], {0: "batch", 1: "tokens"},
                 list(zip(text_batches + [text_batches[1][:1]],
                          np.split(reference["text"], len(text_batches)) + [reference["text"][16:17]]))),
    }
    for name, (module, input_name, example, axes, checks) in cases.items():
        log(f"exporting the {name} tower to {paths[name]}")
        with torch.no_grad():
            torch.onnx.export(module, (torch.from_numpy(example),), str(paths[name]), opset_version=17,
                              dynamo=False, input_names=[input_name], output_names=["features"],
                              dynamic_axes={input_name: axes, "features": {0: "batch"}})
        session = ort.InferenceSession(str(paths[name]), providers=["CPUExecutionProvider"])
        worst = 0.0
        for x, want in checks:
            got = session.run(None, {input_name: x})[0]
            diff = float(np.abs(got - want).max()) / max(1.0, float(np.abs(want).max()))
            worst = max(worst, diff)
        log(f"  {name}: ONNX Runtime against transformers on {len(checks)} batches, "
            f"largest difference {worst:.2e} (relative to the largest value)")
        if worst > 1e-4:
            sys.exit(f"the exported {name} tower differs from transformers by {worst}")
    return paths


class OrtSide:
    def __init__(self, paths, threads, label="ONNX Runtime"):
        import onnxruntime as ort

        self.label = label
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sessions = {k: ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"])
                         for k, p in paths.items()}

    def vision(self, x):
        return self.sessions["vision"].run(None, {"pixel_values": x})[0]

    def text(self, x):
        return self.sessions["text"].run(None, {"input_ids": x})[0]


class OvSide:
    def __init__(self, models, threads, label="OpenVINO"):
        import openvino as ov

        self.label = label
        core = ov.Core()
        # f32 arithmetic (on CPUs with bf16 or AMX, OpenVINO's default precision hint would be bf16).
        config = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads,
                  "PERFORMANCE_HINT": "LATENCY"}
        self.compiled = {k: core.compile_model(m, "CPU", config) for k, m in models.items()}

    def vision(self, x):
        return self.compiled["vision"](x)[0]

    def text(self, x):
        return self.compiled["text"](x)[0]


TEXT_CASES = (f"text  batch {TEXT_BATCH}", "text  batch  1")


def measure(side, pixels, text_batches, text_rows, rounds=1):
    """Seconds of the fastest pass per case, after a warm-up pass (for texts one at a time, the median
    call of that pass too); features of the last pass."""
    results, features = {}, {}
    cases = [(f"image batch {b:>2}", "images", b) for b in IMAGE_BATCHES] + [
        (TEXT_CASES[0], "texts", text_batches), (TEXT_CASES[1], "texts", text_rows)]
    for case, unit, batch in cases:
        if unit == "images":
            batches = [pixels[i:i + batch] for i in range(0, len(pixels), batch)]
            run = side.vision
        else:
            batches, run = batch, side.text
        best, median = float("inf"), None
        for r in range(rounds + 1):
            out, calls = [], []
            start = time.perf_counter()
            for b in batches:
                t = time.perf_counter()
                out.append(run(b))
                calls.append(time.perf_counter() - t)
            secs = time.perf_counter() - start
            if r > 0 and secs < best:
                best, median = secs, float(np.median(calls))
        results[case] = (sum(len(b) for b in batches), unit, best) + ((median,) if case == TEXT_CASES[1] else ())
        if case != TEXT_CASES[1]:
            features["image" if unit == "images" else "text"] = np.concatenate(out)
    return results, features


def run_vsearch(binary, model_dir, images, captions_file, precision, features_prefix):
    """One round of vsearch's side: `binary` (a built clip_folder bench), else `cargo bench`."""
    cmd = [str(binary)] if binary else ["cargo", "bench", "--locked", "-q", "--bench", "clip_folder", "--"]
    cmd += [str(model_dir), "--images", str(images), "--captions", str(captions_file),
            "--precision", precision, "--features", str(features_prefix)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    results = {}
    for line in out.splitlines():
        m = re.match(r"vsearch \S+ (image batch +\d+|text  batch +\d+): +([\d.]+) (images|texts)/s "
                     r"\((\d+) \w+ in ([\d.]+) s(?:.*median call ([\d.]+) ms)?", line)
        if m:
            results[m.group(1)] = (int(m.group(4)), m.group(3), float(m.group(5))) + (
                (float(m.group(6)) / 1e3,) if m.group(6) else ())
    rows = {"image": results["image batch  1"][0], "text": results[f"text  batch {TEXT_BATCH}"][0]}
    feats = {k: np.fromfile(f"{features_prefix}.{k}.f32", dtype="<f4").reshape(rows[k], -1)
             for k in ("image", "text")}
    return results, feats


def run_serve(binary, model_dir, images, captions_file, precision, seconds=5):
    """p50 seconds of one text query at a time through `vsearch serve` (benches/server_load.rs: the photos
    indexed with the folder at `precision`, the server started in-process, one client)."""
    cmd = [str(binary), "--model-dir", str(model_dir), "--precision", precision, "--photos", str(images),
           "--captions", str(captions_file), "--clients", "1", "--scenarios", "text", "--seconds", str(seconds)]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells and cells[0] == "query by text":
            return float(cells[3]) / 1e3
    sys.exit(f"no text query line in the output of {' '.join(cmd)}:\n{out}")


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    c = (a * b).sum(axis=1)
    return float(c.min()), float(c.mean())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, help="a CLIPModel or SiglipModel folder (default: --random's)")
    p.add_argument("--random", choices=sorted(RANDOM_MODELS), default="clip-b32",
                   help="without --model: the full-size random model to write (default clip-b32)")
    p.add_argument("--images", type=Path, default=ROOT.parent / "shared/data/ukbench-14")
    p.add_argument("--rounds", type=int, default=2, help="rounds alternating the sides (best kept)")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--int8", action="store_true", help="also each side's int8, with its cosine to f32")
    p.add_argument("--no-vsearch", action="store_true", help="the runtimes only")
    p.add_argument("--vsearch-bin", type=Path,
                   help="a built clip_folder bench binary (default: cargo bench --bench clip_folder)")
    p.add_argument("--baseline", type=Path,
                   help="also a clip_folder binary of another commit, as 'vsearch baseline' (f32), "
                        "in the same rounds: a change measured side by side")
    p.add_argument("--serve-bin", type=Path,
                   help="a built server_load bench binary: each round also serves the photos indexed with the "
                        "folder and times one text query at a time through HTTP (p50), beside the runtimes' "
                        "median call at batch 1")
    p.add_argument("--work", type=Path, help="folder for the exported models (default: a temporary one)")
    p.add_argument("--keep-onnx", action="store_true", help="keep the work folder")
    a = p.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    work = a.work or Path(tempfile.mkdtemp(prefix="vsearch-runtimes-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        model_dir = a.model
        if model_dir is None:
            model_dir = work / f"{a.random}-random"
            if not (model_dir / "model.safetensors").is_file():
                log(f"writing a random full-size {a.random} to {model_dir}")
                RANDOM_MODELS[a.random](model_dir)
        family = model_family(model_dir)
        log(f"{model_dir}: {family}")
        photos = sorted(f for f in a.images.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
        model, pixels, text_batches, text_rows, lengths = load_inputs(family, model_dir, photos)
        captions_file = work / "captions.txt"
        captions_file.write_text("\n".join(CAPTIONS) + "\n")
        towers = Towers(model, family)
        with torch.no_grad():
            reference = {"image": towers.vision(torch.from_numpy(pixels)).numpy(),
                         "text": np.concatenate([towers.text(torch.from_numpy(b)).numpy()
                                                 for b in text_batches])}
        paths = export(towers, work, pixels, text_batches, reference)
        del model, towers

        import openvino as ov

        sides = [OrtSide(paths, a.threads), OvSide({k: ov.Core().read_model(v) for k, v in paths.items()},
                                                    a.threads)]
        precisions = ["f32"]
        if a.int8:
            precisions.append("int8")
            sides += int8_sides(paths, work, a.threads, pixels, text_batches)
        import onnxruntime

        names = {"ONNX Runtime": f"ONNX Runtime {onnxruntime.__version__}",
                 "OpenVINO": f"OpenVINO {ov.__version__.split('-')[0]}"}
        best, feats, serve = {}, {}, {}
        for r in range(a.rounds):
            if not a.no_vsearch:
                for prec in precisions:
                    label = f"vsearch {prec}"
                    log(f"round {r + 1}: {label}")
                    res, f = run_vsearch(a.vsearch_bin, model_dir, a.images, captions_file, prec,
                                         work / f"vsearch-{prec}")
                    keep(best, label, res)
                    feats[label] = f
                    print_rates(label, res, lengths)
                if a.baseline:
                    label = "vsearch baseline"
                    log(f"round {r + 1}: {label}")
                    res, f = run_vsearch(a.baseline, model_dir, a.images, captions_file, "f32",
                                         work / "vsearch-baseline")
                    keep(best, label, res)
                    feats[label] = f
                    print_rates(label, res, lengths)
            if a.serve_bin:
                # The query side of `vsearch serve` runs f32 (an int8 collection's queries too).
                log(f"round {r + 1}: vsearch serve")
                p50 = run_serve(a.serve_bin, model_dir, a.images, captions_file, "f32")
                print(f"vsearch serve f32 one text query: p50 {p50 * 1e3:.2f} ms", flush=True)
                serve["f32"] = min(serve.get("f32", p50), p50)
            for side in sides:
                log(f"round {r + 1}: {side.label}")
                res, f = measure(side, pixels, text_batches, text_rows)
                keep(best, side.label, res)
                feats[side.label] = f
                print_rates(side.label, res, lengths)
        table(best, feats, reference, names, precisions, a, f"{family} {model_dir.name}")
        if serve:
            print("\none text query through `vsearch serve` (1 client, HTTP, p50, best round) against one call of each "
                  "runtime (median call of its best pass, model only):")
            for prec, p50 in serve.items():
                suffix = "" if prec == "f32" else " int8"
                calls = [f"{names.get(c, c)}{suffix} {best[(c + suffix, TEXT_CASES[1])][3] * 1e3:.2f} ms"
                         for c in ("ONNX Runtime", "OpenVINO") if (c + suffix, TEXT_CASES[1]) in best]
                print(f"  {prec}: vsearch serve {p50 * 1e3:.2f} ms; " + ", ".join(calls))
    finally:
        if not a.keep_onnx and a.work is None:
            shutil.rmtree(work, ignore_errors=True)


def int8_sides(paths, work, threads, pixels, text_batches):
    from onnxruntime.quantization import QuantType, quantize_dynamic

    sides = []
    q = {}
    for k, path in paths.items():
        q[k] = work / f"{k}.int8.onnx"
        log(f"ONNX Runtime quantize_dynamic of the {k} tower")
        quantize_dynamic(str(path), str(q[k]), weight_type=QuantType.QInt8)
    sides.append(OrtSide(q, threads, label="ONNX Runtime int8"))
    try:
        import nncf
        import openvino as ov
    except ImportError as e:
        log(f"no OpenVINO int8: {e} (pip install nncf)")
        return sides
    core = ov.Core()
    models = {}
    for k, path in paths.items():
        log(f"NNCF post-training int8 of the {k} tower")
        items = [pixels[i:i + 1] for i in range(len(pixels))] if k == "vision" else text_batches
        models[k] = nncf.quantize(core.read_model(path), nncf.Dataset(items),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(items))
    sides.append(OvSide(models, threads, label="OpenVINO int8"))
    return sides


def keep(best, label, res):
    for case, r in res.items():
        old = best.get((label, case))
        if old is None or r[2] < old[2]:
            best[(label, case)] = r


def print_rates(label, res, lengths):
    for case, (n, unit, secs, *median) in res.items():
        extra = f", {min(lengths)}-{max(lengths)} tokens" if unit == "texts" else ""
        if median:
            extra += f", median call {median[0] * 1e3:.2f} ms"
        print(f"{label} {case}: {n / secs:7.1f} {unit}/s ({n} {unit} in {secs:.2f} s{extra})", flush=True)


def table(best, feats, reference, names, precisions, a, title):
    model, simd = cpu_info()
    load = os.getloadavg()
    print()
    print(f"{title}; CPU: {model}; SIMD: {simd}; {a.threads} threads; best of {a.rounds} rounds; "
          f"load average at the end {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    cases = [f"image batch {b:>2}" for b in IMAGE_BATCHES] + list(TEXT_CASES)
    for prec in precisions:
        suffix = "" if prec == "f32" else " int8"
        cols = [f"vsearch {prec}"] if not a.no_vsearch else []
        cols += [f"ONNX Runtime{suffix}", f"OpenVINO{suffix}"]
        if prec == "f32" and a.baseline:
            cols.append("vsearch baseline")
        cols = [c for c in cols if any((c, case) in best for case in cases)]
        heads = [names.get(c.replace(" int8", ""), c.split(" ")[0]) + (" int8" if " int8" in c else "")
                 if not c.startswith("vsearch") else c for c in cols]
        ratio = "vsearch / better" if not a.no_vsearch else ""
        print(f"\n| {prec} | " + " | ".join(heads) + (f" | {ratio} |" if ratio else " |"))
        print("|---" * (len(cols) + 1 + bool(ratio)) + "|")
        for case in cases:
            row, rates = [], {}
            for c in cols:
                if (c, case) in best:
                    n, unit, secs, *median = best[(c, case)]
                    rates[c] = n / secs
                    row.append(f"{n / secs:.1f} {unit}/s" + (f" (median {median[0] * 1e3:.1f} ms)" if median else ""))
                else:
                    row.append("")
            line = f"| {case.replace('  ', ' ')} | " + " | ".join(row)
            if ratio:
                peers = [v for c, v in rates.items() if not c.startswith("vsearch")]
                mine = rates.get(cols[0])
                line += f" | {mine / max(peers):.2f}x" if peers and mine else " | "
            print(line + " |")
        if prec == "int8":
            print("\ncosine of each side's int8 features to its own f32 features (min / mean):")
            for c in cols:
                base = "vsearch f32" if c.startswith("vsearch") else c.replace(" int8", "")
                if c in feats and base in feats:
                    for k in ("image", "text"):
                        lo, mean = cosines(feats[c][k], feats[base][k])
                        print(f"  {c} {k}s: {lo:.5f} / {mean:.5f}")
    print("\nf32 features against transformers (cosine min / mean):")
    for c in ["vsearch f32", "vsearch baseline", "ONNX Runtime", "OpenVINO"]:
        if c in feats:
            for k in ("image", "text"):
                lo, mean = cosines(feats[c][k], reference[k])
                print(f"  {c} {k}s: {lo:.6f} / {mean:.6f}")


if __name__ == "__main__":
    main()
