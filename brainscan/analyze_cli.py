"""`brainscan analyze PATH... [--json FILE] [--pdf FILE] [--dicom-out DIR] [--deidentify] [--no-history]`.

The headless path.

Runs the same scan -> load -> analyze -> history -> report steps as the GUI, for batches and scripts.
With one series, ``--json`` gets one object and ``--pdf`` one report; with several series, the JSON is a
list (one object per series, in scan order) and reports are numbered ``FILE-2.pdf``, ``FILE-3.pdf``, ...
``--dicom-out`` writes a DICOM Segmentation and the report as an Encapsulated PDF per DICOM series (named by
study code); other input is analysed but says why it gets no DICOM output. When the history holds an earlier
study of the same patient, the reports include the follow-up comparison (brainscan.followup).
Exit status: 0 when every series was analysed, 1 when some failed, 2 when none could be loaded or analysed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from brainscan.atomic import write_text_atomically
from brainscan.errors import BrainScanError
from brainscan.pipeline.progress import overall_fraction
from brainscan.text import display_path, printable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, help="DICOM or JPEG/PNG files and folders")
    parser.add_argument("--json", type=Path, help="write the results as JSON here")
    parser.add_argument("--pdf", type=Path, help="write a PDF report here")
    parser.add_argument(
        "--dicom-out", type=Path, help="write a DICOM SEG and the report as Encapsulated PDF here (DICOM input only)"
    )
    parser.add_argument("--deidentify", action="store_true", help="remove patient name, ID, birth date and paths")
    parser.add_argument("--no-history", action="store_true", help="do not save the studies in the history")
    parser.add_argument(
        "--heatmaps",
        action="store_true",
        help="compute Grad-CAM heat maps for the key slices and show them in the PDF (where the classifier looked; "
        "measured to rarely point at the tumour, see docs/heatmaps.md)",
    )
    parser.add_argument("--no-heatmaps", action="store_true", help=argparse.SUPPRESS)  # the default now; kept
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


class ProgressBar:
    """A one-line progress bar with ETA on stderr; on a non-terminal it prints a line every 10%.

    ``n_slices`` maps analyze()'s phases onto one rising fraction (brainscan.pipeline.progress), so the bar keeps
    moving while the outlines are drawn instead of standing at 100 % after classification.
    """

    WIDTH = 30

    def __init__(self, label: str, enabled: bool = True, stream=None, n_slices: int = 0):
        self.label, self.enabled, self.n_slices = label, enabled, n_slices
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.last_decile = -1
        self.drawn = False
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.enabled or total <= 0:
            return
        fraction = overall_fraction(done, total, self.n_slices or total)
        self._show(fraction, message)

    def finish(self, message: str = "done") -> None:
        """Draw 100 % and end the line (the last step may have reported less, e.g. no tumour to outline)."""
        if self.enabled and (self.drawn or not self.tty):
            self._show(1.0, message)
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()

    def _show(self, fraction: float, message: str) -> None:
        elapsed = time.perf_counter() - self.start
        eta = elapsed / fraction - elapsed if fraction > 0 else 0.0
        if self.tty:
            bar = "#" * int(fraction * self.WIDTH)
            self.stream.write(
                f"\r{self.label} [{bar:<{self.WIDTH}}] {fraction:4.0%} ETA {eta:4.0f} s  {message[:40]:<40}"
            )
            self.drawn = True
        elif int(fraction * 10) > self.last_decile:
            self.last_decile = int(fraction * 10)
            self.stream.write(f"{self.label}: {fraction:.0%} ({message})\n")
        self.stream.flush()


def numbered(path: Path, n: int) -> Path:
    return path if n == 1 else path.with_name(f"{path.stem}-{n}{path.suffix}")


def output_problem(path: Path, folder_wanted: bool = False) -> str | None:
    """Why ``path`` cannot be written as an output file (or, with ``folder_wanted``, an output folder), or None.
    Checked before any work starts, so that a typo does not cost a whole analysis."""
    parent = path.parent
    if folder_wanted:
        if path.exists() and not path.is_dir():
            return "it exists and is not a folder"
        if path.is_dir():
            return None if os.access(path, os.W_OK | os.X_OK) else "the folder cannot be written to"
    elif path.is_dir():
        return "it is a folder; give a file name"
    if not parent.exists():
        return f"the folder {display_path(parent)} does not exist"
    if not parent.is_dir():
        return f"{display_path(parent)} is not a folder"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the folder {display_path(parent)} cannot be written to"
    if path.exists() and not os.access(path, os.W_OK):
        return "the file exists and cannot be overwritten"
    return None


def follow_up_from_history(store, result):
    """The comparison with the patient's latest earlier study in the history (None when there is none).
    With ``--no-history`` the history is still read, if it exists, but nothing is added to it."""
    from brainscan.followup import follow_up_for_result
    from brainscan.storage import HistoryStore, default_history_path

    if store is not None:
        return follow_up_for_result(result, store.patient_studies(result.info.meta))
    path = default_history_path()
    if not path.exists():
        return None
    reader = HistoryStore(path)
    try:
        return follow_up_for_result(result, reader.patient_studies(result.info.meta))
    finally:
        reader.close()


def write_dicom_out(result, folder: Path, deidentify: bool, followup, label: str) -> bool:
    """``--dicom-out``: the SEG and Encapsulated PDF of one result; False (with the reason printed) when not."""
    from brainscan.reports import write_dicom

    try:
        written = write_dicom(result, folder, deidentify=deidentify, followup=followup)
    except BrainScanError as exc:
        print(f"{label}: no DICOM output: {exc}", file=sys.stderr)
        return False
    for note in written.notes:
        print(f"{label}: {note}", file=sys.stderr)
    print(f"{label}: DICOM written: " + ", ".join(str(p) for p in written.files))
    return True


def run(args: argparse.Namespace) -> int:
    from brainscan.io.batch import scan_and_load
    from brainscan.jsonsafe import dumps
    from brainscan.pipeline.analyze import analyze
    from brainscan.pipeline.summary import result_to_dict, to_study_record
    from brainscan.presentation import redact, result_headline, series_label, series_names
    from brainscan.runtime.loading import load_shipped_models

    def err(text: object) -> None:
        print(printable(text), file=sys.stderr)

    outputs_to_check = (("--json", args.json, False), ("--pdf", args.pdf, False), ("--dicom-out", args.dicom_out, True))
    for option, path, folder_wanted in outputs_to_check:
        problem = output_problem(path, folder_wanted) if path is not None else None
        if problem:
            err(f"{option} {display_path(path)} cannot be written: {problem}. Nothing was analysed.")
            return 2
    try:
        outcomes = scan_and_load(args.paths)
    except BrainScanError as exc:
        err(exc)
        return 2
    for outcome in outcomes:
        if outcome.error is None:
            continue
        if args.deidentify:
            err(redact(f"{series_label(outcome.info, True)}: {outcome.error}", series_names(outcome.info)))
        else:
            err(f"{outcome.info.description} ({display_path(outcome.info.source)}): {outcome.error}")
    volumes = [outcome.volume for outcome in outcomes if outcome.volume is not None]
    if not volumes:
        err("No series could be loaded.")
        return 2
    try:
        models = load_shipped_models()
    except BrainScanError as exc:
        err(exc)
        return 2
    for warning in models.warnings:
        err(f"warning: {warning}")

    store = None
    if not args.no_history:
        from brainscan.storage import HistoryStore, default_history_path

        try:
            store = HistoryStore(default_history_path())
            if store.damage_message:
                err(f"warning: {store.damage_message}")
        except BrainScanError as exc:
            err(f"warning: {exc} The results are not saved in the history.")
    outputs, failures = [], 0
    for number, volume in enumerate(volumes, start=1):
        label = printable(f"{series_label(volume.info, args.deidentify) or 'series'} ({volume.n_slices} slices)")
        bar = ProgressBar(label, enabled=not args.quiet, n_slices=volume.n_slices)
        try:
            result = analyze(
                volume,
                models.classifier,
                models.segmenter,
                on_progress=bar,
                explain=args.heatmaps and not args.no_heatmaps,
            )
            bar.finish()
        except BrainScanError as exc:
            err(f"{label}: {exc}")
            failures += 1
            continue
        outputs.append(result_to_dict(result, deidentify=args.deidentify))
        head = result_headline(result)
        print(f"{label}: {head.text}" + (f", volume {result.volume_ml:.2f} mL" if result.volume_ml else ""))
        for caution in head.cautions:
            print(f"  caution: {caution}")
        for warning in result.warnings:
            print(f"  note: {warning}")
        # each output below can fail on its own; the JSON of this series is kept all the same
        if store is not None:
            try:
                store.save(to_study_record(result))
            except BrainScanError as exc:
                err(f"{label}: {exc}")
                failures += 1
        followup = None
        try:
            followup = follow_up_from_history(store, result)
        except BrainScanError as exc:
            err(f"{label}: no follow-up comparison: {exc}")
        if followup is not None:
            print("  follow-up: " + "; ".join(followup.lines()[:2]))
        if args.pdf:
            from brainscan.reports import write_pdf

            try:
                write_pdf(
                    result,
                    numbered(args.pdf, number),
                    deidentify=args.deidentify,
                    followup=followup,
                    heatmaps=args.heatmaps,
                )
            except BrainScanError as exc:
                err(f"{label}: {exc}")
                failures += 1
        if args.dicom_out and not write_dicom_out(result, args.dicom_out, args.deidentify, followup, label):
            failures += 1
    if args.json and outputs:
        payload = outputs[0] if len(volumes) == 1 else outputs
        try:
            write_text_atomically(args.json, dumps(payload, indent=2))
        except OSError as exc:
            err(f"The JSON results could not be written to {display_path(args.json)}: {exc.strerror or exc}.")
            return 2
    if not outputs:
        return 2
    return 1 if failures else 0
