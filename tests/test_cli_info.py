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


def test_info_on_many_series_prints_the_skipped_files_once(tmp_path):
    """Issue 27 item 6: the folder's skipped files were listed again under every series."""
    for k in range(3):
        write_series(tmp_path / f"s{k}", n=3)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "s1" / "empty.dcm").write_bytes(b"")
    result = run_info(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("notes.txt") == 1 and result.stdout.count("empty.dcm") == 1
    assert result.stdout.count("file(s) skipped") == 1
    assert "2 file(s) skipped, not part of any series above:" in result.stdout


def test_help_says_brainscan_path_opens_the_window():
    """Issue 27 item 6: `brainscan --help` listed only the subcommands, not `brainscan PATH`."""
    result = subprocess.run([sys.executable, "-m", "brainscan", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "brainscan PATH..." in result.stdout and "open the window on these series" in result.stdout
