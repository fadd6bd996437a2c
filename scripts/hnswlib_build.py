#!/usr/bin/env python3
"""hnswlib's HNSW build of an exported dataset, the peer of `--example hnsw_build` (BENCHMARKS.md, "HNSW
build"): the same M and ef_construction, the rows added in one call on --threads threads, recall@10 at a
few ef from the export's ground truth.

    PYTHON scripts/hnswlib_build.py DIR [--threads T] [--rounds R] [--m 16] [--ef-construction 100]

DIR is a dataset exported by `vsearch bench --export DIR` (base.fvecs, query.fvecs, gt.ivecs,
dataset.json); PYTHON is the reference environment BENCHMARKS.md describes (.venv-ref).
"""
import argparse
import json
import os
import time

import hnswlib
import numpy as np

from bench_peers import read_vecs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=100)
    args = ap.parse_args()
    base = read_vecs(os.path.join(args.data, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(args.data, "query.fvecs"), np.float32)
    gt = read_vecs(os.path.join(args.data, "gt.ivecs"), np.int32)[:, :10]
    with open(os.path.join(args.data, "dataset.json")) as f:
        space = {"l2": "l2", "cosine": "cosine"}[json.load(f)["metric"]]
    print(f"hnswlib {hnswlib.__version__ if hasattr(hnswlib, '__version__') else ''} {base.shape[0]} x "
          f"{base.shape[1]}, {space}, M={args.m} ef_construction={args.ef_construction}, {args.threads} threads")
    for r in range(1, args.rounds + 1):
        index = hnswlib.Index(space=space, dim=base.shape[1])
        t = time.perf_counter()
        index.init_index(max_elements=base.shape[0], M=args.m, ef_construction=args.ef_construction)
        index.add_items(base, np.arange(base.shape[0]), num_threads=args.threads)
        build = time.perf_counter() - t
        recalls = []
        for ef in (16, 32, 64):
            index.set_ef(ef)
            labels, _ = index.knn_query(queries, k=10, num_threads=args.threads)
            hits = sum(len(set(row) & set(truth)) for row, truth in zip(labels, gt))
            recalls.append(f"ef {ef} {hits / gt.size:.4f}")
        print(f"round {r}: build {build:.2f} s; recall@10 {', '.join(recalls)}", flush=True)


if __name__ == "__main__":
    main()
