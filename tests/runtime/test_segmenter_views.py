"""Card-driven segmenter reading: test-time views are undone before averaging, and the mask threshold from
the card is the one evaluation and the pipeline cut at."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from brainscan.errors import ModelError
from brainscan.runtime.batching import BatchedSegmenter
from brainscan.runtime.spec import read_spec
from brainscan.training.segmentation_data import SegmentationItem
from brainscan.training.segmentation_evaluation import evaluate_items
from tests.fakes import write_card


class Echo(BatchedSegmenter):
    """Returns its input: any view that is not turned back exactly would move the picture."""

    size = 32

    def raw_maps(self, batch):
        return batch[..., 0].copy()


class LeftHalf(BatchedSegmenter):
    """Sees tumour on the left half of whatever it is shown: a model with an orientation bias."""

    size = 32

    def raw_maps(self, batch):
        maps = np.zeros(batch.shape[:3], np.float32)
        maps[:, :, : batch.shape[2] // 2] = 1.0
        return maps


def card(tmp_path, **extra):
    return read_spec(write_card(tmp_path / "card.json", input_shape=[32, 32, 1], labels=["tumour"], **extra))


@pytest.mark.parametrize("views", [1, 2, 8])
def test_every_view_is_turned_back_before_averaging(views):
    segmenter = Echo()
    segmenter.views = views
    batch = np.random.default_rng(views).random((3, 32, 32, 1)).astype(np.float32)
    assert np.allclose(segmenter.averaged_maps(batch), batch[..., 0], atol=1e-6)


def test_views_average_out_an_orientation_bias():
    segmenter = LeftHalf()
    batch = np.zeros((1, 32, 32, 1), np.float32)
    assert segmenter.averaged_maps(batch)[0, 0, 0] == 1.0 and segmenter.averaged_maps(batch)[0, 0, -1] == 0.0
    segmenter.views = 2
    assert np.allclose(segmenter.averaged_maps(batch), 0.5)
    segmenter.views = 8
    assert np.allclose(segmenter.averaged_maps(batch), 0.5)


def test_card_sets_views_and_threshold(tmp_path):
    plain = card(tmp_path)
    assert (plain.views, plain.mask_threshold) == (1, 0.5)
    spec = card(tmp_path, inference={"views": 8}, postprocessing={"threshold": 0.3})
    segmenter = Echo()
    segmenter._read_card(spec)
    assert (segmenter.views, segmenter.mask_threshold) == (8, 0.3)
    with pytest.raises(ModelError, match="3 views"):
        Echo()._read_card(card(tmp_path, inference={"views": 3}))


def test_evaluation_cuts_at_the_cards_threshold(tmp_path):
    class Faint(BatchedSegmenter):
        """P = 0.4 wherever the image is bright."""

        size = 64

        def raw_maps(self, batch):
            return np.where(batch[..., 0] > 0.5, 0.4, 0.0).astype(np.float32)

    image = np.zeros((64, 64), np.uint8)
    image[20:40, 20:40] = 255
    Image.fromarray(image).save(tmp_path / "1.png")
    Image.fromarray(image).save(tmp_path / "1_mask.png")
    items = [SegmentationItem(1, tmp_path / "1.png", tmp_path / "1_mask.png", "glioma")]
    segmenter = Faint()
    assert evaluate_items(segmenter, items)["dice_mean"] == 0.0
    segmenter.mask_threshold = 0.3
    report = evaluate_items(segmenter, items)
    assert report["dice_mean"] > 0.95 and report["postprocessing"].startswith("threshold 0.3")


def test_analysis_outlines_at_the_segmenters_threshold(tmp_path):
    from brainscan.io import load, scan
    from brainscan.pipeline.analyze import analyze
    from tests.dicom_factory import write_phantom_series
    from tests.fakes import FakeClassifier, FakeSegmenter

    class FaintSegmenter(FakeSegmenter):
        def predict(self, slices, batch_size=16):
            return [0.4 * m for m in super().predict(slices, batch_size)]

    write_phantom_series(tmp_path / "s", n=6, lesion_slices=(2, 3), spacing=(0.5, 0.5), slice_gap=2.0)
    volume = load(scan([tmp_path / "s"])[0])
    segmenter = FaintSegmenter()
    assert not analyze(volume, FakeClassifier(), segmenter).segmentations
    segmenter.mask_threshold = 0.3
    assert sorted(analyze(volume, FakeClassifier(), segmenter).segmentations) == [2, 3]
