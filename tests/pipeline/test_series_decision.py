"""analyze() with a series model: volumes are decided from their evidence, outlines are shown only with a tumour
verdict, "abnormal, not typical of a tumour" is its own verdict, and image folders keep the slice rule."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze
from brainscan.runtime.series_model import LogisticPart, SeriesModel
from brainscan.types import ABNORMAL, NO_TUMOUR
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter


def series_model(tumour_bias: float, abnormal_bias: float | None = None) -> SeriesModel:
    """P(tumour) = sigmoid(4 * (region_consistency - 0.5) + bias): a model that reads one feature."""

    def part(bias):
        return LogisticPart(("region_consistency",), np.zeros(1), np.full(1, 0.25), np.ones(1), bias)

    return SeriesModel(
        "test series model", "t1", "0" * 64, part(tumour_bias),
        None if abnormal_bias is None else part(abnormal_bias), 0.5, 0.6, 8,
    )  # fmt: skip


def phantom(tmp_path, n=10):
    write_phantom_series(tmp_path / "s", n=n, lesion_slices=(3, 4, 5, 6))
    return load(scan([tmp_path / "s"])[0])


def with_model(model):
    classifier = FakeClassifier()
    classifier.series_model = model
    return classifier


def test_a_compact_lesion_is_called_tumour_by_its_evidence_with_outlines_on_its_slices(tmp_path):
    volume = phantom(tmp_path)
    shown = []
    result = analyze(volume, with_model(series_model(-1.0)), FakeSegmenter(), explain=False,
                     on_verdict=lambda r: shown.append(r.verdict))  # fmt: skip
    v = result.verdict
    assert v.tumour and v.label == "glioma" and v.tumour_probability > 0.5
    assert set(v.key_slices) == {3, 4, 5, 6} and sorted(result.segmentations) == [3, 4, 5, 6]
    assert v.evidence["region_consistency"] == 1.0 and "tumour-like evidence" in v.basis
    assert shown and shown[0] is v  # the verdict is announced once, after the evidence is in
    assert any(m.name == "test series model" for m in result.models)


def test_evidence_against_a_tumour_hides_the_outlines(tmp_path):
    volume = phantom(tmp_path)
    outlined = []
    result = analyze(volume, with_model(series_model(-10.0)), FakeSegmenter(), explain=False,
                     on_outlines=outlined.append)  # fmt: skip
    assert not result.verdict.tumour and result.verdict.label == NO_TUMOUR
    assert result.segmentations == {} and outlined == []  # no outline contradicts the verdict
    assert result.verdict.positive_slices == 4  # the slice classifier's view is still reported


def test_abnormal_not_typical_of_a_tumour(tmp_path):
    volume = phantom(tmp_path)
    result = analyze(volume, with_model(series_model(-10.0, abnormal_bias=0.0)), FakeSegmenter(), explain=False)
    v = result.verdict
    assert not v.tumour and v.label == ABNORMAL and v.abnormal_probability > 0.6
    assert set(v.key_slices) <= {3, 4, 5, 6} and result.segmentations == {}


def test_short_series_and_image_folders_keep_the_slice_rule(tmp_path):
    volume = phantom(tmp_path, n=6)  # fewer than the model's min_slices
    result = analyze(volume, with_model(series_model(-10.0)), FakeSegmenter(), explain=False)
    assert result.verdict.tumour and result.verdict.basis == "" and result.segmentations


class GatedSegmenter(FakeSegmenter):
    """FakeSegmenter whose slice gate rejects the slices in ``rejects`` (their maps still show the lesion)."""

    def __init__(self, rejects):
        super().__init__()
        self.rejects = set(rejects)
        self.seen = 0

    def predict_with_gate(self, slices, batch_size: int = 16):
        maps = FakeSegmenter.predict(self, slices, batch_size)
        passed = [self.seen + k not in self.rejects for k in range(len(maps))]
        self.seen += len(maps)
        return maps, passed

    def predict(self, slices, batch_size: int = 16):
        maps, passed = self.predict_with_gate(slices, batch_size)
        return [m if ok else np.zeros_like(m) for m, ok in zip(maps, passed, strict=True)]


def test_gate_rejected_outlines_are_evidence_but_never_shown_or_measured(tmp_path):
    volume = phantom(tmp_path)
    all_outlined = analyze(volume, with_model(series_model(-1.0)), FakeSegmenter(), explain=False)
    segmenter = GatedSegmenter(rejects=set())
    segmenter.rejects = {0}  # the first slice outlined (the order is the pipeline's) is rejected by the gate
    outlined = []
    result = analyze(volume, with_model(series_model(-1.0)), segmenter, explain=False, on_outlines=outlined.append)
    assert result.verdict.tumour
    assert result.verdict.evidence == all_outlined.verdict.evidence  # the series model saw every outline
    assert len(result.segmentations) == 3 and set(result.segmentations) < {3, 4, 5, 6}
    assert result.volume_ml < all_outlined.volume_ml
    assert all(set(batch) <= set(result.segmentations) for batch in outlined)
    from brainscan.presentation import NOT_FOUND, outline_status

    (hidden,) = {3, 4, 5, 6} - set(result.segmentations)
    assert outline_status(result, hidden) == NOT_FOUND  # "the segmentation model found no tumour on this slice"


def test_gate_rejected_slices_have_no_outline_in_image_folders(tmp_path):
    volume = phantom(tmp_path, n=6)  # the slice rule decides, outlines come straight from the gated maps
    result = analyze(volume, with_model(series_model(-10.0)), GatedSegmenter(rejects={0, 1, 2, 3}), explain=False)
    assert result.verdict.tumour and result.segmentations == {}


class FaintOnDimmerLesions(FakeClassifier):
    """Like FakeClassifier, but a slice whose lesion is dimmer (900, not 1000) gets P(tumour) 0.40: below the
    outline threshold, above brainscan.pipeline.extent.FOLLOW_MIN_P."""

    def _one(self, pixels):
        p = np.asarray(pixels)
        if (p > 800).any() and not (p > 950).any():
            return [0.30, 0.05, 0.60, 0.05]
        return super()._one(pixels)


def tumour_with_a_stray_spot(tmp_path, n=12):
    """A lesion on slices 3-6 continued faintly on slice 7, and a small bright spot apart from it on slice 10."""
    volume = phantom(tmp_path, n=n)
    pixels = volume.pixels.copy()
    yy, xx = np.mgrid[: pixels.shape[1], : pixels.shape[2]]
    pixels[7][(yy - 64 * 0.4) ** 2 + (xx - 64 * 0.55) ** 2 <= 5**2] = 900.0
    pixels[10][(yy - 48) ** 2 + (xx - 20) ** 2 <= 4**2] = 1000.0  # 12 mm2: an outline
    return dataclasses.replace(volume, pixels=pixels)


def test_a_tumour_volume_is_one_region_followed_into_its_faint_end(tmp_path):
    from brainscan.presentation import DETACHED, OUTLINED, outline_status

    volume = tumour_with_a_stray_spot(tmp_path)
    classifier = FaintOnDimmerLesions()
    classifier.series_model = series_model(-1.0)
    segmenter = FakeSegmenter()
    result = analyze(volume, classifier, segmenter, explain=False)
    assert result.verdict.tumour
    assert sorted(result.segmentations) == [3, 4, 5, 6, 7]  # 7 followed (P 0.40), 10 set apart
    assert sorted(result.set_apart) == [10] and outline_status(result, 10) == DETACHED
    assert outline_status(result, 7) == OUTLINED and 7 in result.segmented
    lesion = sum(int(s.mask.sum()) for s in result.segmentations.values())
    assert result.volume_ml == pytest.approx(lesion * 0.25 * 2.0 / 1000.0)  # the spot is not measured
    (warning,) = [w for w in result.warnings if "apart from the largest outlined region" in w]
    assert "slice 11 " in warning and "look at these slices yourself" in warning


def test_a_volume_without_a_tumour_verdict_is_never_followed(tmp_path):
    volume = tumour_with_a_stray_spot(tmp_path)
    classifier = FaintOnDimmerLesions()
    classifier.series_model = series_model(-10.0)
    calls = []

    class Counting(FakeSegmenter):
        def predict(self, slices, batch_size: int = 16):
            calls.append(len(slices))
            return super().predict(slices, batch_size)

    result = analyze(volume, classifier, Counting(), explain=False)
    assert not result.verdict.tumour and result.segmentations == {} and result.set_apart == {}
    assert sum(calls) == 5  # the positive slices 3-6 and 10, as evidence; nothing followed


def test_a_thin_slice_tumour_volume_is_read_in_three_planes(tmp_path):
    lesion_slices = tuple(range(30, 38))
    write_phantom_series(tmp_path / "thin", n=70, lesion_slices=lesion_slices, spacing=(1.0, 1.0), slice_gap=1.0)
    volume = load(scan([tmp_path / "thin"])[0])
    shapes = []

    class Recording(FakeSegmenter):
        def predict(self, slices, batch_size: int = 16):
            shapes.extend(np.shape(s) for s in slices)
            return super().predict(slices, batch_size)

    thick = phantom(tmp_path, n=14)  # 2 mm apart, 0.5 mm pixels: not read in other planes
    thick_result = analyze(thick, with_model(series_model(-1.0)), FakeSegmenter(), explain=False)
    assert "three planes" not in thick_result.gate
    result = analyze(volume, with_model(series_model(-1.0)), Recording(), explain=False)
    assert result.verdict.tumour and "all three planes" in result.gate
    assert (70, 64) in shapes  # reslices: every slice by one row or column of the phantom
    lesion = volume.pixels > 800
    outlined = np.zeros_like(lesion)
    for index, seg in result.segmentations.items():
        outlined[index] = seg.mask
    assert np.array_equal(outlined, lesion)  # the planes agree on a clean lesion: the same outline
    assert result.volume_ml == pytest.approx(lesion.sum() / 1000.0)
