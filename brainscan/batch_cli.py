"""`brainscan batch ROOT... --out DIR [--from-list FILE] [--workers N] [--scheduler ADDR | --local-cluster]
[--pdf] [--dicom-out] [--deidentify]`: the app's analysis over many series (docs/batch.md).

Exit status: 0 when every series of this run was analysed (or all were already in the table), 1 when some
failed, 2 when nothing could be run (no series found, bad options, models that cannot be loaded, no Dask).
Unlike `brainscan analyze`, nothing is added to the desktop app's history.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from brainscan.text import display_path, printable


def batch_extra_hint() -> str:
    """Where Dask and Arrow come from: the desktop app does not bundle them; a Python install gets the extra."""
    if getattr(sys, "frozen", False):
        return "the desktop app does not include it; a Python install with pip install -e '.[batch]' does"
    return "pip install -e '.[batch]'"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("roots", nargs="*", type=Path, metavar="ROOT", help="folders (or files) to search for series")
    parser.add_argument("--out", type=Path, required=True, help="output folder: table, journal, per-series files")
    parser.add_argument("--from-list", type=Path, help="a file with one series folder or file per line")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default: the CPU count; with --local-cluster too)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="model threads per worker (default: BRAINSCAN_THREADS, else the cores here divided among the workers; "
        "on a remote cluster the worker's own default)",
    )
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--scheduler", help="run on a Dask cluster: the scheduler's address, e.g. tcp://HOST:8786")
    engine.add_argument("--local-cluster", action="store_true", help="run on a Dask LocalCluster started here")
    parser.add_argument("--pdf", action="store_true", help="write a PDF report per series")
    parser.add_argument("--dicom-out", action="store_true", help="write a DICOM SEG and Encapsulated PDF per series")
    parser.add_argument(
        "--deidentify", action="store_true", help="study codes instead of paths, patient IDs and UIDs, in every output"
    )
    parser.add_argument("--heatmaps", action="store_true", help="Grad-CAM heat maps for the key slices (slower)")
    parser.add_argument(
        "--retry-failed", action="store_true", help="analyse again the series whose row in the table has an error"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    # for tests and benchmarks: another "module:function" returning LoadedModels; how often to rewrite the table
    parser.add_argument("--models-factory", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--table-every", type=float, default=30.0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    from brainscan.batch.discover import read_list
    from brainscan.batch.runner import Plan, run_batch, summary_lines
    from brainscan.batch.table import have_pyarrow
    from brainscan.batch.work import DEFAULT_MODELS, Options

    def err(text: object) -> None:
        print(printable(text), file=sys.stderr)

    if not args.roots and not args.from_list:
        err("Give at least one ROOT folder or --from-list FILE.")
        return 2
    if (args.workers is not None and args.workers < 1) or (args.threads is not None and args.threads < 1):
        err("--workers and --threads must be at least 1.")
        return 2
    if args.out.exists() and not args.out.is_dir():
        err(f"--out {display_path(args.out)} exists and is not a folder.")
        return 2
    listed = []
    if args.from_list:
        try:
            listed = read_list(args.from_list)
        except OSError as exc:
            err(f"--from-list {display_path(args.from_list)} cannot be read: {exc.strerror or exc}.")
            return 2
    dask = bool(args.scheduler or args.local_cluster)
    if dask:
        try:
            import distributed  # noqa: F401
        except ImportError:
            err(f"--scheduler and --local-cluster need Dask: {batch_extra_hint()}.")
            return 2
    if not have_pyarrow():
        err(f"warning: pyarrow is not installed ({batch_extra_hint()}): the table is written as CSV only.")
    workers = args.workers or os.cpu_count() or 1
    threads = args.threads
    if threads is None and not args.scheduler:  # this machine's cores, shared out so workers do not oversubscribe
        threads = max(1, (os.cpu_count() or 1) // workers)
    options = Options(
        out=str(args.out.absolute()),
        pdf=args.pdf,
        dicom_out=args.dicom_out,
        deidentify=args.deidentify,
        heatmaps=args.heatmaps,
        threads=threads,
        models=args.models_factory or os.environ.get("BRAINSCAN_BATCH_MODELS") or DEFAULT_MODELS,
    )
    plan = Plan(
        engine="dask" if dask else "pool",
        workers=workers,
        scheduler=args.scheduler,
        retry_failed=args.retry_failed,
        table_every_s=args.table_every,
    )
    try:
        outcome = run_batch(list(args.roots), listed, options, plan, progress=not args.quiet, say=print)
    except (OSError, TimeoutError) as exc:
        err(f"The batch could not run: {exc}")
        return 2
    for line in summary_lines(outcome, args.out, have_pyarrow()):
        print(printable(line))
    if outcome.stopped:
        err(outcome.stopped)
        return 2
    if outcome.found == 0:
        err("No series were found.")
        return 2
    if outcome.failed:
        return 1 if len(outcome.failed) < len(outcome.rows) else 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m brainscan.batch_cli ...``: the same as ``brainscan batch ...``."""
    parser = argparse.ArgumentParser(prog="brainscan batch", description="analyse every series under folders")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
