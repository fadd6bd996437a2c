"""FAISS IndexFlatL2 (PyPI faiss-cpu) answering all queries of an exported dataset in one batched call: the peer
figure for `cargo run --release -p vsearch-bench --example flat_batch`.

    .venv-ref/bin/python scripts/faiss_flat_qps.py DIR THREADS   # DIR from `vsearch bench --export-dataset`
"""

import sys
import time

import numpy as np

from bench_peers import read_vecs, set_threads


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data, threads = sys.argv[1], int(sys.argv[2])
    import faiss

    set_threads(threads)
    base = read_vecs(f"{data}/base.fvecs", np.float32)
    queries = read_vecs(f"{data}/query.fvecs", np.float32)
    index = faiss.IndexFlatL2(base.shape[1])
    index.add(base)
    print(f"faiss IndexFlatL2, {base.shape[0]} x {base.shape[1]} base, {len(queries)} queries, k = 10, {threads} threads")
    for _ in range(3):
        start = time.perf_counter()
        index.search(queries, 10)
        print(f"one batched call: {len(queries) / (time.perf_counter() - start):8.0f} QPS")


if __name__ == "__main__":
    main()
