"""What the node does with one complete series: the same steps as ``brainscan analyze --dicom-out`` (scan, load,
``pipeline.analyze``, history, follow-up, ``reports.write_dicom``), without a terminal."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from brainscan.errors import BrainScanError, SeriesLoadError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeResult:
    """One analysed series: a one-line summary and the DICOM files written (SEG when outlined, report)."""

    summary: str
    files: tuple[Path, ...]


def analyse_series(
    folder: Path,
    models,
    out: Path,
    history=None,
    should_cancel: Callable[[], bool] | None = None,
) -> NodeResult:
    """Analyse the series in ``folder`` and write its SEG and Encapsulated PDF into ``out`` (emptied first, so a
    repeated analysis never leaves the files of an earlier one beside its own).

    Args:
        models: an object with ``classifier`` and ``segmenter`` (brainscan.runtime.loading.LoadedModels).
        history: a brainscan.storage.HistoryStore to save the study in and compare with, or None.

    Raises:
        BrainScanError: when the series cannot be read or analysed, or its results cannot be written
            (AnalysisCancelled when ``should_cancel`` said so).
    """
    from brainscan.io.batch import scan_and_load
    from brainscan.pipeline.analyze import analyze
    from brainscan.pipeline.summary import to_study_record
    from brainscan.presentation import result_headline
    from brainscan.reports import write_dicom

    outcomes = scan_and_load([folder])
    volumes = [o.volume for o in outcomes if o.volume is not None]
    if not volumes:
        first = next((o.error for o in outcomes if o.error is not None), None)
        raise first if first is not None else SeriesLoadError("The received images hold no readable series.")
    if out.exists():
        shutil.rmtree(out)
    lines, files = [], []
    for volume in volumes:  # one, unless the images split into several stacks (sizes, orientations)
        result = analyze(volume, models.classifier, models.segmenter, should_cancel=should_cancel, explain=False)
        followup = None
        if history is not None:
            try:
                history.save(to_study_record(result))
                from brainscan.followup import follow_up_for_result

                followup = follow_up_for_result(result, history.patient_studies(result.info.meta))
            except BrainScanError as exc:
                log.warning("history: %s", exc)
        written = write_dicom(result, out, followup=followup)
        head = result_headline(result)
        volume_text = f", volume {result.volume_ml:.2f} mL" if result.volume_ml else ""
        lines.append(f"{head.text}{volume_text} ({volume.n_slices} slices)")
        files.extend(written.files)
    return NodeResult("; ".join(lines), tuple(files))
