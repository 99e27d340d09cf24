"""Tiny synthetic archives for the batch tests (real DICOM files written with pydicom)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dicom_factory import write_phantom_series

FAKE = "tests.batch.models:fake_models"


def make_archive(root: Path, n: int = 6, n_slices: int = 4) -> dict[str, dict]:
    """``n`` series, one per patient, every other one with a lesion on two slices; returns what was written,
    by series folder."""
    written = {}
    for i in range(n):
        folder = root / f"patient{i:02d}" / "t1"
        lesion = (1, 2) if i % 2 else ()
        uid, _ = write_phantom_series(folder, n=n_slices, lesion_slices=lesion, patient_id=f"P{i:02d}")
        written[str(folder)] = {"uid": uid, "tumour": bool(lesion), "patient_id": f"P{i:02d}"}
    return written


@pytest.fixture
def archive(tmp_path) -> tuple[Path, dict[str, dict]]:
    root = tmp_path / "archive"
    return root, make_archive(root)


@pytest.fixture
def load_log(tmp_path, monkeypatch) -> Path:
    """Each model load in any worker appends its process id here (tests.batch.models)."""
    path = tmp_path / "loads.txt"
    monkeypatch.setenv("BRAINSCAN_TEST_MODEL_LOADS", str(path))
    return path
