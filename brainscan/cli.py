"""Command line: `brainscan` (GUI), `brainscan info`, `brainscan bench`, `brainscan train`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from brainscan import __version__
from brainscan.errors import BrainScanError


def cmd_info(args: argparse.Namespace) -> int:
    """List each series found under PATH...; exit 0 when at least one loaded, 2 when none did."""
    from brainscan.io import load, scan
    from brainscan.io.describe import describe_series

    try:
        found = scan(args.paths)
    except BrainScanError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    described = []
    loaded = 0
    for info in found:
        try:
            volume = load(info)
            loaded += 1
            described.append(describe_series(info, volume))
        except BrainScanError as exc:
            print(f"{info.description}: {exc}", file=sys.stderr)
            entry = describe_series(info)
            entry["error"] = str(exc)
            described.append(entry)
    if args.json:
        print(json.dumps(described, indent=2))
    else:
        for entry in described:
            spacing = entry["pixel_spacing_mm"]
            print(f"{entry['description']}  [{entry['modality'] or entry['kind']}]")
            size = f"{entry['rows']}x{entry['columns']}"
            print(f"  {entry['slices']} slices of {size}, sorted by {entry['sorted_by']}")
            slice_spacing = entry["slice_spacing_mm"] or "unknown"
            print(f"  pixel spacing {spacing or 'unknown'} mm, slice spacing {slice_spacing} mm")
            print(f"  UID {entry['series_uid']}  source {entry['source']}")
            for warning in entry["warnings"]:
                print(f"  warning: {warning}")
            if entry["skipped"]:
                print(f"  {len(entry['skipped'])} file(s) skipped:")
                for item in entry["skipped"]:
                    print(f"    {item['path']}: {item['reason']}")
    if loaded == 0:
        print("No series could be loaded.", file=sys.stderr)
        return 2
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from brainscan import bench

    return bench.run(args)


def cmd_train(args: argparse.Namespace) -> int:
    if args.model == "classifier":
        from brainscan.models.training.train_classifier import train

        train(args)
        return 0
    print(f"unknown model {args.model}", file=sys.stderr)
    return 2


def cmd_gui(args: argparse.Namespace) -> int:
    from brainscan.app import run_gui

    return run_gui(args.paths)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="brainscan", description="Brain MRI decision support")
    parser.add_argument("--version", action="version", version=f"brainscan {__version__}")
    sub = parser.add_subparsers(dest="command")

    info = sub.add_parser("info", help="list the MRI series found in files and folders")
    info.add_argument("paths", nargs="+", type=Path)
    info.add_argument("--json", action="store_true", help="print a JSON list, one object per series")
    info.set_defaults(func=cmd_info)

    bench = sub.add_parser("bench", help="time parts of BrainScan")
    bench_sub = bench.add_subparsers(dest="target", required=True)
    bench_io = bench_sub.add_parser("io", help="time scan() and load() on a series")
    from brainscan.config import data_dir

    bench_io.add_argument(
        "path", nargs="?", type=Path, default=data_dir() / "dicom" / "SAG-anon_siemens_skyra_mprage"
    )
    bench_io.add_argument("--repeat", type=int, default=5)
    bench.set_defaults(func=cmd_bench)

    train = sub.add_parser("train", help="train a model (hours on a CPU)")
    train_sub = train.add_subparsers(dest="model", required=True)
    from brainscan.models.training.train_classifier import add_arguments

    add_arguments(train_sub.add_parser("classifier", help="VGG16 tumour classifier"))
    train.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    commands = {"info", "bench", "train"}
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        gui = argparse.Namespace(paths=[Path(a) for a in argv])
        return cmd_gui(gui)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return cmd_gui(argparse.Namespace(paths=[]))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
