"""analyze() end to end on a real (pydicom-written) DICOM phantom series with the fake models."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image

from brainscan.errors import AnalysisCancelled, InferenceError
from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze, outline_batches, outline_order
from brainscan.pipeline.summary import result_to_dict, study_code, to_study_record
from brainscan.storage import HistoryStore
from tests.dicom_factory import phantom_slices, write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter, SurestOnLastLesion


@pytest.fixture
def phantom(tmp_path):
    write_phantom_series(tmp_path / "series", n=8, lesion_slices=(3, 4, 5), spacing=(0.5, 0.5), slice_gap=2.0)
    return load(scan([tmp_path / "series"])[0])


def test_verdict_masks_and_measurements(phantom):
    result = analyze(phantom, FakeClassifier(), FakeSegmenter())
    assert result.verdict.tumour and result.verdict.label == "glioma"
    assert sorted(result.segmentations) == [3, 4, 5]
    truth = phantom_slices(8)[4] > 800
    assert np.array_equal(result.segmentations[4].mask, truth)
    assert result.segmentations[4].area == pytest.approx(truth.sum() * 0.25)
    assert result.volume_ml == pytest.approx(3 * truth.sum() * 0.25 * 2.0 / 1000)
    assert result.area_unit == "mm2"
    assert set(result.heatmaps) == set(result.verdict.key_slices)
    assert [m.name for m in result.models] == ["fake-classifier", "fake-segmenter"]


def test_gate_keeps_masks_off_tumour_free_slices(phantom):
    class SaysNoTumour(FakeClassifier):
        def _one(self, pixels):
            return [0.01, 0.01, 0.97, 0.01]

    result = analyze(phantom, SaysNoTumour(), FakeSegmenter())
    assert not result.verdict.tumour
    assert result.segmentations == {}  # the segmenter would have found the lesion; the gate hides it
    assert result.volume_ml == 0.0


def test_progress_reaches_total_and_is_monotonic(phantom):
    seen = []
    analyze(phantom, FakeClassifier(), FakeSegmenter(), on_progress=lambda d, t, m: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_cancel_stops_before_the_next_batch(phantom):
    classifier = FakeClassifier()
    with pytest.raises(AnalysisCancelled):
        analyze(phantom, classifier, FakeSegmenter(), should_cancel=lambda: classifier.calls >= 1)
    assert classifier.calls == 1


def test_model_failure_and_bad_output_raise_inference_error(phantom):
    with pytest.raises(InferenceError):
        analyze(phantom, FakeClassifier(fail=True), FakeSegmenter())

    class WrongShape(FakeClassifier):
        def predict(self, slices, batch_size=32):
            return np.ones((len(slices), 3))

    with pytest.raises(InferenceError, match="instead of"):
        analyze(phantom, WrongShape(), FakeSegmenter())


def test_without_segmenter_the_verdict_still_comes(phantom):
    result = analyze(phantom, FakeClassifier(), None)
    assert result.verdict.tumour and result.segmentations == {} and result.volume_ml is None
    assert any("segmentation model" in w for w in result.warnings)


def test_png_series_reports_pixels_not_mm(tmp_path):
    folder = tmp_path / "pngs"
    folder.mkdir()
    for k, pixels in enumerate(phantom_slices(4, lesion_slices=(1, 2))):
        Image.fromarray((pixels // 4).astype(np.uint8)).save(folder / f"slice{k}.png")
    volume = load(scan([folder])[0])

    class EightBitFake(FakeClassifier):
        def _one(self, pixels):
            return [0.9, 0.05, 0.03, 0.02] if (np.asarray(pixels) > 200).any() else [0.02, 0.02, 0.94, 0.02]

    class EightBitSegmenter(FakeSegmenter):
        def predict(self, slices, batch_size=16):
            return [(np.asarray(s) > 200).astype(np.float32) for s in slices]

    result = analyze(volume, EightBitFake(), EightBitSegmenter())
    data = result_to_dict(result)
    assert data["area_unit"] == "px" and data["volume_ml"] is None
    assert data["slices"][1]["tumour_area_px"] > 0 and "tumour_area_mm2" not in data["slices"][1]
    assert any("pixels" in w for w in data["warnings"])


def test_json_shape_and_deidentification(phantom):
    result = analyze(phantom, FakeClassifier(), FakeSegmenter())
    data = json.loads(json.dumps(result_to_dict(result)))
    assert data["verdict"]["tumour"] is True and data["verdict"]["label"] == "glioma"
    types = data["verdict"]["tumour_type_given_tumour"]
    assert set(types) == {"glioma", "meningioma", "pituitary"} and sum(types.values()) == pytest.approx(1.0)
    assert data["verdict"]["headline"] == "Tumour suspected: Glioma (P(tumour) 0.97)"
    assert data["verdict"]["assessment"] == "tumour" and data["verdict"]["cautions"] == []
    assert len(data["slices"]) == 8 and data["slices"][4]["tumour_area_mm2"] > 0
    assert data["models"][0]["sha256"] == "f" * 64
    assert data["study"]["patient_name"] == "Doe^Jane"
    anonymous = json.dumps(result_to_dict(result, deidentify=True))
    for secret in ("Doe", "P-001", "19700101", str(phantom.info.source), phantom.info.series_uid):
        assert secret not in anonymous
    assert study_code(result) in anonymous
    assert result_to_dict(result, deidentify=True)["series"]["series_uid"] == study_code(result)


def test_json_counts_slices_from_0_and_from_1(phantom):
    data = result_to_dict(analyze(phantom, FakeClassifier(), FakeSegmenter()))
    assert [s["number"] for s in data["slices"]] == [s["index"] + 1 for s in data["slices"]]
    assert data["verdict"]["key_slice_numbers"] == [k + 1 for k in data["verdict"]["key_slices"]]


def test_json_says_why_a_slice_has_no_outline(phantom):
    class Blind(FakeSegmenter):
        def predict(self, slices, batch_size=16):
            return [np.zeros(np.shape(s), np.float32) for s in slices]

    data = result_to_dict(analyze(phantom, FakeClassifier(), Blind()))
    by_status = {s["index"]: s["outline"] for s in data["slices"]}
    assert by_status[4] == "none_found" and by_status[0] == "not_gated"
    assert "found no tumour" in data["slices"][4]["outline_note"]
    no_model = result_to_dict(analyze(phantom, FakeClassifier(), None))
    assert no_model["slices"][4]["outline"] == "no_segmenter"


def test_applicability_warnings_are_cautions_in_the_headline(phantom):
    thin = dataclasses.replace(phantom, slice_spacing_mm=1.0, pixels=np.repeat(phantom.pixels, 8, axis=0))
    data = result_to_dict(analyze(thin, FakeClassifier(), FakeSegmenter()))
    verdict = data["verdict"]
    assert verdict["assessment"] == "limited" and verdict["headline"].startswith("Limited reliability. Tumour")
    assert any("thin-slice 3D" in c for c in verdict["cautions"])
    assert not any("thin-slice 3D" in w for w in data["warnings"])  # said once, in the headline


def test_history_record_round_trip(phantom, tmp_path):
    result = analyze(phantom, FakeClassifier(), FakeSegmenter())
    store = HistoryStore(tmp_path / "h.sqlite")
    study_id = store.add(to_study_record(result))
    record = store.get(study_id)
    assert record.verdict_label == "glioma" and record.tumour
    assert record.meta.patient_name == "Doe^Jane"
    assert record.thumbnail_png.startswith(b"\x89PNG")
    assert json.loads(record.result_json)["volume_ml"] == pytest.approx(result.volume_ml, abs=1e-3)


def test_preliminary_verdict_comes_before_outlines(phantom):
    seen = []
    result = analyze(phantom, FakeClassifier(), FakeSegmenter(), on_verdict=seen.append)
    (early,) = seen
    assert early.verdict == result.verdict and early.predictions == result.predictions
    assert early.segmentations == {} and early.heatmaps == {} and early.volume_ml is None
    assert any("Preliminary" in w for w in early.warnings)


def test_outline_order_puts_gated_key_slices_first():
    assert outline_order([1, 2, 3, 5, 8], (5, 9, 2)) == [5, 2, 1, 3, 8]
    assert outline_order([4, 6], ()) == [4, 6]
    assert outline_order([], (3,)) == []


def test_outline_batches_key_slice_alone_then_full_batches(monkeypatch):
    monkeypatch.setattr("brainscan.pipeline.analyze.SEGMENT_BATCH", 2)
    assert outline_batches([7, 1, 2, 3, 4]) == [[7], [1, 2], [3, 4]]
    assert outline_batches([7, 1, 2]) == [[7], [1, 2]]
    assert outline_batches([7]) == [[7]]
    assert outline_batches([]) == []


def test_outlines_arrive_key_slice_first(phantom):
    batches = []
    result = analyze(phantom, SurestOnLastLesion(), FakeSegmenter(), on_outlines=batches.append)
    assert [list(b) for b in batches] == [[5], [3, 4]]
    assert sorted(result.segmentations) == [3, 4, 5]


def test_outlines_arrive_batch_by_batch_key_slice_first(phantom, monkeypatch):
    monkeypatch.setattr("brainscan.pipeline.analyze.SEGMENT_BATCH", 1)
    batches = []
    result = analyze(phantom, SurestOnLastLesion(), FakeSegmenter(), on_outlines=batches.append)
    assert result.verdict.key_slices[0] == 5
    assert [list(b) for b in batches] == [[5], [3], [4]]
    assert batches[0][5] is result.segmentations[5]
    assert list(result.segmentations) == [3, 4, 5]  # the result itself is in slice order


def test_no_outline_callback_when_nothing_is_found(phantom):
    class FindsNothing(FakeSegmenter):
        def predict(self, slices, batch_size=16):
            return [np.zeros(np.shape(s), np.float32) for s in slices]

    batches = []
    result = analyze(phantom, FakeClassifier(), FindsNothing(), on_outlines=batches.append)
    assert result.verdict.tumour and result.segmentations == {} and batches == []
