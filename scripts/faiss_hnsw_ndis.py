"""FAISS IndexHNSWFlat (PyPI faiss-cpu) on an exported dataset, one thread, one query per call: recall@10 and
distance evaluations per query (`hnsw_stats.ndis`) for each ef_search, the peer figures for
`cargo run --release -p vsearch-index --example hnsw_ndis` (same M = 16, ef_construction = 100).

    .venv-ref/bin/python scripts/faiss_hnsw_ndis.py DIR   # DIR from `vsearch bench --export-dataset`
"""

import sys
import time

import numpy as np

from bench_peers import read_vecs, recall, set_threads


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    data = sys.argv[1]
    import faiss

    set_threads(1)
    base = read_vecs(f"{data}/base.fvecs", np.float32)
    queries = read_vecs(f"{data}/query.fvecs", np.float32)
    gt = read_vecs(f"{data}/gt.ivecs", np.int32).astype(np.int64)
    index = faiss.IndexHNSWFlat(base.shape[1], 16)
    index.hnsw.efConstruction = 100
    start = time.perf_counter()
    index.add(base)
    print(f"faiss IndexHNSWFlat M=16 efC=100, {base.shape[0]} x {base.shape[1]}, {len(queries)} queries; "
          f"build {time.perf_counter() - start:.1f} s")
    print(f"{'ef':>4} {'recall@10':>9} {'ndis/query':>10} {'QPS':>8}")
    for ef in (16, 32, 64, 128):
        index.hnsw.efSearch = ef
        for q in queries[:100]:
            index.search(q[None, :], 10)
        faiss.cvar.hnsw_stats.reset()
        found = []
        start = time.perf_counter()
        for q in queries:
            found.append(index.search(q[None, :], 10)[1][0])
        qps = len(queries) / (time.perf_counter() - start)
        ndis = faiss.cvar.hnsw_stats.ndis / len(queries)
        print(f"{ef:>4} {recall(np.array(found), gt, 10):>9.4f} {ndis:>10.1f} {qps:>8.0f}")


if __name__ == "__main__":
    main()
