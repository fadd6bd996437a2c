#!/usr/bin/env python3
"""Peers for `vsearch bench`: FAISS (IndexFlatL2, IndexHNSWFlat, IndexIVFFlat, IndexIVFPQ + exact re-ranking),
hnswlib, usearch (HNSW) and ScaNN (partitioning tree + anisotropic quantisation + exact re-ordering) on the same
base vectors, queries, ground truth, k and thread count, written in the results.json schema of vsearch-bench (see
crates/bench/src/results.rs) so that `vsearch bench --compare FILE` merges them.

    --libraries faiss,hnswlib,usearch,scann     (default: faiss,hnswlib)

usearch and ScaNN are swept over ann-benchmarks' own settings (ann_benchmarks/algorithms/{usearch,scann}/
config.yml): usearch connectivity M in 4..96 with expansion_add 500 and expansion_search 10..800 (--quick: the
M-16 group alone); ScaNN's run groups for the metric ("euclidean" on L2 data, "angular" with dot product on
cosine data: the vectors are normalised first, as ann-benchmarks does), each a (leaves, AVQ threshold,
dims per block) build with its (leaves to search, re-order candidates) query pairs (--quick: the first group).
ScaNN's leaf count is capped at n / 39 (FAISS's least points per centroid, as sqrt_nlist caps nlist) so that a
small --dataset N still trains. On a cosine dataset (unit vectors) FAISS and hnswlib search by L2, which ranks
unit vectors exactly as cosine does.

Data comes from `vsearch bench --dataset D --queries N --k K --export-dataset DIR`, which writes
DIR/base.fvecs, DIR/query.fvecs, DIR/gt.ivecs and DIR/dataset.json.

    .venv-ref/bin/python scripts/bench_peers.py --data DIR --k 10 --threads 2 --out peers.json [--quick]

How peers are measured, in the same two modes as vsearch-bench (each point says its "mode"):
  - "single": one query per call, the calls spread over --threads concurrent callers (the libraries release
    the GIL while searching; their own threads set to 1); QPS is wall clock over all queries, latency
    p50/p95/p99 per call.
  - "batch": all queries in one call with the library's own threads (FAISS OpenMP, hnswlib num_threads,
    usearch threads, ScaNN search_batched_parallel) set to --threads, wall clock; QPS only.
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

from bench_files import write_json_atomic

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
    """An integer constant of the index crate's module MODULE (crates/index/src/MODULE.rs or MODULE/*.rs, or
    config.rs, whose defaults the modules re-export), so the grids hold its defaults."""
    import glob
    import re

    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "index", "src")
    # The module re-exports some of its defaults from config.rs (IndexConfig's), so that is read last.
    paths = [os.path.join(src, module + ".rs")] + sorted(glob.glob(os.path.join(src, module, "*.rs")))
    paths.append(os.path.join(src, "config.rs"))
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


def bench_min_pass_seconds():
    """`vsearch bench`'s default --min-pass-seconds (DEFAULT_MIN_PASS_SECONDS in crates/bench/src/lib.rs), so
    both sides time their points alike."""
    import re

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "bench", "src", "lib.rs")
    with open(path) as f:
        m = re.search(r"pub const DEFAULT_MIN_PASS_SECONDS: f64 = ([0-9.]+);", f.read())
    if not m:
        sys.exit(f"{path}: DEFAULT_MIN_PASS_SECONDS not found; keep scripts/bench_peers.py in step with vsearch-bench")
    return float(m.group(1))


def best_pass(min_seconds, run):
    """Calls run() (one pass over every query, returning (qps, rest)) again until the passes together took at
    least min_seconds (one pass at least, 50 at most) and returns the fastest pass's (qps, rest), as
    `vsearch bench` does (vsearch_bench::measure::best_pass)."""
    start = time.perf_counter()
    best = run()
    passes = 1
    while passes < 50 and time.perf_counter() - start < min_seconds:
        r = run()
        if r[0] > best[0]:
            best = r
        passes += 1
    return best


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
                "ef_search": [10, 12, 16, 24, 32, 64, 128, 256],
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
            "ef_search": [10, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512],
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
        # Unit-length data searched by cosine (dataset.json's metric): usearch and ScaNN use their cosine metric.
        self.cosine = False

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
        n = len(self.queries)
        min_s = self.args.min_pass_seconds

        # batch: one call, the library's threads.
        def batch_pass():
            start = time.perf_counter()
            found = batch_search(self.queries, k)
            wall = time.perf_counter() - start
            return (n / wall if wall > 0 else 0.0, found)

        set_threads(t)
        qps, found = best_pass(min_s, batch_pass)
        batch = dict(common, mode="batch", recall=recall(found, self.gt, k), qps=qps, p50_ms=0.0, p95_ms=0.0,
                     p99_ms=0.0)
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

        parts = [range(w, n, t) for w in range(t)]

        def single_pass():
            start = time.perf_counter()
            with ThreadPoolExecutor(max_workers=t) as pool:
                done = [a for chunk in pool.map(worker, parts) for a in chunk]
            wall = time.perf_counter() - start
            return (n / wall if wall > 0 else 0.0, done)

        qps, done = best_pass(min_s, single_pass)
        answers = [(ids, ms) for _, ids, ms in sorted(done, key=lambda a: a[0])]
        set_threads(t)
        found = [np.asarray(ids).reshape(-1) for ids, _ in answers]
        lat = sorted(ms for _, ms in answers)
        single = dict(common, mode="single", recall=recall(found, self.gt, k), qps=qps,
                      p50_ms=percentile(lat, 50), p95_ms=percentile(lat, 95), p99_ms=percentile(lat, 99))
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

    # FAISS's quantized graph search, the peer of vsearch's hnsw-int8: HNSW over 8-bit scalar codes
    # (IndexHNSWSQ, QT_8bit), its ef_search candidates re-ranked with the full vectors (IndexRefineFlat,
    # k_factor = ef_search / k), as vsearch re-scores its ef candidates.
    for m, efc in g["hnsw_int8_builds"]:
        set_threads(r.args.threads)
        rss0 = rss_bytes()
        t = time.perf_counter()
        graph = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, m)
        graph.hnsw.efConstruction = efc
        index = faiss.IndexRefineFlat(graph)
        index.train(base)
        index.add(base)
        b = time.perf_counter() - t
        rss = rss_bytes() - rss0
        size = faiss_size(index)
        for ef in g["ef_search"]:
            graph.hnsw.efSearch = ef
            index.k_factor = max(1.0, ef / r.args.k)
            # Memory: codes, graph and the full vectors, all held (FAISS's refine keeps them in RAM).
            r.point("faiss", "hnsw-int8", {"M": m, "ef_construction": efc, "ef_search": ef, "quantization": "int8"},
                    search_fn(index), search_fn(index), b, size, size, rss)
        del index, graph

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


# ann-benchmarks' settings (ann_benchmarks/algorithms/usearch/config.yml, "any" metric, f32): M per run group,
# efConstruction 500, the same ef list for every group.
USEARCH_M = [4, 8, 12, 16, 24, 36, 48, 64, 96]
USEARCH_M_QUICK = [16]
USEARCH_EF_CONSTRUCTION = 500
USEARCH_EF_SEARCH = [10, 20, 40, 80, 120, 200, 400, 600, 800]


def run_usearch(r, g):
    from usearch.index import Index

    base, dim, t = r.base, r.base.shape[1], r.args.threads
    n = base.shape[0]
    metric = "cos" if r.cosine else "l2sq"
    # usearch's i8 scales unit vectors by 127: meaningful for cosine sets only (pixels would saturate).
    dtypes = [("f32", "hnsw")] + ([("i8", "hnsw-int8")] if r.cosine else [])
    for m, (dtype, kind) in ((m, d) for m in (USEARCH_M_QUICK if r.args.quick else USEARCH_M) for d in dtypes):
        rss0 = rss_bytes()
        start = time.perf_counter()
        index = Index(ndim=dim, metric=metric, dtype=dtype, connectivity=m, expansion_add=USEARCH_EF_CONSTRUCTION)
        index.add(np.arange(n, dtype=np.uint64), base, threads=t)
        build_s = time.perf_counter() - start
        rss = rss_bytes() - rss0
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "index.usearch")
            index.save(path)
            size = os.path.getsize(path)
        mem = int(index.memory_usage)
        for ef in USEARCH_EF_SEARCH:
            index.expansion_search = ef
            params = {"M": m, "ef_construction": USEARCH_EF_CONSTRUCTION, "ef_search": ef}
            if dtype == "i8":
                params["quantization"] = "int8"
            r.point("usearch", kind, params,
                    lambda q, k: np.asarray(index.search(q, count=k, threads=t).keys).reshape(len(q), -1),
                    lambda q, k: np.asarray(index.search(q, count=k, threads=1).keys).reshape(-1),
                    build_s, size, mem, rss)
        del index


# ann-benchmarks' settings (ann_benchmarks/algorithms/scann/config.yml): per metric, run groups of
# (leaves, AVQ threshold, dims per block) with their (leaves to search, re-order candidates) query pairs.
SCANN_GROUPS = {
    "angular": [
        ((2000, 0.2, 2), [(1, 30), (2, 30), (4, 30), (8, 30), (30, 120), (35, 100), (40, 80), (45, 80), (50, 80),
                          (55, 95), (60, 110), (65, 110), (75, 110), (90, 110), (110, 120), (130, 150), (150, 200),
                          (170, 200), (200, 300), (220, 500), (250, 500), (310, 300), (400, 300), (500, 500),
                          (800, 1000)]),
        ((1500, 0.55, 1), [(1, 30), (2, 30), (4, 30), (8, 30), (8, 25), (10, 25), (12, 25), (13, 25), (14, 27),
                           (15, 30), (17, 30), (18, 40), (20, 40), (22, 40), (25, 50), (30, 50), (35, 55), (50, 60),
                           (60, 60), (80, 80), (100, 100)]),
        ((1000, 0.2, 1), [(1, 30), (2, 30), (4, 30), (8, 30), (9, 25), (11, 35), (12, 35), (13, 35), (14, 40),
                          (15, 40), (16, 40), (17, 45), (20, 45), (20, 55), (25, 55), (25, 70), (30, 70), (40, 90),
                          (50, 100), (60, 120), (70, 140)]),
        ((1400, 0.15, 3), [(1, 30), (4, 30), (9, 30), (16, 32), (25, 50), (36, 72), (49, 98), (70, 150), (90, 200),
                           (120, 210), (180, 270), (210, 330), (260, 400), (320, 500), (400, 600), (500, 700),
                           (800, 900)]),
    ],
    "euclidean": [
        ((600, float("nan"), 2), [(4, 40), (3, 30), (6, 60), (8, 74), (9, 78), (10, 82), (11, 85), (13, 100),
                                  (16, 120), (20, 140), (30, 180), (35, 240), (50, 360)]),
        ((2000, float("nan"), 4), [(10, 100), (15, 140), (25, 160), (35, 190), (40, 200), (45, 220), (50, 240),
                                   (60, 250), (70, 300), (80, 400), (100, 500), (120, 600), (150, 800), (200, 900)]),
        ((100, float("nan"), 4), [(2, 20), (3, 20), (3, 30), (4, 30), (5, 40), (8, 80)]),
    ],
}


def dir_size(d):
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(d) for f in files)


def run_scann(r, g):
    import scann

    base, t = r.base, r.args.threads
    n = base.shape[0]
    groups = SCANN_GROUPS["angular" if r.cosine else "euclidean"]
    if r.args.quick:
        groups = groups[:1]
    for (leaves_wanted, avq, dims_per_block), query_pairs in groups:
        leaves = max(min(leaves_wanted, n // 39), 1)
        rss0 = rss_bytes()
        start = time.perf_counter()
        b = scann.scann_ops_pybind.builder(base, r.args.k, "dot_product" if r.cosine else "squared_l2")
        b = b.tree(leaves, 1, training_sample_size=n, spherical=r.cosine, quantize_centroids=True)
        b = b.score_ah(dims_per_block, anisotropic_quantization_threshold=avq).reorder(1)
        searcher = b.set_n_training_threads(t).build()
        build_s = time.perf_counter() - start
        rss = rss_bytes() - rss0
        with tempfile.TemporaryDirectory() as d:
            searcher.serialize(d)
            size = dir_size(d)
        searcher.set_num_threads(t)
        # Capped at the leaf count, some pairs coincide: each is measured once.
        pairs = list(dict.fromkeys((min(to_search, leaves), reorder) for to_search, reorder in query_pairs))
        for to_search, reorder in pairs:
            params = {"leaves": leaves, "avq_threshold": "nan" if math.isnan(avq) else avq,
                      "dims_per_block": dims_per_block, "leaves_to_search": to_search, "reorder": reorder}

            def batch(q, k, to_search=to_search, reorder=reorder):
                call = searcher.search_batched_parallel if t > 1 else searcher.search_batched
                return np.asarray(call(q, final_num_neighbors=k, pre_reorder_num_neighbors=reorder,
                                       leaves_to_search=to_search)[0])

            def single(q, k, to_search=to_search, reorder=reorder):
                return np.asarray(searcher.search(q[0], final_num_neighbors=k, pre_reorder_num_neighbors=reorder,
                                                  leaves_to_search=to_search)[0])

            r.point("scann", "scann", params, batch, single, build_s, size, size, rss)
        del searcher


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


LIBRARIES = {"faiss": run_faiss, "hnswlib": run_hnswlib, "usearch": run_usearch, "scann": run_scann}


def versions(libs):
    from importlib.metadata import PackageNotFoundError, version

    dist = {"faiss": "faiss-cpu", "hnswlib": "hnswlib", "usearch": "usearch", "scann": "scann"}
    out = []
    for lib in libs:
        try:
            out.append(f"{lib} {version(dist[lib])}")
        except PackageNotFoundError:
            out.append(lib)
    return ", ".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="folder written by `vsearch bench --export-dataset`")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", required=True, help="results JSON to write")
    ap.add_argument("--quick", action="store_true", help="the small grid")
    ap.add_argument("--libraries", default="faiss,hnswlib",
                    help="comma-separated: faiss, hnswlib, usearch, scann (default: faiss,hnswlib)")
    ap.add_argument("--only", default="", help="comma-separated index kinds FAISS and hnswlib measure (flat, hnsw, "
                    "ivf-flat, ivf-pq; default: all), as `vsearch bench --only`; usearch and ScaNN run when named "
                    "in --libraries")
    ap.add_argument(
        "--refine-factor",
        type=int,
        default=index_constant("ivf", "DEFAULT_RERANK_FACTOR"),
        help="IVF-PQ re-ranking: k_factor * k candidates (default: vsearch's DEFAULT_RERANK_FACTOR)",
    )
    ap.add_argument("--pq-m", default="", help="comma-separated PQ sub-quantiser counts overriding the grid's")
    ap.add_argument("--min-pass-seconds", type=float, default=bench_min_pass_seconds(),
                    help="time each point over passes of all the queries lasting at least this long together and "
                    "keep the fastest, as `vsearch bench --min-pass-seconds` (default: its default); 0: one pass")
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
    metric = meta.get("metric", "l2")
    if metric not in ("l2", "cosine"):
        sys.exit(f"metric {metric!r}: this runner measures L2 and cosine datasets")
    cosine = metric == "cosine"
    if cosine:
        # Unit rows (vsearch's cosine vectors are): L2 ranks them as cosine does; ScaNN's dot product too.
        for rows in (base, queries):
            norms = np.linalg.norm(rows, axis=1)
            norms[norms == 0] = 1.0
            rows /= norms[:, None]

    g = grid(base.shape[0], base.shape[1], args.quick)
    if args.pq_m:
        g["pq"] = [(int(m), 8) for m in args.pq_m.split(",")]
    kinds = {"flat", "hnsw", "hnsw-int8", "ivf-flat", "ivf-pq"}
    only = {x.strip() for x in args.only.split(",") if x.strip()} or kinds
    if only - kinds:
        sys.exit(f"unknown index kind(s) in --only: {', '.join(sorted(only - kinds))}; use {', '.join(sorted(kinds))}")
    g["flat"] = "flat" in only
    g["hnsw_int8_builds"] = list(g["hnsw_builds"]) if "hnsw-int8" in only else []
    for kind, key in (("hnsw", "hnsw_builds"), ("ivf-flat", "ivf_flat_nlist"), ("ivf-pq", "ivf_pq_nlist")):
        if kind not in only:
            g[key] = []
    r = Runner(args, base, queries, gt)
    r.cosine = cosine
    libs = [x.strip() for x in args.libraries.split(",") if x.strip()]
    unknown = set(libs) - set(LIBRARIES)
    if unknown:
        sys.exit(f"unknown librar(ies) in --libraries: {', '.join(sorted(unknown))}; use {', '.join(LIBRARIES)}")
    # --only picks FAISS's and hnswlib's index kinds; usearch and ScaNN run whenever --libraries names them.
    for lib in libs:
        LIBRARIES[lib](r, g)

    results = {
        "schema": 1,
        "dataset": {
            "name": meta.get("name", os.path.basename(os.path.abspath(args.data))),
            "n_base": int(base.shape[0]),
            "n_queries": int(queries.shape[0]),
            "dim": int(base.shape[1]),
            "metric": metric,
            "ground_truth": "gt.ivecs from vsearch bench --export-dataset",
        },
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count() or 1, "simd": simd()},
        "threads": args.threads,
        "k": args.k,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "grids": {
            "peers": f"{versions(libs)}; FAISS and hnswlib on the same grids as vsearch; usearch and ScaNN on "
            f"ann-benchmarks' settings{' (quick: one group each)' if args.quick else ''}; IVF-PQ re-ranked with IndexRefineFlat k_factor={args.refine_factor}; points in two modes: 'single' (one query per call from --threads "
            f"concurrent callers, library threads 1; QPS and per-call latency) and 'batch' (all queries in one "
            f"call, library threads --threads; QPS)",
        },
        "points": r.points,
    }
    write_json_atomic(args.out, results)
    print(f"wrote {args.out} ({len(r.points)} points)", file=sys.stderr)


if __name__ == "__main__":
    main()
