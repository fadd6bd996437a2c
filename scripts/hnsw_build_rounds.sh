#!/usr/bin/env bash
# vsearch's HNSW build against hnswlib's on the same rows, alternated round by round (A B A B) at 1 and 2
# threads: `cargo run --example hnsw_build` (hnsw_rs's inserts, then the search layout and its link repair;
# the split is logged) and scripts/hnswlib_build.py, M 16, ef_construction 100, each printing its build time
# and recall@10. Compare the best round of each side (BENCHMARKS.md, "HNSW build").
#
#   scripts/hnsw_build_rounds.sh DATA [ROUNDS]
#
# DATA: a dataset exported by `vsearch bench` (scripts/bench_rounds.sh writes one as OUT/data: Fashion-MNIST,
# the neural-embedding set, ...), which both sides read. PYTHON (default .venv-ref/bin/python, with hnswlib)
# runs the peer. Build the example first: cargo build --release -p vsearch-index --example hnsw_build
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: scripts/hnsw_build_rounds.sh DATA [ROUNDS]}
rounds=${2:-3}
PYTHON=${PYTHON:-.venv-ref/bin/python}
example=target/release/examples/hnsw_build
[ -x "$example" ] || { echo "$example missing: cargo build --release -p vsearch-index --example hnsw_build" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "$PYTHON missing (BENCHMARKS.md says how to make .venv-ref)" >&2; exit 2; }
# The peer runs from scripts/: a relative PYTHON made absolute (its folder only, so a venv's link is kept).
PYTHON="$(cd "$(dirname "$PYTHON")" && pwd)/$(basename "$PYTHON")"
data=$(cd "$data" && pwd)
grep -m1 'model name' /proc/cpuinfo || true
echo "started $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for threads in 1 2; do
  for round in $(seq "$rounds"); do
    echo "== threads $threads round $round load $(cut -d' ' -f1 /proc/loadavg)"
    RAYON_NUM_THREADS=$threads "$example" "$data" 1 2>&1 | grep -E 'round|layout' \
      | sed 's/.*HNSW layout/  vsearch layout/; s/^round 1/  vsearch/'
    (cd scripts && "$PYTHON" hnswlib_build.py "$data" --threads "$threads") | grep round | sed 's/^round 1/  hnswlib/'
  done
done
