#!/usr/bin/env python3
"""Peers for `vsearch bench`: FAISS (IndexFlatL2, IndexHNSWFlat, IndexIVFFlat, IndexIVFPQ + exact re-ranking)
and hnswlib on the same base vectors, queries, ground truth, k and thread count, written in the results.json
schema of vsearch-bench (see crates/bench/src/report.rs) so that `vsearch bench --compare FILE` merges them.

Data comes from `vsearch bench --dataset D --queries N --k K --export-dataset DIR`, which writes
DIR/base.fvecs, DIR/query.fvecs, DIR/gt.ivecs and DIR/dataset.json.

    .venv-ref/bin/python scripts/bench_peers.py --data DIR --k 10 --threads 2 --out peers.json [--quick]

How peers are measured, in the same two modes as vsearch-bench (each point says its "mode"):
  - "single": one query per call, the calls spread over --threads concurrent callers (the libraries release
    the GIL while searching; their own threads set to 1); QPS is wall clock over all queries, latency
    p50/p95/p99 per call.
  - "batch": all queries in one call with the library's own threads (FAISS OpenMP, hnswlib num_threads) set
    to --threads, wall clock; QPS only.
  - build_s: train + add, with --threads threads.
  - disk_bytes: the index written to a temporary file; memory_bytes: the serialised size (FAISS) or
    hnswlib's saved size, a close estimate of the data held; rss_delta_bytes: resident-set growth during the build.
Parameter grids mirror vsearch-bench's `Grid::full` / `Grid::quick`.
"""

import argparse
import datetime
import json
import math
import os
import platform
import sys
import tempfile
import time

import numpy as np

# --- data -----------------------------------------------------------------------------------------------


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        sys.exit(f"{path}: empty file")
    d = int(raw[0])
    if d <= 0 or raw.size % (d + 1) != 0:
        sys.exit(f"{path}: not a .{'f' if dtype == np.float32 else 'i'}vecs file")
    rows = raw.reshape(-1, d + 1)
    if not np.all(rows[:, 0] == d):
        sys.exit(f"{path}: rows of different dimensions")
    return np.ascontiguousarray(rows[:, 1:].view(dtype))


# --- grids (keep in step with crates/bench/src/sweep.rs) ------------------------------------------------


def sqrt_nlist(n, factor):
    return int(max(min(round(factor * math.sqrt(n)), n // 39), 1))


def default_pq_m(dim):
    for m in range(max(dim // 4, 1), 0, -1):
        if dim % m == 0:
            return m
    return 1


def pq_m(dim):
    for m in range(min(32, dim), 0, -1):
        if dim % m == 0:
            return m
    return 1


def index_constant(module, name):
    """An integer constant of the index crate's module MODULE (crates/index/src/MODULE.rs or MODULE/*.rs), so the
    grids hold its defaults."""
    import glob
    import re

    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "index", "src")
    paths = [os.path.join(src, module + ".rs")] + sorted(glob.glob(os.path.join(src, module, "*.rs")))
    m = None
    for path in paths:
        if os.path.exists(path):
            with open(path) as f:
                m = re.search(rf"pub const {name}: usize = ([0-9_]+);", f.read())
            if m:
                break
    if not m:
        sys.exit(f"{src}/{module}: constant {name} not found; keep scripts/bench_peers.py in step with the index crate")
    return int(m.group(1).replace("_", ""))


def with_defaults(g, n, dim):
    """Adds the index layer's defaults, as vsearch-bench's Grid::with_defaults does."""
    nl = sqrt_nlist(n, 4.0)
    for key, value in (
        ("hnsw_builds", (index_constant("hnsw", "DEFAULT_M"), index_constant("hnsw", "DEFAULT_EF_CONSTRUCTION"))),
        ("ef_search", index_constant("hnsw", "DEFAULT_EF_SEARCH")),
        ("ivf_flat_nlist", nl),
        ("ivf_pq_nlist", nl),
        ("nprobe", min(index_constant("ivf", "DEFAULT_NPROBE"), nl)),
        ("pq", (default_pq_m(dim), 8)),
    ):
        if value not in g[key]:
            g[key] = sorted(g[key] + [value])
    return g


def eighth_m(dim):
    for m in range(max(dim // 8, 1), 0, -1):
        if dim % m == 0:
            return m
    return 1


def grid(n, dim, quick):
    if quick:
        return with_defaults(
            {
                "hnsw_builds": [],
                "ef_search": [10, 16, 32, 64, 128, 256],
                "ivf_flat_nlist": [],
                "ivf_pq_nlist": [],
                "nprobe": [1, 4, 8, 16, 32, 64],
                "pq": [],
            },
            n,
            dim,
        )
    nl = []
    for f in (2.0, 4.0, 8.0):
        v = sqrt_nlist(n, f)
        if v not in nl:
            nl.append(v)
    return with_defaults(
        {
            "hnsw_builds": [(8, 100), (16, 100), (16, 200), (32, 200)],
            "ef_search": [10, 16, 24, 32, 48, 64, 96, 128, 256, 512],
            "ivf_flat_nlist": nl,
            "ivf_pq_nlist": [sqrt_nlist(n, 4.0)],
            "nprobe": [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128, 256],
            "pq": sorted({(pq_m(dim), 8), (eighth_m(dim), 8), (default_pq_m(dim), 8)}),
        },
        n,
        dim,
    )


# --- measurement ---------------------------------------------------------------------------------------


def rss_bytes():
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return 0


def recall(found, gt, k):
    hits = 0
    for f, t in zip(found, gt):
        hits += len(set(f[:k].tolist()) & set(t[:k].tolist()))
    return hits / (len(gt) * k)


def percentile(sorted_ms, p):
    if not sorted_ms:
        return 0.0
    rank = math.ceil(p / 100.0 * len(sorted_ms))
    return sorted_ms[min(max(rank, 1), len(sorted_ms)) - 1]


class Runner:
    def __init__(self, args, base, queries, gt):
        self.args = args
        self.base = base
        self.queries = queries
        self.gt = gt
        self.points = []

    def point(self, library, index, params, batch_search, single_search, build_s, disk, mem, rss):
        from concurrent.futures import ThreadPoolExecutor

        k, t = self.args.k, self.args.threads
        common = {
            "library": library,
            "index": index,
            "params": params,
            "build_s": build_s,
            "disk_bytes": int(disk),
            "memory_bytes": int(mem),
            "rss_delta_bytes": int(max(rss, 0)),
        }
        # batch: one call, the library's threads.
        set_threads(t)
        start = time.perf_counter()
        found = batch_search(self.queries, k)
        wall = time.perf_counter() - start
        batch = dict(common, mode="batch", recall=recall(found, self.gt, k),
                     qps=len(self.queries) / wall if wall > 0 else 0.0, p50_ms=0.0, p95_ms=0.0, p99_ms=0.0)
        # single: one query per call from t concurrent callers, the library single-threaded.
        set_threads(1)

        def worker(part):
            # One task per caller, looping over its share: no executor cost per query.
            out = []
            for i in part:
                q = self.queries[i : i + 1]
                s = time.perf_counter()
                ids = single_search(q, k)
                out.append((i, ids, (time.perf_counter() - s) * 1e3))
            return out

        parts = [range(w, len(self.queries), t) for w in range(t)]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=t) as pool:
            done = [a for chunk in pool.map(worker, parts) for a in chunk]
        wall = time.perf_counter() - start
        answers = [(ids, ms) for _, ids, ms in sorted(done, key=lambda a: a[0])]
        set_threads(t)
        found = [np.asarray(ids).reshape(-1) for ids, _ in answers]
        lat = sorted(ms for _, ms in answers)
        single = dict(common, mode="single", recall=recall(found, self.gt, k),
                      qps=len(self.queries) / wall if wall > 0 else 0.0, p50_ms=percentile(lat, 50),
                      p95_ms=percentile(lat, 95), p99_ms=percentile(lat, 99))
        for p in (single, batch):
            self.points.append(p)
            print(f"{library}/{index} {p['mode']} {params} recall={p['recall']:.4f} qps={p['qps']:.0f}",
                  file=sys.stderr, flush=True)


def set_threads(t):
    import faiss

    faiss.omp_set_num_threads(t)


def faiss_size(index):
    import faiss

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "index.faiss")
        faiss.write_index(index, path)
        return os.path.getsize(path)


def run_faiss(r, g):
    import faiss

    base, dim = r.base, r.base.shape[1]

    def built(make):
        set_threads(r.args.threads)
        rss0 = rss_bytes()
        t = time.perf_counter()
        index = make()
        build_s = time.perf_counter() - t
        rss = rss_bytes() - rss0
        size = faiss_size(index)
        return index, build_s, size, rss

    def search_fn(index):
        return lambda q, k: index.search(q, k)[1]

    if g["flat"]:
        index, b, size, rss = built(lambda: add(faiss.IndexFlatL2(dim), base))
        r.point("faiss", "flat", {}, search_fn(index), search_fn(index), b, size, size, rss)
        del index

    for m, efc in g["hnsw_builds"]:
        def make():
            ix = faiss.IndexHNSWFlat(dim, m)
            ix.hnsw.efConstruction = efc
            return add(ix, base)

        index, b, size, rss = built(make)
        for ef in g["ef_search"]:
            index.hnsw.efSearch = ef
            r.point("faiss", "hnsw", {"M": m, "ef_construction": efc, "ef_search": ef},
                    search_fn(index), search_fn(index), b, size, size, rss)
        del index

    for nlist in g["ivf_flat_nlist"]:
        def make():
            ix = faiss.IndexIVFFlat(faiss.IndexFlatL2(dim), dim, nlist, faiss.METRIC_L2)
            ix.train(base)
            return add(ix, base)

        index, b, size, rss = built(make)
        for nprobe in [p for p in g["nprobe"] if p <= nlist]:
            index.nprobe = nprobe
            r.point("faiss", "ivf-flat", {"nlist": nlist, "nprobe": nprobe},
                    search_fn(index), search_fn(index), b, size, size, rss)
        del index

    for nlist, (pm, bits) in [(nl, pq) for nl in g["ivf_pq_nlist"] for pq in g["pq"]]:
        def make():
            ivfpq = faiss.IndexIVFPQ(faiss.IndexFlatL2(dim), dim, nlist, pm, bits)
            ivfpq.train(base)
            refine = faiss.IndexRefineFlat(ivfpq)
            refine.k_factor = r.args.refine_factor
            refine.add(base)
            return refine

        index, b, size, rss = built(make)
        ivf = faiss.extract_index_ivf(index)
        for nprobe in [p for p in g["nprobe"] if p <= nlist]:
            ivf.nprobe = nprobe
            r.point("faiss", "ivf-pq",
                    {"nlist": nlist, "nprobe": nprobe, "pq_m": pm, "pq_bits": bits, "rerank": True,
                     "k_factor": r.args.refine_factor},
                    search_fn(index), search_fn(index), b, size, size, rss)
        del index


def add(index, base):
    index.add(base)
    return index


def run_hnswlib(r, g):
    import hnswlib

    base, dim, t = r.base, r.base.shape[1], r.args.threads
    n = base.shape[0]
    for m, efc in g["hnsw_builds"]:
        rss0 = rss_bytes()
        start = time.perf_counter()
        index = hnswlib.Index(space="l2", dim=dim)
        index.init_index(max_elements=n, ef_construction=efc, M=m, random_seed=100)
        index.add_items(base, np.arange(n), num_threads=t)
        build_s = time.perf_counter() - start
        rss = rss_bytes() - rss0
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "index.bin")
            index.save_index(path)
            size = os.path.getsize(path)
        for ef in g["ef_search"]:
            index.set_ef(max(ef, r.args.k))
            r.point("hnswlib", "hnsw", {"M": m, "ef_construction": efc, "ef_search": ef},
                    lambda q, k: index.knn_query(q, k=k, num_threads=t)[0],
                    lambda q, k: index.knn_query(q, k=k, num_threads=1)[0],
                    build_s, size, size, rss)
        del index


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def simd():
    """The CPU's AVX extensions, and the SIMD level FAISS's wheel was compiled for."""
    flags = []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = line.split(":", 1)[1].split()
                    flags = [x for x in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                                         "avx512_bf16") if x in have]
                    break
    except OSError:
        pass
    out = "CPU: " + (" ".join(flags) or "no AVX2")
    try:
        import faiss
        out += "; faiss wheel: " + faiss.get_compile_options().strip()
    except Exception:  # noqa: BLE001 - faiss absent or too old: the CPU flags are still worth reporting
        pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by `vsearch bench --export-dataset`")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True, help="results JSON to write")
    ap.add_argument("--quick", action="store_true", help="the small grid")
    ap.add_argument("--libraries", default="faiss,hnswlib")
    ap.add_argument("--only", default="", help="comma-separated index kinds to measure (flat, hnsw, ivf-flat, "
                    "ivf-pq; default: all), as `vsearch bench --only`")
    ap.add_argument(
        "--refine-factor",
        type=int,
        default=index_constant("ivf", "DEFAULT_RERANK_FACTOR"),
        help="IVF-PQ re-ranking: k_factor * k candidates (default: vsearch's DEFAULT_RERANK_FACTOR)",
    )
    ap.add_argument("--pq-m", default="", help="comma-separated PQ sub-quantiser counts overriding the grid's")
    args = ap.parse_args()

    base = read_vecs(os.path.join(args.data, "base.fvecs"), np.float32)
    queries = read_vecs(os.path.join(args.data, "query.fvecs"), np.float32)
    gt = read_vecs(os.path.join(args.data, "gt.ivecs"), np.int32).astype(np.int64)
    if gt.shape[0] != queries.shape[0] or gt.shape[1] < args.k:
        sys.exit(f"gt.ivecs has {gt.shape} rows for {queries.shape[0]} queries at k={args.k}; re-export with the same --k")
    meta = {}
    meta_path = os.path.join(args.data, "dataset.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    if meta.get("metric", "l2") != "l2":
        sys.exit("only L2 datasets are supported by this runner")

    g = grid(base.shape[0], base.shape[1], args.quick)
    if args.pq_m:
        g["pq"] = [(int(m), 8) for m in args.pq_m.split(",")]
    kinds = {"flat", "hnsw", "ivf-flat", "ivf-pq"}
    only = {x.strip() for x in args.only.split(",") if x.strip()} or kinds
    if only - kinds:
        sys.exit(f"unknown index kind(s) in --only: {', '.join(sorted(only - kinds))}; use {', '.join(sorted(kinds))}")
    g["flat"] = "flat" in only
    for kind, key in (("hnsw", "hnsw_builds"), ("ivf-flat", "ivf_flat_nlist"), ("ivf-pq", "ivf_pq_nlist")):
        if kind not in only:
            g[key] = []
    r = Runner(args, base, queries, gt)
    libs = [x.strip() for x in args.libraries.split(",") if x.strip()]
    if "faiss" in libs:
        run_faiss(r, g)
    if "hnswlib" in libs:
        run_hnswlib(r, g)

    results = {
        "schema": 1,
        "dataset": {
            "name": meta.get("name", os.path.basename(os.path.abspath(args.data))),
            "n_base": int(base.shape[0]),
            "n_queries": int(queries.shape[0]),
            "dim": int(base.shape[1]),
            "metric": "l2",
            "ground_truth": "gt.ivecs from vsearch bench --export-dataset",
        },
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count() or 1, "simd": simd()},
        "threads": args.threads,
        "k": args.k,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "grids": {
            "peers": f"faiss {__import__('faiss').__version__ if 'faiss' in libs else '-'}, hnswlib; same grids as "
            f"vsearch; IVF-PQ re-ranked with IndexRefineFlat k_factor={args.refine_factor}; points in two modes: 'single' (one query per call from --threads "
            f"concurrent callers, library threads 1; QPS and per-call latency) and 'batch' (all queries in one "
            f"call, library threads --threads; QPS)",
        },
        "points": r.points,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=2)
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({len(r.points)} points)", file=sys.stderr)


if __name__ == "__main__":
    main()
