#!/usr/bin/env bash
# vsearch and its peers alternated round by round on one machine: A B A B ... (A: `vsearch bench`, B:
# scripts/bench_peers.py), N rounds, the best of each point kept on each side (scripts/bench_best_of.py), then
# one report of both (`vsearch bench --compare`). A noisy machine (another job, a busy neighbour) then slows
# both sides in turn instead of one, and the best round of each is compared.
#
#   scripts/bench_rounds.sh --dataset D --out DIR [--rounds N] [--k K] [--threads T] [--queries Q] [--quick]
#                           [--only KINDS] [--libraries faiss,hnswlib,usearch,scann]
#
# Defaults: 3 rounds, k 10, threads: all cores, libraries faiss,hnswlib,usearch,scann. The dataset is exported
# once (DIR/data: base.fvecs, query.fvecs, gt.ivecs, dataset.json); round R writes DIR/round-R/vsearch/ and
# DIR/round-R/peers.json; DIR/best/ holds vsearch.json and peers.json (the best of the rounds) and the merged
# results.json, report.md and plot. DIR/rounds.log has the CPU, and the load average before each half-round.
# VSEARCH (default target/release/vsearch) and PYTHON (default .venv-ref/bin/python, README "Regenerating the
# fixtures" and BENCHMARKS.md say how to make it) name the two programs.
set -euo pipefail
cd "$(dirname "$0")/.."

dataset="" out="" rounds=3 k=10 threads=$(nproc) queries="" quick="" only="" libraries="faiss,hnswlib,usearch,scann"
while [ $# -gt 0 ]; do
  case "$1" in
    --dataset) dataset=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --queries) queries=$2; shift 2 ;;
    --quick) quick=--quick; shift ;;
    --only) only=$2; shift 2 ;;
    --libraries) libraries=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench_rounds.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$dataset" ] || [ -z "$out" ]; then
  echo "bench_rounds.sh: --dataset and --out are required (see --help)" >&2
  exit 2
fi
case "$rounds" in ''|*[!0-9]*|0) echo "bench_rounds.sh: --rounds must be a positive integer" >&2; exit 2 ;; esac
VSEARCH=${VSEARCH:-target/release/vsearch}
PYTHON=${PYTHON:-.venv-ref/bin/python}
for program in "$VSEARCH" "$PYTHON"; do
  [ -x "$program" ] || { echo "bench_rounds.sh: $program not found (cargo build --release; see BENCHMARKS.md)" >&2; exit 2; }
done

common=(--k "$k")
[ -n "$queries" ] && common+=(--queries "$queries")
vsearch_args=(--threads "$threads")
peer_args=(--threads "$threads" --libraries "$libraries")
[ -n "$quick" ] && vsearch_args+=(--quick) && peer_args+=(--quick)
[ -n "$only" ] && vsearch_args+=(--only "$only") && peer_args+=(--only "$only")

mkdir -p "$out"
log="$out/rounds.log"
{
  echo "dataset $dataset, $rounds rounds, k $k, threads $threads, libraries $libraries ${quick:+(quick)} ${only:+only $only}"
  grep -m1 'model name' /proc/cpuinfo || true
  echo "started $(date -u +%FT%TZ)"
} > "$log"
note() { echo "$(date -u +%T) $1; load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log" >&2; }

note "exporting the dataset"
"$VSEARCH" bench --dataset "$dataset" "${common[@]}" --out "$out/export" --export-dataset "$out/data"
for r in $(seq 1 "$rounds"); do
  mkdir -p "$out/round-$r"
  note "round $r/$rounds: A (vsearch)"
  "$VSEARCH" bench --dataset "$dataset" "${common[@]}" "${vsearch_args[@]}" --out "$out/round-$r/vsearch"
  note "round $r/$rounds: B (peers: $libraries)"
  "$PYTHON" scripts/bench_peers.py --data "$out/data" --k "$k" "${peer_args[@]}" --out "$out/round-$r/peers.json"
done
note "done; keeping the best of each point"
mkdir -p "$out/best"
vsearch_runs=() peer_runs=()
for r in $(seq 1 "$rounds"); do
  vsearch_runs+=("$out/round-$r/vsearch/results.json")
  peer_runs+=("$out/round-$r/peers.json")
done
"$PYTHON" scripts/bench_best_of.py --out "$out/best/vsearch.json" "${vsearch_runs[@]}"
"$PYTHON" scripts/bench_best_of.py --out "$out/best/peers.json" "${peer_runs[@]}"
"$VSEARCH" bench --compare "$out/best/vsearch.json" "$out/best/peers.json" --out "$out/best"
