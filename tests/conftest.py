"""Shared fixtures: offscreen Qt, a private BRAINSCAN_HOME, and real DICOM series written with pydicom.

Tests marked ``needs_tf`` skip, with the reason, when TensorFlow (the ``[train]`` extra) is not installed;
with ``BRAINSCAN_REQUIRE_TF=1`` (CI) they run regardless, so a missing TensorFlow fails them instead.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from importlib.util import find_spec  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from brainscan.config import data_dir  # noqa: E402

TF_MISSING = "needs TensorFlow, which is not installed (pip install -e '.[train]')"


def pytest_collection_modifyitems(config, items):
    if find_spec("tensorflow") is not None or os.environ.get("BRAINSCAN_REQUIRE_TF") == "1":
        return
    skip = pytest.mark.skip(reason=TF_MISSING)
    for item in items:
        if "needs_tf" in item.keywords:
            item.add_marker(skip)


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


@pytest.fixture
def overconfident_models(monkeypatch):
    """The shipped models replaced by ``AlwaysTumour`` and the fake segmenter (for "never a verdict" tests)."""
    from brainscan.runtime import loading
    from tests.fakes import AlwaysTumour, FakeSegmenter

    monkeypatch.setattr(
        loading, "load_shipped_models", lambda *a, **k: loading.LoadedModels(AlwaysTumour(), FakeSegmenter())
    )
