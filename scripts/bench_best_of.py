#!/usr/bin/env python3
"""The best of several runs of one side of a benchmark: results.json files (vsearch-bench's schema, see
crates/bench/src/results.rs) of the same dataset, k and threads, merged point by point.

    python3 scripts/bench_best_of.py --out BEST.json ROUND1.json ROUND2.json ...

A point is one (library, index, mode, params). Each point of the output is that point's measurement from the
round where its QPS was highest (recall, latencies and memory from the same round), with build_s the least of
the rounds: a noisy machine only ever slows a run down, so the best round is the closest to the machine's
own speed. Used by scripts/bench_rounds.sh; standard library only.
"""

import argparse
import json
import sys

from bench_files import write_json_atomic


def key(point):
    return (point["library"], point["index"], point.get("mode", ""), json.dumps(point["params"], sort_keys=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="results JSON to write")
    ap.add_argument("files", nargs="+", help="results JSON files of the rounds")
    args = ap.parse_args()

    runs = []
    for path in args.files:
        with open(path) as f:
            runs.append((path, json.load(f)))
    first_path, first = runs[0]
    for path, run in runs[1:]:
        for field in ("k", "threads"):
            if run[field] != first[field]:
                sys.exit(f"{path}: {field} = {run[field]}, {first_path} has {first[field]}")
        for field in ("name", "n_base", "n_queries", "metric"):
            if run["dataset"][field] != first["dataset"][field]:
                sys.exit(f"{path}: dataset {field} {run['dataset'][field]!r}, {first_path} has "
                         f"{first['dataset'][field]!r}")

    best = {}
    order = []
    least_build = {}
    for _, run in runs:
        for point in run["points"]:
            k = key(point)
            if k not in best:
                order.append(k)
                best[k] = point
            elif point["qps"] > best[k]["qps"]:
                best[k] = point
            least_build[k] = min(least_build.get(k, point["build_s"]), point["build_s"])
    points = []
    for k in order:
        p = dict(best[k])
        p["build_s"] = least_build[k]
        points.append(p)

    out = dict(runs[-1][1])
    out["points"] = points
    out["grids"] = dict(first.get("grids", {}))
    out["grids"]["rounds"] = (
        f"best of {len(runs)} rounds: each point from the round of its highest QPS (recall, latency, memory "
        f"from that round), build_s the least of the rounds; dates {runs[0][1]['date']} to {runs[-1][1]['date']}"
    )
    write_json_atomic(args.out, out)
    print(f"wrote {args.out} ({len(points)} points, best of {len(runs)} rounds)", file=sys.stderr)


if __name__ == "__main__":
    main()
