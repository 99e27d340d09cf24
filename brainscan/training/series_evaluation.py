"""`brainscan evaluate series ROOT`: the shipped models on whole real series, as a clinician would drop them.

ROOT holds ``tumour/<series>`` and ``normal/<series>``: DICOM folders, NIfTI files, or folders of NIfTI files.
A label volume beside a NIfTI image (``seg.nii.gz``, ``<name>_seg.nii.gz``; BraTS labels) is the reference
for the tumour-core volume (labels 1 + 4: what post-contrast T1 shows, what the Figshare masks outline).

Each series runs through the app's own analysis (brainscan.pipeline.analyze), so what is measured is what the
app shows: the verdict, P(tumour), assessed and positive slices, and the outlined tumour volume.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path

import numpy as np

from brainscan.errors import BrainScanError
from brainscan.types import CANNOT_ASSESS

log = logging.getLogger(__name__)

GROUPS = ("tumour", "normal")
TUMOUR_CORE_LABELS = (1, 4)


def reference_label_file(image: Path) -> Path | None:
    """The label volume that belongs to a NIfTI image, when one sits beside it."""
    from brainscan.io.nifti import is_label_volume_name, is_nifti, nifti_stem

    if not is_nifti(image):
        return None
    stem = nifti_stem(image)
    for candidate in (image.parent / f"{stem}_seg.nii.gz", image.parent / "seg.nii.gz", image.parent / "seg.nii"):
        if candidate.is_file() and is_label_volume_name(candidate):
            return candidate
    return None


def reference_core_ml(label_file: Path) -> float:
    """Tumour-core volume (labels 1 + 4) of a label volume in mL, from its voxel size."""
    import nibabel as nib

    img = nib.load(str(label_file))
    labels = np.rint(np.asanyarray(img.dataobj)).astype(np.int16)
    voxel_ml = float(np.prod(img.header.get_zooms()[:3])) / 1000.0
    return float(np.isin(labels, TUMOUR_CORE_LABELS).sum() * voxel_ml)


def series_entries(root: Path) -> list[tuple[str, Path]]:
    """(group, path) for every entry under ROOT/tumour and ROOT/normal, in name order.

    Raises:
        BrainScanError: when ROOT has neither group folder.
    """
    entries = []
    for group in GROUPS:
        folder = root / group
        if folder.is_dir():
            entries += [(group, p) for p in sorted(folder.iterdir()) if not p.name.startswith(".")]
    if not entries:
        raise BrainScanError(f"{root} holds no tumour/ or normal/ folder with series to evaluate.")
    return entries


def evaluate_one(volume, classifier, segmenter, group: str, name: str) -> dict:
    """Analyse one loaded series and compare it with what it is."""
    from brainscan.pipeline.analyze import analyze

    start = time.perf_counter()
    result = analyze(volume, classifier, segmenter, explain=False)
    verdict = result.verdict
    row = {
        "group": group,
        "series": name,
        "slices": volume.n_slices,
        "slice_spacing_mm": volume.slice_spacing_mm,
        "verdict": "tumour" if verdict.tumour else (CANNOT_ASSESS if not verdict.assessable else "no tumour"),
        "label": verdict.label,
        "tumour_probability": verdict.tumour_probability,
        "assessed_slices": verdict.assessed_slices,
        "positive_slices": verdict.positive_slices,
        "volume_ml": result.volume_ml,
        "seconds": round(time.perf_counter() - start, 1),
    }
    row["correct"] = (verdict.tumour if group == "tumour" else not verdict.tumour) and verdict.assessable
    label_file = reference_label_file(volume.info.files[0]) if volume.info.kind == "nifti" else None
    if label_file is not None:
        reference = reference_core_ml(label_file)
        row["reference_core_ml"] = round(reference, 3)
        predicted = result.volume_ml or 0.0
        row["volume_error_percent"] = round(100.0 * (predicted - reference) / reference, 1) if reference else None
    return row


def totals(rows: list[dict]) -> dict:
    """False alarms on normal series, missed tumour series, cannot-assess counts, typing and volume errors."""
    normal = [r for r in rows if r["group"] == "normal"]
    tumour = [r for r in rows if r["group"] == "tumour"]
    with_reference = [r for r in tumour if r.get("volume_error_percent") is not None]
    glioma_reference = [r for r in tumour if "reference_core_ml" in r]
    out = {
        "normal_series": len(normal),
        "false_alarms": sum(r["verdict"] == "tumour" for r in normal),
        "normal_cannot_assess": sum(r["verdict"] == CANNOT_ASSESS for r in normal),
        "tumour_series": len(tumour),
        "missed_tumours": sum(r["verdict"] == "no tumour" for r in tumour),
        "tumour_cannot_assess": sum(r["verdict"] == CANNOT_ASSESS for r in tumour),
        "gliomas_with_labels": len(glioma_reference),
        "gliomas_typed_glioma": sum(r["label"] == "glioma" for r in glioma_reference),
    }
    if with_reference:
        errors = [abs(r["volume_error_percent"]) for r in with_reference]
        out["volume_abs_error_percent_median"] = round(statistics.median(errors), 1)
        out["volume_within_25_percent"] = sum(e <= 25 for e in errors)
        out["volume_series"] = len(errors)
    return out


def evaluate_series(root: Path, classifier, segmenter, on_row=None) -> dict:
    """Every series under ROOT (see module docstring); a series that cannot be read is listed with its error."""
    from brainscan.io import load, scan

    rows = []
    for group, path in series_entries(root):
        try:
            infos = scan([path])
        except BrainScanError as exc:
            rows.append({"group": group, "series": path.name, "error": str(exc)})
            continue
        for info in infos:
            name = path.name if len(infos) == 1 else f"{path.name}/{info.description}"
            try:
                row = evaluate_one(load(info), classifier, segmenter, group, name)
            except BrainScanError as exc:
                row = {"group": group, "series": name, "error": str(exc)}
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return {"root": str(root), "series": rows, "totals": totals([r for r in rows if "error" not in r])}


def format_row(row: dict) -> str:
    if "error" in row:
        return f"{row['group']:6s} {row['series']}: ERROR {row['error']}"
    p = row["tumour_probability"]
    text = (
        f"{row['group']:6s} {row['series']}: {row['verdict']} ({row['label']}) "
        f"P {'-' if p is None else f'{p:.2f}'}, {row['positive_slices']} positive of {row['assessed_slices']} "
        f"assessed / {row['slices']} slices"
    )
    if row.get("volume_ml") is not None:
        text += f", volume {row['volume_ml']:.1f} mL"
    if "reference_core_ml" in row:
        text += f" (reference {row['reference_core_ml']:.1f} mL, {row['volume_error_percent']:+.0f} %)"
    return text


def format_totals(t: dict) -> str:
    lines = [
        f"normal series: {t['normal_series']}, false alarms {t['false_alarms']}, "
        f"cannot assess {t['normal_cannot_assess']}",
        f"tumour series: {t['tumour_series']}, missed {t['missed_tumours']}, cannot assess {t['tumour_cannot_assess']}"
        f", gliomas typed glioma {t['gliomas_typed_glioma']} of {t['gliomas_with_labels']}",
    ]
    if "volume_series" in t:
        lines.append(
            f"tumour-core volume: median absolute error {t['volume_abs_error_percent_median']} %, "
            f"{t['volume_within_25_percent']} of {t['volume_series']} within 25 %"
        )
    return "\n".join(lines)


def run(args, classifier, segmenter) -> dict:
    """CLI body: print each series as it is done, then the totals; ``--json`` writes everything."""
    report = evaluate_series(args.root, classifier, segmenter, on_row=lambda row: print(format_row(row), flush=True))
    print(format_totals(report["totals"]))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, allow_nan=False))
    return report
