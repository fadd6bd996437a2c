"""Files the benchmark scripts write (bench_peers.py, bench_best_of.py); standard library only."""

import json
import os


def write_json_atomic(path, data):
    """Writes `data` as JSON to `path` atomically: a temporary file beside it, fsynced, renamed over it, the
    folder fsynced (a crash leaves the old file or the new one, never half of one)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    folder = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
