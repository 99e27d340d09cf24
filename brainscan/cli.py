"""Command line: `brainscan` (GUI), `brainscan info`, `analyze`, `send`, `echo`, `bench`, `train`, ..."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from brainscan import __version__
from brainscan.errors import BrainScanError


def say(text: object, file=None) -> None:
    """Print text that came from files or headers: each line without control characters (a header can hold
    escape sequences that clear the screen or set the terminal's title)."""
    from brainscan.text import printable

    print(printable(text), file=file or sys.stdout)


def cmd_info(args: argparse.Namespace) -> int:
    """List each series found under PATH...; exit 0 when at least one loaded, 2 when none did."""
    from brainscan.io.batch import scan_and_load
    from brainscan.io.describe import describe_series
    from brainscan.jsonsafe import dumps

    try:
        outcomes = scan_and_load(args.paths)
    except BrainScanError as exc:
        say(exc, file=sys.stderr)
        return 2
    described = []
    for outcome in outcomes:
        entry = describe_series(outcome.info, outcome.volume)
        if outcome.error is not None:
            say(f"{outcome.info.description}: {outcome.error}", file=sys.stderr)
            entry["error"] = str(outcome.error)
        described.append(entry)
    loaded = sum(outcome.volume is not None for outcome in outcomes)
    if args.json:
        print(dumps(described, indent=2))
    else:
        shared = skipped_by_all(described)
        for entry in described:
            spacing = entry["pixel_spacing_mm"]
            say(f"{entry['description']}  [{entry['modality'] or entry['kind']}]")
            size = f"{entry['rows']}x{entry['columns']}"
            say(f"  {entry['slices']} slices of {size}, sorted by {entry['sorted_by']}")
            slice_spacing = entry["slice_spacing_mm"] or "unknown"
            say(f"  pixel spacing {spacing or 'unknown'} mm, slice spacing {slice_spacing} mm")
            say(f"  UID {entry['series_uid']}  source {entry['source']}")
            for warning in entry["warnings"]:
                say(f"  warning: {warning}")
            own = [item for item in entry["skipped"] if (item["path"], item["reason"]) not in shared]
            if own:
                say(f"  {len(own)} file(s) skipped:")
                for item in own:
                    say(f"    {item['path']}: {item['reason']}")
        if shared:
            say(f"{len(shared)} file(s) skipped, not part of any series above:")
            for path, reason in shared:
                say(f"  {path}: {reason}")
    if loaded == 0:
        print("No series could be loaded.", file=sys.stderr)
        return 2
    return 0


def skipped_by_all(described: list[dict]) -> list[tuple[str, str]]:
    """(path, reason) of the skipped files every series of a scan lists (the scan's own, not one series'):
    printed once after the series rather than under each of them. None for a single series."""
    if len(described) < 2:
        return []
    sets = [{(item["path"], item["reason"]) for item in entry["skipped"]} for entry in described]
    common = set.intersection(*sets)
    return [pair for pair in dict.fromkeys((i["path"], i["reason"]) for i in described[0]["skipped"]) if pair in common]


def cmd_bench(args: argparse.Namespace) -> int:
    from brainscan import bench

    return bench.run(args)


def cmd_train(args: argparse.Namespace) -> int:
    if args.model == "classifier":
        from brainscan.training.train_classifier import train

        train(args)
        return 0
    if args.model == "classifier-pack":
        from brainscan.training.volume_slices import write_pack

        write_pack(args)
        return 0
    if args.model == "segmenter-pack":
        from brainscan.training.segmentation_volumes import write_pack as write_segmentation_pack

        write_segmentation_pack(args)
        return 0
    if args.model == "segmenter":
        from brainscan.training.train_segmenter import train as train_segmenter

        train_segmenter(args)
        return 0
    if args.model == "segmenter-gate":
        from brainscan.training.segmenter_gate import fit as fit_gate

        entry = fit_gate(args)
        print(f"slice gate written: threshold logit {entry['threshold_logit']:.3f}, L2 {entry['chosen_by']['l2']:g}")
        return 0
    print(f"unknown model {args.model}", file=sys.stderr)
    return 2


def cmd_export(args: argparse.Namespace) -> int:
    if args.model == "litert":
        from brainscan.training.export_litert import export as export_litert

        try:
            print(json.dumps(export_litert(args), indent=2))
        except BrainScanError as exc:
            print(str(exc), file=sys.stderr)
            return 2
        return 0
    if args.model == "segmenter":
        from brainscan.training.export_segmenter import export
    else:
        from brainscan.training.export_classifier import export

    card = export(args)
    print(json.dumps({k: card.get(k) for k in ("file", "sha256", "epochs", "validation", "calibration")}, indent=2))
    # the export rewrote the card: convert again so the card's LiteRT entry matches the new weights
    from brainscan.runtime.spec import CLASSIFIER_CARD, SEGMENTER_CARD
    from brainscan.training.export_litert import export_classifier, export_segmenter

    convert = export_segmenter if args.model == "segmenter" else export_classifier
    try:
        convert(args.out / (SEGMENTER_CARD if args.model == "segmenter" else CLASSIFIER_CARD))
        print("LiteRT model converted and verified against Keras.")
    except BrainScanError as exc:
        print(f"LiteRT conversion failed, the app will use Keras for this model: {exc}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate a model card's model on the runtime the app would use (``--runtime``; auto: LiteRT when the card
    names a .tflite, else Keras)."""
    from brainscan.runtime.loading import choose_runtime, load_classifier, load_segmenter, requested_runtime
    from brainscan.runtime.spec import read_spec, shipped_classifier_spec
    from brainscan.training.evaluation import evaluate_classifier
    from brainscan.training.metrics import format_report

    if args.model == "heatmaps":
        from brainscan.training.heatmap_evaluation import run as run_heatmaps

        return run_heatmaps(args)
    if args.model == "folds":
        from brainscan.training.series_folds import run as run_folds

        return run_folds(args)
    try:
        requested = requested_runtime(args.runtime)
        if args.model == "series":
            from brainscan.runtime.loading import load_shipped_models
            from brainscan.training.series_evaluation import run as run_series

            models = load_shipped_models(requested)
            report = run_series(args, models.classifier, models.segmenter)
            totals = report["totals"]
            return 0 if totals["normal_series"] + totals["tumour_series"] else 2
        if args.model == "segmenter":
            from brainscan.runtime.spec import shipped_segmenter_spec
            from brainscan.training.segmentation_evaluation import evaluate_segmenter, outlined_fraction_in_folder

            spec = read_spec(args.card) if args.card else shipped_segmenter_spec()
            segmenter = load_segmenter(spec, choose_runtime(requested, spec))
            if args.views:
                segmenter.views = args.views  # what-if: the card's model read with another number of views
                if segmenter.gate is not None and segmenter.gate.views != args.views:
                    print(
                        f"note: the slice gate was fitted on {segmenter.gate.views}-view features; with {args.views} "
                        "views it reads features it was not fitted on",
                        file=sys.stderr,
                    )
            if args.validation_split:
                report = _evaluate_segmenter_validation(segmenter, spec, args.dir)
            else:
                report = evaluate_segmenter(segmenter, args.dir)
            text = (
                f"n = {report['n']}  dice mean {report['dice_mean']:.4f}  median {report['dice_median']:.4f}  "
                f"IoU mean {report['iou_mean']:.4f}  {report['ms_per_slice']:.1f} ms/slice\n"
                + "  ".join(f"{k}: {v:.4f}" for k, v in report["dice_by_label"].items())
            )
            if args.no_tumour_dir:
                report["no_tumour"] = outlined_fraction_in_folder(segmenter, args.no_tumour_dir)
            if args.volume_pack:
                report["held_out_volumes"] = held = _evaluate_pack(segmenter, args.volume_pack)
                text += (
                    f"\nheld-out volume slices: {held['slices']} with tumour, "
                    f"dice mean {held.get('dice_mean', 0):.4f}, "
                    f"outlined over true area {held.get('outlined_over_true_area', 0):.3f}"
                )
                if "tumour_free_slices" in held:
                    text += (
                        f"; {held['tumour_free_slices']} tumour-free, outlined on "
                        f"{held['tumour_free_outlined_fraction']:.1%}"
                    )
            if "no_tumour" in report:
                text += (
                    f"\nno-tumour slices: {report['no_tumour']['n']}, outlined on "
                    f"{report['no_tumour']['outlined_fraction']:.1%} (mean outlined area "
                    f"{report['no_tumour']['mean_outlined_area_fraction']:.2%} of the slice)"
                )
        else:
            spec = read_spec(args.card) if args.card else shipped_classifier_spec()
            report = evaluate_classifier(load_classifier(spec, choose_runtime(requested, spec)), args.dir)
            text = format_report(report)
    except BrainScanError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(text)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


def _evaluate_pack(segmenter, pack_file: Path) -> dict:
    """The held-out part of a segmenter pack, scored as `export segmenter` scores it for the card.

    Raises:
        SeriesLoadError: when the pack cannot be read.
    """
    import numpy as np

    from brainscan.errors import SeriesLoadError
    from brainscan.training.segmentation_evaluation import evaluate_pack_slices

    try:
        with np.load(pack_file) as data:
            pack = {key: data[key] for key in ("images", "masks", "split", "source")}
    except (OSError, ValueError, KeyError) as exc:
        raise SeriesLoadError(f"{pack_file} is not a segmenter pack ({exc}).") from exc
    return evaluate_pack_slices(segmenter, pack, "val")


def _evaluate_segmenter_validation(segmenter, spec, root: Path) -> dict:
    """The card's numbers, measured again: the slices of ``root`` in the card's validation list, and how often it
    outlines anything on the shipped classifier's tumour-free validation slices (as `export segmenter` does)."""
    from brainscan.training.export_segmenter import notumor_validation_files
    from brainscan.training.segmentation_data import read_segmentation_set
    from brainscan.training.segmentation_evaluation import evaluate_items, outlined_fraction

    listed = set(json.loads((spec.file.parent / spec.card["split"]["validation_files"]).read_text())["files"])
    items = [item for item in read_segmentation_set(Path(root)) if item.image.name in listed]
    report = evaluate_items(segmenter, items)
    report["views"] = segmenter.views
    empty = notumor_validation_files()
    if empty:
        report["no_tumour"] = outlined_fraction(segmenter, empty)
    return report


def cmd_analyze(args: argparse.Namespace) -> int:
    from brainscan.analyze_cli import run

    return run(args)


def cmd_batch(args: argparse.Namespace) -> int:
    from brainscan.batch_cli import run

    return run(args)


def cmd_send(args: argparse.Namespace) -> int:
    from brainscan.pacs_cli import run_send

    return run_send(args)


def cmd_echo(args: argparse.Namespace) -> int:
    from brainscan.pacs_cli import run_echo

    return run_echo(args)


def cmd_pacs(args: argparse.Namespace) -> int:
    """query, retrieve, cache, listen: brainscan.pacs_cli.run_<command>."""
    from brainscan import pacs_cli

    return getattr(pacs_cli, f"run_{args.command}")(args)


def cmd_gui(args: argparse.Namespace) -> int:
    from brainscan.app import run_gui

    return run_gui(args.paths)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brainscan",
        description=(
            "Brain MRI decision support.\n\n"
            "  brainscan               open the window\n"
            "  brainscan PATH...       open the window on these series: DICOM folders or files, NIfTI files,\n"
            "                          folders of JPEG/PNG slices (a folder with several series asks which)\n"
            "  brainscan COMMAND ...   run a command without the window (brainscan COMMAND --help)"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"brainscan {__version__}")
    sub = parser.add_subparsers(dest="command")

    info = sub.add_parser("info", help="list the MRI series found in files and folders")
    info.add_argument("paths", nargs="+", type=Path)
    info.add_argument("--json", action="store_true", help="print a JSON list, one object per series")
    info.set_defaults(func=cmd_info)

    analyze = sub.add_parser("analyze", help="analyse series headlessly (JSON, PDF, history)")
    from brainscan.analyze_cli import add_arguments as add_analyze_arguments

    add_analyze_arguments(analyze)
    analyze.set_defaults(func=cmd_analyze)

    batch = sub.add_parser("batch", help="analyse every series under folders into one table (pool or Dask)")
    from brainscan.batch_cli import add_arguments as add_batch_arguments

    add_batch_arguments(batch)
    batch.set_defaults(func=cmd_batch)

    from brainscan.pacs_cli import add_echo_arguments, add_send_arguments

    send = sub.add_parser("send", help="send DICOM files (e.g. analyze --dicom-out results) to a PACS (C-STORE)")
    add_send_arguments(send)
    send.set_defaults(func=cmd_send)
    echo = sub.add_parser("echo", help="test the connection to a PACS (C-ECHO)")
    add_echo_arguments(echo)
    echo.set_defaults(func=cmd_echo)
    from brainscan.pacs_cli import add_pacs_parsers

    add_pacs_parsers(sub, cmd_pacs)

    bench = sub.add_parser("bench", help="time parts of BrainScan")
    bench_sub = bench.add_subparsers(dest="target", required=True)
    bench_io = bench_sub.add_parser("io", help="time scan() and load() on a series")
    from brainscan.config import data_dir

    bench_io.add_argument("path", nargs="?", type=Path, default=data_dir() / "dicom" / "SAG-anon_siemens_skyra_mprage")
    bench_io.add_argument("--repeat", type=int, default=5)
    bench_clf = bench_sub.add_parser("classifier", help="classifier load time, ms per slice, peak memory")
    bench_clf.add_argument("--card", type=Path, help="model card (default: the shipped one)")
    bench_clf.add_argument("--repeat", type=int, default=3)
    bench_clf.add_argument("--runtime", choices=("keras", "litert"), default="keras", help="model runtime to time")
    bench_seg = bench_sub.add_parser("segmenter", help="segmenter load time, ms per slice (512 px)")
    bench_seg.add_argument("--card", type=Path, help="model card (default: the shipped one)")
    bench_seg.add_argument("--repeat", type=int, default=3)
    bench_seg.add_argument("--runtime", choices=("keras", "litert"), default="keras")
    bench_analysis = bench_sub.add_parser("analysis", help="whole analysis of a 24-slice series, models loaded")
    bench_analysis.add_argument(
        "path", nargs="?", type=Path, default=data_dir() / "dicom" / "SAG-anon_siemens_skyra_mprage"
    )
    bench_analysis.add_argument("--slices", type=int, default=24, help="use this many middle slices")
    bench_analysis.add_argument("--repeat", type=int, default=3)
    bench_analysis.add_argument("--runtime", choices=("auto", "keras", "litert"), default=None)
    from brainscan.training.bench_runtimes import add_arguments as add_runtime_bench_arguments

    add_runtime_bench_arguments(
        bench_sub.add_parser(
            "runtimes", help="LiteRT float32/float16/dynamic/int8 side by side: speed, size, accuracy, Dice, verdicts"
        )
    )
    bench_gui = bench_sub.add_parser("gui", help="process start to interactive main window (fresh processes)")
    bench_gui.add_argument("--repeat", type=int, default=3)
    bench.set_defaults(func=cmd_bench)

    train = sub.add_parser("train", help="train a model (hours on a CPU)")
    train_sub = train.add_subparsers(dest="model", required=True)
    from brainscan.training.train_classifier import add_arguments

    add_arguments(train_sub.add_parser("classifier", help="VGG16 tumour classifier"))
    from brainscan.training.train_segmenter import add_arguments as add_segmenter_arguments

    add_segmenter_arguments(train_sub.add_parser("segmenter", help="U-Net tumour segmentation"))
    from brainscan.training.volume_slices import add_pack_arguments

    add_pack_arguments(
        train_sub.add_parser("classifier-pack", help="classifier training slices from whole volumes (all planes)")
    )
    from brainscan.training.segmentation_volumes import add_arguments as add_segmentation_pack_arguments

    add_segmentation_pack_arguments(
        train_sub.add_parser("segmenter-pack", help="segmenter training slices from the BraTS volumes (all planes)")
    )
    from brainscan.training.segmenter_gate import add_arguments as add_gate_arguments

    add_gate_arguments(
        train_sub.add_parser(
            "segmenter-gate", help="fit the segmenter's slice gate (is there a tumour on this slice at all?)"
        )
    )
    train.set_defaults(func=cmd_train)

    export = sub.add_parser("export", help="turn a training run into a shipped model + model card")
    export_sub = export.add_subparsers(dest="model", required=True)
    from brainscan.training.export_classifier import add_arguments as add_export_arguments

    add_export_arguments(export_sub.add_parser("classifier"))
    from brainscan.training.export_segmenter import add_arguments as add_export_segmenter_arguments

    add_export_segmenter_arguments(export_sub.add_parser("segmenter"))
    from brainscan.training.export_litert import add_arguments as add_export_litert_arguments

    add_export_litert_arguments(export_sub.add_parser("litert", help="convert the shipped models to LiteRT"))
    export.set_defaults(func=cmd_export)

    evaluate = sub.add_parser("evaluate", help="evaluate a model on a labelled folder (no augmentation)")
    evaluate_sub = evaluate.add_subparsers(dest="model", required=True)
    evaluate_classifier = evaluate_sub.add_parser("classifier", help="DIR/<class>/*.jpg")
    evaluate_classifier.add_argument("dir", type=Path)
    evaluate_classifier.add_argument("--json", type=Path, help="write the metrics as JSON here")
    evaluate_classifier.add_argument("--card", type=Path, help="model card (default: the shipped one)")
    evaluate_segmenter = evaluate_sub.add_parser("segmenter", help="DIR/images, DIR/masks, DIR/labels.csv")
    evaluate_segmenter.add_argument("dir", type=Path)
    evaluate_segmenter.add_argument("--json", type=Path, help="write the metrics as JSON here")
    evaluate_segmenter.add_argument("--card", type=Path, help="model card (default: the shipped one)")
    evaluate_segmenter.add_argument(
        "--no-tumour-dir", type=Path, help="also report how often it outlines anything on these tumour-free slices"
    )
    evaluate_segmenter.add_argument(
        "--validation-split",
        action="store_true",
        help="only the slices in the card's validation list, plus the classifier's tumour-free validation slices "
        "(the card's validation numbers)",
    )
    evaluate_segmenter.add_argument(
        "--volume-pack",
        type=Path,
        help="also the held-out slices of this segmenter pack (brainscan train segmenter-pack): Dice, outlined over "
        "true area, tumour-free slices outlined (the card's held_out_volumes)",
    )
    evaluate_segmenter.add_argument(
        "--views", type=int, choices=(1, 2, 8), help="test-time views instead of the card's (to price them)"
    )
    evaluate_series = evaluate_sub.add_parser(
        "series", help="ROOT/tumour/<series> and ROOT/normal/<series> (DICOM folders or NIfTI files): whole series"
    )
    evaluate_series.add_argument("root", type=Path)
    evaluate_series.add_argument("--json", type=Path, help="write every series and the totals as JSON here")
    from brainscan.training.heatmap_evaluation import add_arguments as add_heatmap_arguments
    from brainscan.training.series_folds import add_arguments as add_folds_arguments

    add_folds_arguments(
        evaluate_sub.add_parser(
            "folds", help="series verdicts across people: leave one person out over ../shared/data/volumes (issue 31)"
        )
    )

    add_heatmap_arguments(
        evaluate_sub.add_parser(
            "heatmaps", help="do the Grad-CAM heat maps point at the tumour? (expert masks; needs TensorFlow)"
        )
    )
    for evaluate_parser in (evaluate_classifier, evaluate_segmenter, evaluate_series):
        evaluate_parser.add_argument(
            "--runtime",
            choices=("auto", "litert", "keras"),
            default=None,
            help="model runtime (default: BRAINSCAN_RUNTIME, else auto: LiteRT when the card names a .tflite)",
        )
    evaluate.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    commands = {"info", "analyze", "batch", "send", "echo", "bench", "train", "export", "evaluate"}
    commands |= {"query", "retrieve", "cache", "listen"}
    if not argv or (argv[0] not in commands and not argv[0].startswith("-")):
        # the window first: building the parser imports pydicom, scipy and the training code (about 1 s)
        gui = argparse.Namespace(paths=[Path(a) for a in argv])
        return cmd_gui(gui)
    args = build_parser().parse_args(argv)
    if not getattr(args, "func", None):
        return cmd_gui(argparse.Namespace(paths=[]))
    try:
        return args.func(args)
    except ModuleNotFoundError as exc:
        # train / export / Keras runs need TensorFlow: an optional extra, and left out of the desktop app
        if (exc.name or "").split(".")[0] not in ("tensorflow", "keras"):
            raise
        print(
            f"`brainscan {args.command}` needs TensorFlow, which this installation does not include (the app "
            "runs the shipped models with LiteRT). Install the training extra: pip install -e '.[train]'",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
