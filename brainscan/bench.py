"""Benchmarks (`brainscan bench ...`): wall-clock timings printed as a table and JSON."""

from __future__ import annotations

import argparse
import json
import statistics
import time


def bench_io(path, repeat: int) -> dict:
    from brainscan.io import load, scan

    scan_times, load_times = [], []
    slices = 0
    for _ in range(repeat):
        start = time.perf_counter()
        found = scan([path])
        scan_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        volume = load(found[0])
        load_times.append(time.perf_counter() - start)
        slices = volume.n_slices
    return {
        "path": str(path),
        "slices": slices,
        "repeat": repeat,
        "scan_s_median": round(statistics.median(scan_times), 3),
        "scan_s_min": round(min(scan_times), 3),
        "load_s_median": round(statistics.median(load_times), 3),
        "load_s_min": round(min(load_times), 3),
    }


def run(args: argparse.Namespace) -> int:
    if args.target == "io":
        result = bench_io(args.path, args.repeat)
        print(
            f"scan: median {result['scan_s_median']} s, load: median {result['load_s_median']} s "
            f"({result['slices']} slices, {result['repeat']} runs)"
        )
        print(json.dumps(result))
        return 0
    return 2
