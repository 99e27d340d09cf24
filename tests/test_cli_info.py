"""`brainscan info` in a subprocess, as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.dicom_factory import write_series


def run_info(*args):
    return subprocess.run(
        [sys.executable, "-m", "brainscan", "info", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_info_json_reports_geometry_and_order(tmp_path):
    uid, _, _ = write_series(tmp_path / "ax", n=9, slice_gap=1.5, spacing=(0.6, 0.6))
    (tmp_path / "ax" / "broken.dcm").write_bytes(b"")
    result = run_info(tmp_path, "--json")
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert entry["series_uid"] == uid
    assert entry["modality"] == "MR" and entry["description"] == "T1 AX"
    assert (entry["slices"], entry["rows"], entry["columns"]) == (9, 32, 24)
    assert entry["pixel_spacing_mm"] == [0.6, 0.6]
    assert entry["slice_spacing_mm"] == pytest.approx(1.5)
    assert entry["sorted_by"] == "position"
    assert entry["warnings"] == []
    assert [s["reason"] for s in entry["skipped"]] == ["empty file (0 bytes)"]


def test_info_exit_code_2_when_nothing_loads(tmp_path):
    (tmp_path / "x.dcm").write_text("no")
    result = run_info(tmp_path, "--json")
    assert result.returncode == 2
    assert "no readable MRI images" in result.stderr


def test_info_text_output(tmp_path):
    write_series(tmp_path, n=3)
    result = run_info(tmp_path)
    assert result.returncode == 0 and "3 slices of 32x24" in result.stdout
