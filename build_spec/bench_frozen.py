"""Size and speed of the frozen app (run with the development venv after building dist/BrainScan).

    .venv/bin/python build_spec/bench_frozen.py [--runs 5] [--slices 24] [--series auto|phantom|FOLDER]
                                               [--json bench.json]

Measures, with the frozen executable in a clean environment (empty HOME, offscreen Qt, no BRAINSCAN_*):

- size: bytes of dist/BrainScan, and the largest parts;
- start to window: process launch (just before exec) to the main window shown with a running event loop, from
  ``BRAINSCAN_STARTUP_PROBE`` (brainscan.app.run_gui). "cold": the bundle's files are evicted from the page
  cache before each run (posix_fadvise DONTNEED on every file in dist/BrainScan; system libraries stay cached,
  as they would on a desktop that is in use); "warm": run again right after;
- first result: wall time of ``brainscan analyze SERIES --json out.json --no-history`` on a 24-slice series
  (process start, scan, load, model load, classification, segmentation, Grad-CAM, JSON), cold and warm; the
  pipeline's own step timings from the JSON; ``brainscan --version`` (process start) and ``brainscan info
  SERIES`` (start + scan + load, no models), so scan + load and model loading follow by subtraction; "after the
  drop" (the GUI has started and loaded its models) is scan + load + the pipeline steps; and
  ``brainscan bench classifier --runtime litert`` (load + warm-up, ms per slice);
- the machine: CPU count and load average (other processes compete for the CPU; compare runs on one machine).

Prints a summary table and writes the JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist" / "BrainScan"


def bundle_size(folder: Path) -> dict:
    total, parts = 0, {}
    internal = folder / "_internal"
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = Path(dirpath) / name
            if path.is_symlink():
                continue
            size = path.stat().st_size
            total += size
            rel = path.relative_to(internal) if internal in path.parents else path.relative_to(folder)
            top = rel.parts[0] if len(rel.parts) > 1 else rel.name
            key = {
                "numpy.libs": "numpy",
                "scipy.libs": "scipy",
                "pillow.libs": "PIL",
                "libpywrap_litert_common.so": "ai_edge_litert",
                "libpython3.11.so.1.0": "python",
                "python3.11": "python",
                "base_library.zip": "python",
                "brainscan": "executable (+ app code)",
            }.get(top, top)
            if key == "resources":
                key = "resources/" + (rel.parts[1] if len(rel.parts) > 2 else "")
            elif key.startswith(("libQt6", "libicu", "libpyside6", "libshiboken6")):
                key = "PySide6"
            elif key.startswith("lib") and key.endswith(
                (".so", ".0", ".1", ".2", ".3", ".5", ".6", ".8", ".62", ".73")
            ):
                key = "other shared libraries"
            parts[key] = parts.get(key, 0) + size
    top_parts = sorted(parts.items(), key=lambda kv: -kv[1])
    return {"total_mb": round(total / 1e6, 1), "parts_mb": {k: round(v / 1e6, 1) for k, v in top_parts}}


def evict(folder: Path) -> int:
    """Drop the bundle's files from the page cache; returns the number of files advised."""
    count = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                count += 1
            finally:
                os.close(fd)
    return count


def clean_env(home: Path, **extra: str) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"}
    env.update(extra)
    return env


def run_timed(cmd: list[str], env: dict, cwd: Path, timeout: float = 600) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed, done


def start_to_window(app: Path, home: Path, cwd: Path, cold: bool) -> dict:
    if cold:
        evict(DIST)
    env = clean_env(home, BRAINSCAN_STARTUP_PROBE=repr(time.time()))
    elapsed, done = run_timed([str(app)], env, cwd, timeout=120)
    probe = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("{")))
    return {
        "launch_to_shown_s": probe["launch_to_shown_s"],
        "run_gui_to_shown_s": probe["run_gui_to_shown_s"],
        "process_total_s": round(elapsed, 3),
    }


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", type=Path, default=DIST / "brainscan")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slices", type=int, default=24)
    parser.add_argument("--series", default="auto", help="make_series.py --source: auto, phantom or a folder")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    app = args.app.resolve()
    if not app.is_file():
        raise SystemExit(f"{app} is missing; build it first (see docs/building.md)")

    work = Path(tempfile.mkdtemp(prefix="brainscan-bench."))
    home, cwd = work / "home", work / "cwd"
    home.mkdir()
    cwd.mkdir()
    series = work / "series"
    made = subprocess.run(
        [
            sys.executable,
            str(ROOT / "build_spec" / "make_series.py"),
            str(series),
            "--slices",
            str(args.slices),
            "--source",
            args.series,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict = {
        "machine": {"cpus": os.cpu_count(), "loadavg_before": os.getloadavg()},
        "series": json.loads(made.stdout),
        "size": bundle_size(DIST),
    }

    # start to an interactive window
    cold = [start_to_window(app, home, cwd, cold=True) for _ in range(args.runs)]
    warm = [start_to_window(app, home, cwd, cold=False) for _ in range(args.runs)]
    result["start_to_window_s"] = {
        "cold_median": median([r["launch_to_shown_s"] for r in cold]),
        "cold_max": max(r["launch_to_shown_s"] for r in cold),
        "warm_median": median([r["launch_to_shown_s"] for r in warm]),
        "run_gui_to_shown_warm_median": median([r["run_gui_to_shown_s"] for r in warm]),
        "runs": args.runs,
    }

    # first result for the series
    out = work / "out.json"
    analyze = [str(app), "analyze", str(series), "--json", str(out), "--no-history", "--quiet"]
    cold_runs, warm_runs, steps = [], [], []
    for is_cold in [True] * args.runs + [False] * args.runs:
        if is_cold:
            evict(DIST)
        elapsed, _ = run_timed(analyze, clean_env(home), cwd)
        (cold_runs if is_cold else warm_runs).append(elapsed)
        steps.append(json.loads(out.read_text())["timings_s"])
    info_runs = [run_timed([str(app), "info", str(series)], clean_env(home), cwd)[0] for _ in range(args.runs)]
    version_runs = [run_timed([str(app), "--version"], clean_env(home), cwd)[0] for _ in range(args.runs)]
    step_median = {k: median([s.get(k, 0.0) for s in steps]) for k in steps[0]}
    steps_total = sum(step_median.values())
    verdict = json.loads(out.read_text())["verdict"]
    _, bench = run_timed(
        [str(app), "bench", "classifier", "--runtime", "litert", "--repeat", "3"], clean_env(home), cwd
    )
    bench_json = json.loads(bench.stdout[bench.stdout.index("{") :])
    scan_load = max(0.0, median(info_runs) - median(version_runs))  # small; can come out below 0 in the noise
    result["first_result_s"] = {
        "analyze_cold_median": median(cold_runs),
        "analyze_warm_median": median(warm_runs),
        "pipeline_steps_median": step_median,
        "process_start_warm_median": median(version_runs),
        "scan_and_load_estimate": round(scan_load, 3),
        "model_load_estimate": round(median(warm_runs) - median(info_runs) - steps_total, 3),
        "after_drop_estimate": round(scan_load + steps_total, 3),
        "verdict": f"{verdict['label']} (P(tumour) {verdict['tumour_probability']:.3f})",
        "runs": args.runs,
    }
    result["classifier_bench_litert"] = bench_json
    result["machine"]["loadavg_after"] = os.getloadavg()

    size = result["size"]
    print(f"dist/BrainScan: {size['total_mb']} MB")
    for name, mb in list(size["parts_mb"].items())[:12]:
        print(f"  {mb:8.1f} MB  {name}")
    s = result["start_to_window_s"]
    print(f"start to window: cold median {s['cold_median']} s (max {s['cold_max']}), warm median {s['warm_median']} s")
    f = result["first_result_s"]
    print(
        f"brainscan analyze ({args.slices} slices): cold median {f['analyze_cold_median']} s, "
        f"warm median {f['analyze_warm_median']} s; steps {f['pipeline_steps_median']}"
    )
    print(
        f"  process start {f['process_start_warm_median']} s, scan + load ~{f['scan_and_load_estimate']} s, "
        f"model load (+ its imports) ~{f['model_load_estimate']} s; after a drop on the running app (models "
        f"loaded, scan + load + steps) ~{f['after_drop_estimate']} s"
    )
    print(f"classifier (LiteRT): {bench_json}")
    print(f"machine: {result['machine']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
