"""Throughput and overhead of `brainscan batch` (docs/performance.md, "Batch"): one worker, then two, on the same
set of synthetic series, with the shipped models.

    .venv/bin/python docs/batch_bench.py [--series 40] [--slices 8] [--size 128] [--work /tmp/batch-bench]

Writes the series (phantoms from tests/dicom_factory.py: an elliptical head, a bright disc on some slices), runs
`python -m brainscan.batch_cli SET --out ... --workers W --threads 1` for W = 1 and 2 in fresh processes (one
interpreter thread per worker, so the comparison is between workers, not LiteRT threads), and prints one JSON
object: each run's last_run.json, series/s, the speed-up, the per-series overhead and whether the two tables
agree (apart from timings and worker names).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from brainscan.batch.table import CSV, RUN_DEPENDENT, read_csv  # noqa: E402
from tests.dicom_factory import write_phantom_series  # noqa: E402


def run(set_folder: Path, out: Path, workers: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "brainscan.batch_cli", str(set_folder), "--out", str(out), "--quiet"]
    command += ["--workers", str(workers), "--threads", "1"]
    subprocess.run(command, cwd=REPO, check=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    record = json.loads((out / "last_run.json").read_text())
    rows = read_csv(out / CSV)
    # spawning the workers, their imports and model loading (once per worker), before the first series started
    startup = record["first_result_seconds"] - record["first_row_seconds"]
    work = record["sum_load_seconds"] + record["sum_analysis_seconds"]
    analysis = record["sum_analysis_seconds"]
    steady = record["engine_seconds"] - startup
    record.update(
        series_per_s=round(record["analysed"] / record["seconds"], 3),
        steady_series_per_s=round(record["analysed"] / steady, 3),
        startup_seconds=round(startup, 3),
        # one worker runs series back to back: what its wall time adds to loading and analysing them
        overhead_vs_load_and_analysis=round((steady * workers - work) / work, 4),
        overhead_vs_analysis=round((steady * workers - analysis) / analysis, 4),
    )
    record["rows"] = [{k: v for k, v in r.items() if k not in RUN_DEPENDENT} for r in rows]
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=40)
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--work", type=Path, default=Path("/tmp/batch-bench"))
    args = parser.parse_args()
    set_folder = args.work / "set"
    shutil.rmtree(set_folder, ignore_errors=True)
    for i in range(args.series):
        write_phantom_series(
            set_folder / f"s{i:03d}",
            n=args.slices,
            shape=(args.size, args.size),
            lesion_slices=(3, 4) if i % 2 else (),
            radius=args.size // 8,
            patient_id=f"B{i:03d}",
        )
    one = run(set_folder, args.work / "one", 1)
    two = run(set_folder, args.work / "two", 2)
    same = one.pop("rows") == two.pop("rows")
    load = os.getloadavg()
    print(
        json.dumps(
            {
                "one_worker": one,
                "two_workers": two,
                "speedup_total": round(two["series_per_s"] / one["series_per_s"], 3),
                "speedup_steady": round(two["steady_series_per_s"] / one["steady_series_per_s"], 3),
                "tables_equal": same,
                "cores": os.cpu_count(),
                "load_average_after": [round(x, 2) for x in load],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
