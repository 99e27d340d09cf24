"""Model files are checked against their SHA-256 before loading."""

from __future__ import annotations

import hashlib

import pytest

from brainscan.errors import ModelError
from brainscan.runtime.integrity import verify_sha256


def test_matching_hash_passes(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"weights")
    verify_sha256(path, hashlib.sha256(b"weights").hexdigest())


def test_mismatch_raises_clear_error(tmp_path):
    path = tmp_path / "m.npz"
    path.write_bytes(b"tampered")
    with pytest.raises(ModelError, match="damaged or was replaced"):
        verify_sha256(path, hashlib.sha256(b"weights").hexdigest())


def test_missing_file_raises(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        verify_sha256(tmp_path / "absent.npz", "0" * 64)
