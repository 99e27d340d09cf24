"""`brainscan analyze` in-process with the fake models (the real-model run is in tests/test_end_to_end.py)."""

from __future__ import annotations

import json

import pytest

from brainscan import cli
from brainscan.errors import ModelError
from brainscan.runtime import loading
from brainscan.storage import HistoryStore, default_history_path
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter


@pytest.fixture
def fake_models(monkeypatch):
    monkeypatch.setattr(
        loading, "load_shipped_models", lambda *a, **k: loading.LoadedModels(FakeClassifier(), FakeSegmenter())
    )


def test_analyze_writes_json_and_history(tmp_path, fake_models, capsys):
    write_phantom_series(tmp_path / "study", n=6, lesion_slices=(2, 3))
    out = tmp_path / "out.json"
    assert cli.main(["analyze", str(tmp_path / "study"), "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["verdict"]["tumour"] is True and data["verdict"]["label"] == "glioma"
    assert data["series"]["slices"] == 6 and len(data["slices"]) == 6
    assert data["slices"][2]["tumour_area_mm2"] > 0 and data["volume_ml"] > 0
    assert {m["name"] for m in data["models"]} == {"fake-classifier", "fake-segmenter"}
    assert HistoryStore(default_history_path()).count() == 1
    assert "Tumour suspected: Glioma (P(tumour) 0.97)" in capsys.readouterr().out


def test_no_history_and_deidentify(tmp_path, fake_models):
    write_phantom_series(tmp_path / "study", n=4, lesion_slices=(), patient_name="Secret^Person")
    out = tmp_path / "out.json"
    assert cli.main(["analyze", str(tmp_path / "study"), "--json", str(out), "--no-history", "--deidentify"]) == 0
    text = out.read_text()
    assert "Secret" not in text and str(tmp_path) not in text
    assert json.loads(text)["verdict"]["tumour"] is False
    assert not default_history_path().exists() or HistoryStore(default_history_path()).count() == 0


def test_two_series_give_a_list(tmp_path, fake_models):
    write_phantom_series(tmp_path / "a", n=4)
    write_phantom_series(tmp_path / "b", n=5)
    out = tmp_path / "out.json"
    assert cli.main(["analyze", str(tmp_path), "--json", str(out), "--no-history", "--quiet"]) == 0
    assert sorted(len(d["slices"]) for d in json.loads(out.read_text())) == [4, 5]


def test_nothing_loadable_exits_2(tmp_path, fake_models, capsys):
    (tmp_path / "notes.txt").write_text("not an image")
    assert cli.main(["analyze", str(tmp_path), "--no-history"]) == 2
    assert capsys.readouterr().err.strip()


def test_missing_models_exit_2_with_a_message(tmp_path, monkeypatch, capsys):
    def no_models(*a, **k):
        raise ModelError("The model card classifier_vgg16.json is missing; no trained model is installed.")

    monkeypatch.setattr(loading, "load_shipped_models", no_models)
    write_phantom_series(tmp_path / "study", n=3)
    assert cli.main(["analyze", str(tmp_path / "study"), "--no-history"]) == 2
    assert "no trained model" in capsys.readouterr().err


def test_model_failure_exits_2_and_saves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        loading, "load_shipped_models", lambda *a, **k: loading.LoadedModels(FakeClassifier(fail=True), None)
    )
    write_phantom_series(tmp_path / "study", n=3)
    assert cli.main(["analyze", str(tmp_path / "study")]) == 2
    assert "failed on purpose" in capsys.readouterr().err
    assert HistoryStore(default_history_path()).count() == 0


def test_progress_bar_draws_on_a_terminal_and_keeps_moving_while_outlining(tmp_path):
    """`analyze` under a pseudo-terminal: the bar is drawn (\\r-updated) and reports the outlining step."""
    import os
    import pty
    import subprocess
    import sys
    import textwrap

    write_phantom_series(tmp_path / "study", n=8, lesion_slices=(3, 4, 5))
    script = textwrap.dedent(
        f"""
        import sys
        from brainscan import cli
        from brainscan.runtime import loading
        from tests.fakes import FakeClassifier, FakeSegmenter
        loading.load_shipped_models = lambda *a, **k: loading.LoadedModels(FakeClassifier(), FakeSegmenter())
        sys.exit(cli.main(["analyze", {str(tmp_path / "study")!r}, "--no-history"]))
        """
    )
    leader, follower = pty.openpty()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdin=follower, stdout=follower, stderr=follower, env=env, cwd=os.getcwd()
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert process.wait(timeout=120) == 0
    out = b"".join(chunks).decode(errors="replace")
    assert "\r" in out and "[" + "#" * 30 + "] 100%" in out  # drawn in place, finished
    assert "Outlining slice" in out or "Outlined" in out  # the outlining step shows
    assert "Tumour suspected: Glioma" in out


def test_progress_bar_tty_test_reads_its_own_stream():
    import io

    from brainscan.analyze_cli import ProgressBar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    bar = ProgressBar("s", stream=terminal, n_slices=4)
    bar(4, 4, "Classified slice 4 of 4")  # classification done: 70 %, not 100 %
    bar(5, 6, "Outlined 1 of 2 tumour slices")
    bar.finish()
    text = terminal.getvalue()
    assert " 70%" in text and " 85%" in text and "100%" in text and text.endswith("\n")
