"""A set of unrelated images: each image its own verdict, no series P(tumour), no type, no volume or 3D measure;
the headline, JSON, PDF and panel say which it is and why (issue 27 item 4)."""

from __future__ import annotations

import numpy as np
import pytest
from pypdf import PdfReader

from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze
from brainscan.pipeline.summary import result_to_dict
from brainscan.pipeline.verdict import image_set_verdict
from brainscan.presentation import result_headline, summary_headline
from brainscan.reports.pdf import build_pdf
from brainscan.types import CANNOT_ASSESS, IMAGE_SET, SlicePrediction
from tests.fakes import FakeClassifier, FakeSegmenter
from tests.io.test_image_set import write_unrelated

TUMOUR = (0.9, 0.05, 0.03, 0.02)
CLEAR = (0.02, 0.02, 0.94, 0.02)


class EightBit(FakeClassifier):
    def _one(self, pixels):
        return list(TUMOUR) if (np.asarray(pixels) > 200).any() else list(CLEAR)


class EightBitSegmenter(FakeSegmenter):
    def predict(self, slices, batch_size=16):
        return [(np.asarray(s) > 200).astype(np.float32) for s in slices]


@pytest.fixture(scope="module")
def set_result(tmp_path_factory):
    folder = write_unrelated(tmp_path_factory.mktemp("set") / "imgs", n=12)
    volume = load(scan([folder])[0])
    assert volume.image_set
    return analyze(volume, EightBit(), EightBitSegmenter())


def test_image_set_verdict_judges_each_image():
    preds = [SlicePrediction(i, TUMOUR if i in (1, 4) else CLEAR) for i in range(6)]
    preds[5] = SlicePrediction(5, CLEAR, assessed=False, reason="no usable signal")
    v = image_set_verdict(preds, threshold=0.5)
    assert v.label == IMAGE_SET and v.tumour and v.positive_slices == 2 and v.assessed_slices == 5
    assert v.tumour_probability is None and v.probabilities == {}
    assert set(v.key_slices) == {1, 4}
    assert "2 of 6 images suggest a tumour" in v.basis and "1 could not be assessed" in v.basis
    none = image_set_verdict([SlicePrediction(i, CLEAR) for i in range(3)])
    assert not none.tumour and none.positive_slices == 0 and none.key_slices == (0,)
    blind = image_set_verdict([SlicePrediction(i, CLEAR, assessed=False) for i in range(3)])
    assert blind.label == CANNOT_ASSESS and not blind.assessable


def test_analysis_of_a_set_has_no_series_probability_nor_3d_measure(set_result):
    v = set_result.verdict
    assert v.label == IMAGE_SET and v.tumour_probability is None and v.positive_slices == 4
    assert set_result.longest_diameter is None and set_result.volume_ml is None
    assert set_result.segmentations  # each image still gets its own outline and area
    head = result_headline(set_result)
    assert head.title == (
        "A set of 12 unrelated images (different content): each image is judged on its own; 4 of 12 suggest a tumour"
    )
    assert head.probability == ""


def test_json_and_its_headline_say_it_is_a_set(set_result):
    summary = result_to_dict(set_result)
    v = summary["verdict"]
    assert v["image_set"] == {"images": 12, "suggest_tumour": 4, "reason": "different content"}
    assert v["tumour_probability"] is None and v["tumour_type_given_tumour"] == {} and not v["type_uncertain"]
    assert summary["longest_diameter"] is None
    assert summary_headline(summary).text.startswith("A set of 12 unrelated images (different content)")


def test_pdf_says_it_is_a_set(set_result, tmp_path):
    path = tmp_path / "r.pdf"
    path.write_bytes(build_pdf(set_result))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(path).pages).split())
    assert "A set of 12 unrelated images (different content)" in text
    assert "No series tumour probability" in text and "Series tumour probability" not in text
    assert "Tumour type, given a tumour" not in text
    assert "not measured (a set of unrelated images" in text


def test_panel_hides_type_bars_and_says_no_volume(set_result, qtbot):
    from brainscan.ui.result_panel import ResultPanel

    panel = ResultPanel()
    qtbot.addWidget(panel)
    panel.show_result(set_result)
    assert panel.verdict_text().startswith("A set of 12 unrelated images")
    assert not panel.types.isVisibleTo(panel)
    assert "not measured (unrelated images" in panel.measurements.text()
    assert "Longest diameter:" not in panel.measurements.text()
