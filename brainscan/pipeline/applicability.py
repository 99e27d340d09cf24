"""Warnings for series unlike the data the models learned from.

Why: both models were trained on single 2D clinical MRI slices (figshare T1c slices are 6 mm thick; the
classification set holds 2D JPEG slices). On a thin-slice 3D volume such as the SAG-anon MPRAGE the shipped
classifier calls tumour on many normal slices, so the clinician must be told the result is out of its depth.
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
            "The models were trained on 2D clinical slices, not 3D volumes: the verdict and outlines are less "
            "reliable here and false tumour calls are likely."
        )
    return warnings
