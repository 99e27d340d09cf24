"""`brainscan batch` with the local process pool and the fake models: the table, resume, failures, crashes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brainscan import batch_cli, cli
from brainscan.batch.discover import content_key, discover, path_key
from brainscan.batch.table import COLUMN_NAMES, CSV, JOURNAL, PARQUET, RUN_DEPENDENT, have_pyarrow, read_csv
from brainscan.io.scan import scan
from tests.batch.conftest import FAKE, make_archive
from tests.dicom_factory import write_phantom_series

REPO = Path(__file__).resolve().parents[2]


def batch(*args) -> int:
    return batch_cli.main([*map(str, args), "--quiet"])


def stable(rows: list[dict]) -> list[dict]:
    """The rows without the columns that differ between runs (timings, worker)."""
    return [{k: v for k, v in row.items() if k not in RUN_DEPENDENT} for row in rows]


def test_table_has_one_row_per_series_with_the_analysis(archive, tmp_path, load_log):
    root, written = archive
    out = tmp_path / "out"
    assert batch(root, "--out", out, "--workers", 2, "--models-factory", FAKE) == 0
    rows = read_csv(out / CSV)
    assert [r["path"] for r in rows] == sorted(written)
    for row in rows:
        truth = written[row["path"]]
        assert row["series_uid"] == truth["uid"] and row["patient_id"] == truth["patient_id"]
        assert row["study_uid"] == "1.2.3.4" and row["study_code"].startswith("BS-") and row["kind"] == "dicom"
        assert row["slices"] == 4 and row["slices_assessed"] == 4 and not row["error"]
        assert row["classifier"] == "fake-classifier test-1" and row["segmenter"] == "fake-segmenter test-1"
        assert row["analysis_seconds"] > 0 and row["seconds"] >= row["analysis_seconds"]
        result = json.loads((out / row["json"]).read_text())
        assert result["series"]["series_uid"] == truth["uid"]
        assert row["tumour_probability"] == result["verdict"]["tumour_probability"]
        if truth["tumour"]:
            assert (row["verdict"], row["tumour_type"], row["assessment"]) == ("tumour", "glioma", "tumour")
            assert row["positive_slices"] == 2 and row["volume_ml"] == result["volume_ml"] > 0
        else:
            assert (row["verdict"], row["tumour_type"], row["assessment"]) == ("no tumour", "", "no_tumour")
    if have_pyarrow():
        import pyarrow.parquet as pq

        table = pq.read_table(out / PARQUET)
        assert table.column_names == list(COLUMN_NAMES)
        assert table.to_pylist() == rows
    # models loaded once per worker process, not per series
    loads = load_log.read_text().split()
    assert 1 <= len(loads) <= 2 and len(set(loads)) == len(loads)
    assert {r["worker"].rsplit(":", 1)[1] for r in rows} <= set(loads)


def test_deidentified_table_and_json_hold_no_identifiers(archive, tmp_path):
    root, written = archive
    out = tmp_path / "out"
    assert batch(root, "--out", out, "--workers", 1, "--deidentify", "--models-factory", FAKE) == 0
    text = (out / CSV).read_text() + "".join(p.read_text() for p in (out / "series").glob("*.json"))
    for folder, truth in written.items():
        assert folder not in text and truth["uid"] not in text and truth["patient_id"] not in text
    assert "Doe" not in text and str(tmp_path) not in text
    rows = read_csv(out / CSV)
    assert len({r["study_code"] for r in rows}) == len(written) and {r["path"] for r in rows} == {"(removed)"}


def test_an_unreadable_series_gets_its_reason_and_the_others_finish(archive, tmp_path):
    root, written = archive
    bad = root / "patient99" / "t1"
    write_phantom_series(bad, n=4, patient_id="P99")
    for file in bad.iterdir():
        file.write_bytes(file.read_bytes()[:-3000])  # headers intact, pixel data truncated
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    out = tmp_path / "out"
    assert batch(root, empty, "--out", out, "--workers", 2, "--models-factory", FAKE) == 1
    rows = {r["path"]: r for r in read_csv(out / CSV)}
    assert set(rows) == set(written) | {str(bad), str(empty)}
    assert rows[str(bad)]["error_type"] == "SeriesLoadError" and "incomplete" in rows[str(bad)]["error"]
    assert rows[str(bad)]["series_uid"] and rows[str(bad)]["verdict"] == "" and rows[str(bad)]["json"] == ""
    assert rows[str(empty)]["error_type"] == "SeriesLoadError" and rows[str(empty)]["error"]
    assert all(not rows[p]["error"] and rows[p]["verdict"] for p in written)
    # a rerun skips the failed rows too (the same content), unless asked to retry them
    assert batch(root, empty, "--out", out, "--workers", 1, "--models-factory", FAKE) == 0
    assert batch(root, empty, "--out", out, "--workers", 1, "--models-factory", FAKE, "--retry-failed") == 2


def test_from_list_and_rerun_skips_what_is_done(archive, tmp_path, capsys):
    root, written = archive
    folders = sorted(written)
    listing = tmp_path / "list.txt"
    listing.write_text("# series to analyse\n" + "\n".join(folders[:3]) + "\n\n")
    out = tmp_path / "out"
    assert batch("--from-list", listing, "--out", out, "--workers", 1, "--models-factory", FAKE) == 0
    assert [r["path"] for r in read_csv(out / CSV)] == folders[:3]
    capsys.readouterr()
    assert batch(root, "--out", out, "--workers", 1, "--models-factory", FAKE) == 0
    said = capsys.readouterr().out
    assert "3 of 6 series are already in the table; 3 to analyse." in said and "3 series analysed" in said
    assert [r["path"] for r in read_csv(out / CSV)] == folders


def test_content_key_follows_the_files_not_the_folder(tmp_path):
    write_phantom_series(tmp_path / "a", n=4)
    (info,) = scan([tmp_path / "a"])
    key = content_key(info)
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    assert content_key(scan([tmp_path / "moved"])[0]) == key
    first = sorted((tmp_path / "moved").iterdir())[0]
    first.write_bytes(first.read_bytes() + b"\0\0")  # one file changed size
    assert content_key(scan([tmp_path / "moved"])[0]) != key
    # the same series found twice is one task; a folder without series is one failed task keyed by its path
    (tmp_path / "nothing").mkdir()
    tasks = discover([tmp_path / "a", tmp_path / "a", tmp_path / "nothing"])
    assert [t.key for t in tasks] == [key, path_key(tmp_path / "nothing")]
    assert tasks[1].info is None and tasks[1].error


def test_models_that_cannot_load_stop_the_run_and_record_nothing(archive, tmp_path, capsys):
    root, _ = archive
    out = tmp_path / "out"
    assert batch(root, "--out", out, "--workers", 1, "--models-factory", "tests.batch.models:broken_models") == 2
    assert "no trained model" in capsys.readouterr().err
    assert read_csv(out / CSV) == []  # a rerun with working models analyses everything


def test_a_worker_that_dies_fails_only_its_series(archive, tmp_path, load_log):
    root, written = archive
    killer = root / "patient77" / "t1"
    write_phantom_series(killer, n=5, patient_id="P77")  # the crashing fake model kills its process on 5 slices
    out = tmp_path / "out"
    assert batch(root, "--out", out, "--workers", 2, "--models-factory", "tests.batch.models:crashing_models") == 1
    rows = {r["path"]: r for r in read_csv(out / CSV)}
    assert rows[str(killer)]["error_type"] == "WorkerCrashed"
    assert all(rows[p]["verdict"] and not rows[p]["error"] for p in written)


def _journal_rows(path: Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM rows").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_rerun_after_kill_9_finishes_the_rest_and_equals_an_uninterrupted_run(tmp_path):
    root = tmp_path / "archive"
    written = make_archive(root, n=12)
    env = {**os.environ, "PYTHONPATH": str(REPO), "BRAINSCAN_TEST_MODEL_DELAY": "0.4"}
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "brainscan.batch_cli", str(root), "--out", str(killed), "--workers", "1"]
    command += ["--models-factory", FAKE, "--quiet", "--table-every", "0"]
    process = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _journal_rows(killed / JOURNAL) < 4:
            assert process.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no progress within 2 minutes"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        deadline = time.monotonic() + 20
        while True:  # the pool's workers notice that the coordinator is gone and exit
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "worker processes outlived the killed batch"
            time.sleep(0.2)
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the pool's worker processes, orphaned by the kill
        except ProcessLookupError:
            pass
    done_before = _journal_rows(killed / JOURNAL)
    assert 4 <= done_before < len(written), "the kill came too late to test a resume"
    assert len(read_csv(killed / CSV)) <= done_before  # the table on disk is whole, and not ahead of the journal

    rerun = subprocess.run(
        command[:-2], cwd=REPO, env={**env, "BRAINSCAN_TEST_MODEL_DELAY": "0"}, capture_output=True, text=True
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"{done_before} of 12 series are already in the table; {12 - done_before} to analyse." in rerun.stdout
    assert f"{12 - done_before} series analysed" in rerun.stdout

    whole = tmp_path / "whole"
    assert batch(root, "--out", whole, "--workers", 1, "--models-factory", FAKE) == 0
    assert stable(read_csv(killed / CSV)) == stable(read_csv(whole / CSV))
    assert len(read_csv(whole / CSV)) == 12
    assert sorted(p.name for p in (killed / "series").iterdir()) == sorted(p.name for p in (whole / "series").iterdir())


def test_bad_options_exit_2(tmp_path, capsys):
    assert batch("--out", tmp_path / "out") == 2
    assert "ROOT" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert batch(tmp_path, "--out", tmp_path / "file") == 2
    assert batch(tmp_path, "--out", tmp_path / "o", "--workers", 0) == 2
    with pytest.raises(SystemExit):
        batch(tmp_path, "--out", tmp_path / "o", "--scheduler", "tcp://x:1", "--local-cluster")


def test_brainscan_batch_is_a_subcommand(archive, tmp_path):
    root, written = archive
    assert cli.main(["batch", str(root), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet",
                     "--models-factory", FAKE]) == 0  # fmt: skip
    assert len(read_csv(tmp_path / "o" / CSV)) == len(written)
