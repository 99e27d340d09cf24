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


PRIVATE_FOLDER = 0o700


def user_home() -> Path:
    """Per-user data folder (history database, logs); ``BRAINSCAN_HOME`` overrides it.

    It holds patient data, so it is created readable by its owner only (0700), and an existing one that other
    users can read is tightened (when it is ours to change).
    """
    env = os.environ.get("BRAINSCAN_HOME")
    if env:
        path = Path(env)
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("BrainScan", "BrainScan"))
    path.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    make_private_folder(path)
    return path


def make_private_folder(path: Path) -> None:
    """Remove group and other permissions from ``path`` when it has any and belongs to this user."""
    try:
        info = path.stat()
        if info.st_mode & 0o077 and (not hasattr(os, "getuid") or info.st_uid == os.getuid()):
            os.chmod(path, PRIVATE_FOLDER)
    except OSError:
        import logging

        logging.getLogger(__name__).warning("could not make %s private to this user", path)
