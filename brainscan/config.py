"""Settings that come from the environment: where shared data and per-user files live."""

from __future__ import annotations

import os
from pathlib import Path

#: Project root when running from a checkout (brainscan/ lives directly below it).
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Root of the shared MRI data (``BRAINSCAN_DATA``, default ``../shared/data`` beside the checkout)."""
    env = os.environ.get("BRAINSCAN_DATA")
    if env:
        return Path(env)
    return PROJECT_ROOT.parent / "shared" / "data"


def resources_dir() -> Path:
    """Folder holding shipped models, model cards and icons (inside a frozen app: next to the executable)."""
    env = os.environ.get("BRAINSCAN_RESOURCES")
    if env:
        return Path(env)
    import sys

    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return PROJECT_ROOT / "resources"


def models_dir() -> Path:
    """Folder with the shipped model weights and their model cards."""
    return resources_dir() / "models"


def user_home() -> Path:
    """Per-user data folder (history database, logs); ``BRAINSCAN_HOME`` overrides it."""
    env = os.environ.get("BRAINSCAN_HOME")
    if env:
        path = Path(env)
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("BrainScan", "BrainScan"))
    path.mkdir(parents=True, exist_ok=True)
    return path
