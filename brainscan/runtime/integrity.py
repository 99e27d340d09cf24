"""SHA-256 checks for shipped model files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from brainscan.errors import ModelError


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str) -> None:
    """Raise ModelError unless ``path`` exists and hashes to ``expected``.

    Raises:
        ModelError: when the file is missing or its SHA-256 differs from the model card.
    """
    if not path.is_file():
        raise ModelError(
            f"The model file {path.name} is missing from {path.parent}. Reinstall BrainScan to restore it."
        )
    actual = sha256_of(path)
    if actual != expected.lower():
        raise ModelError(
            f"The model file {path.name} is damaged or was replaced (its checksum does not match the model "
            f"card: expected {expected[:12]}..., found {actual[:12]}...). Reinstall BrainScan; analysis is "
            "disabled until then."
        )
