"""Warnings for series unlike the data the models learned from.

Why: the classifier learned mostly from 2D clinical slices and from only a few whole 3D volumes, and the
segmenter from 2D figshare slices only. On thin-slice 3D volumes the classifier can still call tumour on a
normal brain and the outlines and volumes are unreliable (docs/real-scans.md has the measurements), so the
clinician must be told the result is at the edge of what the models know.
"""

from __future__ import annotations

from brainscan.types import Volume

THIN_SLICE_MM = 2.0
"""Slices closer than this, in a series of at least MANY_SLICES, are taken as a 3D acquisition."""
MANY_SLICES = 60


def applicability_warnings(volume: Volume) -> list[str]:
    """Plain-language warnings (possibly none) about how far ``volume`` is from the training data."""
    warnings: list[str] = []
    modality = (volume.info.modality or "").upper()
    if volume.info.kind == "dicom" and modality and modality != "MR":
        warnings.append(f"Modality {modality}: the models were trained on MRI only; this result is not meaningful.")
    spacing = volume.slice_spacing_mm
    if spacing is not None and spacing < THIN_SLICE_MM and volume.n_slices >= MANY_SLICES:
        warnings.append(
            f"This looks like a thin-slice 3D acquisition ({volume.n_slices} slices {spacing:.1f} mm apart). "
            "The verdict weighs the whole volume's evidence, checked across 14 normal people, 2 with multiple "
            "sclerosis and 16 gliomas; other tumour types and scanners were not in that check, and outlines and "
            "volumes here are less reliable."
        )
    return warnings
