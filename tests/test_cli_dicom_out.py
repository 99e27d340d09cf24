"""`brainscan analyze --dicom-out` with the fake models: DICOM input gets a SEG and an Encapsulated PDF, other
input says why it gets none."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.uid import EncapsulatedPDFStorage, SegmentationStorage

from brainscan import cli
from brainscan.runtime import loading
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter


@pytest.fixture
def fake_models(monkeypatch):
    monkeypatch.setattr(
        loading, "load_shipped_models", lambda *a, **k: loading.LoadedModels(FakeClassifier(), FakeSegmenter())
    )


def test_dicom_out_writes_seg_and_report_referencing_the_source(tmp_path, fake_models, capsys):
    write_phantom_series(tmp_path / "study", n=6, lesion_slices=(2, 3))
    out = tmp_path / "dicom"
    assert cli.main(["analyze", str(tmp_path / "study"), "--dicom-out", str(out), "--quiet"]) == 0
    files = sorted(out.iterdir())
    classes = {str(pydicom.dcmread(p).SOPClassUID) for p in files}
    assert classes == {SegmentationStorage, EncapsulatedPDFStorage}
    sources = {str(pydicom.dcmread(p).SOPInstanceUID) for p in (tmp_path / "study").iterdir()}
    for path in files:
        ds = pydicom.dcmread(path)
        if ds.SOPClassUID == SegmentationStorage:
            refs = {str(i.ReferencedSOPInstanceUID) for i in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
        else:
            refs = {str(i.ReferencedSOPInstanceUID) for i in ds.SourceInstanceSequence}
        assert refs == sources
    assert "DICOM written" in capsys.readouterr().out


def test_image_folder_gets_no_dicom_output_and_says_why(tmp_path, fake_models, capsys):
    folder = tmp_path / "jpegs"
    folder.mkdir()
    for k in range(3):
        Image.fromarray(np.full((32, 32), 40 * k, np.uint8)).save(folder / f"s{k}.png")
    out = tmp_path / "dicom"
    assert cli.main(["analyze", str(folder), "--dicom-out", str(out), "--no-history", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "no DICOM output: DICOM results need DICOM input" in err and "JPEG/PNG images" in err
    assert not out.exists()
