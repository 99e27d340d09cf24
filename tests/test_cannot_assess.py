"""A series with nothing to judge gets "cannot assess" everywhere: JSON, terminal, PDF, history; never a verdict."""

from __future__ import annotations

import json

import numpy as np
from pydicom.uid import generate_uid
from pypdf import PdfReader

from brainscan import cli
from brainscan.storage import HistoryStore, default_history_path
from tests.dicom_factory import make_dataset


def write_constant_series(folder, n=6, value=500):
    folder.mkdir(parents=True)
    uid = generate_uid()
    for k in range(n):
        ds = make_dataset(np.full((64, 64), value, np.uint16), series_uid=uid, position=(0.0, 0.0, 3.0 * k),
                          instance=k + 1, spacing=(0.5, 0.5))  # fmt: skip
        ds.save_as(folder / f"{k}.dcm", enforce_file_format=True)


def test_blank_series_cannot_be_assessed(tmp_path, overconfident_models, capsys):
    write_constant_series(tmp_path / "blank")
    out, pdf = tmp_path / "out.json", tmp_path / "out.pdf"
    assert cli.main(["analyze", str(tmp_path / "blank"), "--json", str(out), "--pdf", str(pdf)]) == 0
    data = json.loads(out.read_text())
    verdict = data["verdict"]
    assert verdict["tumour"] is False and verdict["assessable"] is False and verdict["label"] == "cannot assess"
    assert verdict["tumour_probability"] is None and "0 of 6" in verdict["cannot_assess_reason"]
    assert all(s["label"] == "not assessed" and "blank" in s["not_assessed_reason"] for s in data["slices"])
    assert data["volume_ml"] is None and not any(s["outlined"] for s in data["slices"])
    assert "Cannot assess this series" in capsys.readouterr().out
    text = " ".join(page.extract_text() for page in PdfReader(pdf).pages)
    assert "Cannot assess this series" in text and "Tumour suspected" not in text
    assert verdict["assessment"] == "cannot_assess" and verdict["headline"] == "Cannot assess this series"
    record = HistoryStore(default_history_path()).list()[0]
    assert record.verdict_label == "cannot assess" and record.tumour_probability is None and not record.tumour
