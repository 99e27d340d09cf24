"""Shared fixtures: offscreen Qt, a private BRAINSCAN_HOME, and real DICOM series written with pydicom."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from brainscan.config import data_dir  # noqa: E402


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory, monkeypatch):
    """Every test writes its history and logs into its own folder, never the user's."""
    monkeypatch.setenv("BRAINSCAN_HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
def shared_data() -> Path:
    root = data_dir()
    if not (root / "README.md").exists():
        pytest.skip(f"shared data not found at {root} (set BRAINSCAN_DATA to run this test)")
    return root
