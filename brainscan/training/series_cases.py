"""The people and series of ../shared/data/volumes, for series-level cross-validation (issue 31).

Every series belongs to one person; folds leave out people, never slices or series. Groups:

* ``normal``: people without a tumour (volumes/normal, both layouts: DICOM folders and NIfTI subject folders of
  ``<sequence>.nii.gz``; plus the SAG-anon MPRAGE in ../dicom, the 14th normal person);
* ``lesion``: multiple sclerosis (volumes/lesion): abnormal, not a tumour, never a tumour positive;
* ``tumour``: BraTS 2018 gliomas (volumes/tumour/brats2018), ``t1ce`` and, for some, ``flair``, with the expert
  labels (``seg.nii.gz``) as the reference of where the tumour is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

GROUPS = ("normal", "lesion", "tumour")
SAG_ANON = "SAG-anon_siemens_skyra_mprage"


@dataclass(frozen=True)
class SeriesCase:
    """One series of one person, as a clinician would drop it."""

    person: str
    group: str  # normal | lesion | tumour
    sequence: str  # t1, t1ce, flair, t2, or the DICOM series' name
    path: Path  # a DICOM folder or a NIfTI file
    reference: Path | None = None  # label volume (BraTS seg.nii.gz) on the same grid

    @property
    def name(self) -> str:
        return f"{self.person}/{self.sequence}"


def series_cases(data_root: Path) -> list[SeriesCase]:
    """Every series under ``data_root`` (the shared data folder), person by person, in a fixed order.

    Raises:
        FileNotFoundError: when ``data_root/volumes/manifest.json`` is missing.
    """
    volumes = Path(data_root) / "volumes"
    manifest = json.loads((volumes / "manifest.json").read_text())
    cases: list[SeriesCase] = []
    for name in sorted(manifest.get("normal", {})):  # DICOM series, one person each
        cases.append(SeriesCase(name, "normal", "dicom", volumes / "normal" / name))
    sag_anon = Path(data_root) / "dicom" / SAG_ANON
    if sag_anon.is_dir():
        cases.append(SeriesCase(SAG_ANON, "normal", "dicom", sag_anon))
    for group, key in (("normal", "normal_subjects"), ("lesion", "lesion_subjects")):
        for person in sorted(manifest.get(key, {})):
            for sequence in manifest[key][person]["sequences"]:
                path = volumes / group / person / f"{sequence}.nii.gz"
                if path.is_file():
                    cases.append(SeriesCase(person, group, sequence, path))
    for person in sorted(manifest.get("brats2018", [])):
        folder = volumes / "tumour" / "brats2018" / person
        reference = folder / "seg.nii.gz"
        for sequence in ("t1ce", "flair"):
            path = folder / f"{sequence}.nii.gz"
            if path.is_file():
                cases.append(SeriesCase(person, "tumour", sequence, path, reference if reference.is_file() else None))
    return cases


def reference_core(case: SeriesCase, shape: tuple[int, int, int]):
    """The expert tumour core (labels 1 + 4) on the loaded series' own slices (same display transform as
    brainscan.io.nifti.load_nifti), or None without a reference."""
    import nibabel as nib
    import numpy as np

    from brainscan.io.nifti import acquisition_axis, canonical_array, display_slices

    if case.reference is None:
        return None
    img = nib.load(str(case.reference))
    ras, zooms, third = canonical_array(img, case.reference)
    labels = display_slices(ras, acquisition_axis(zooms, third))
    core = np.isin(np.rint(labels).astype(np.int16), (1, 4))
    return core if core.shape == tuple(shape) else None
