"""Segmentation model shape and the block split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from brainscan.training.segmentation_data import SegmentationItem, block_split


def test_block_split_keeps_neighbouring_numbers_together():
    items = [SegmentationItem(n, Path(f"{n}.png"), Path(f"{n}_mask.png"), "glioma") for n in range(1, 1001)]
    train, val = block_split(items, 0.15, block=50, seed=2)
    assert not set(train) & set(val) and len(train) + len(val) == 1000
    assert 140 <= len(val) <= 200
    val_blocks = {items[i].number // 50 for i in val}
    train_blocks = {items[i].number // 50 for i in train}
    assert not val_blocks & train_blocks


@pytest.mark.slow
@pytest.mark.needs_tf
def test_unet_maps_slice_to_probability_map():
    from brainscan.runtime.keras.unet import build_segmenter
    from brainscan.training.losses import dice_bce_loss

    model = build_segmenter(size=64, base=4, depth=3)
    x = np.random.default_rng(0).random((2, 64, 64, 1), dtype=np.float32)
    y = model.predict_on_batch(x)
    assert y.shape == (2, 64, 64, 1) and 0.0 <= y.min() and y.max() <= 1.0
    perfect = dice_bce_loss(np.ones((1, 8, 8, 1), "float32"), np.full((1, 8, 8, 1), 0.999, "float32"))
    worst = dice_bce_loss(np.ones((1, 8, 8, 1), "float32"), np.full((1, 8, 8, 1), 0.001, "float32"))
    assert float(perfect[0]) < 0.05 < 1.0 < float(worst[0])


def test_mask_grid_round_trip_stays_binary_and_aligned():
    from brainscan.runtime.preprocess import square_to_source
    from brainscan.training.train_segmenter import mask_to_grid

    mask = np.zeros((512, 400), np.uint8)
    mask[100:220, 150:300] = 255
    grid = mask_to_grid(mask, 256)
    assert grid.shape == (256, 256) and set(np.unique(grid)) == {0, 1}
    back = square_to_source(grid.astype(np.float32), (512, 400), resample="nearest") > 0.5
    truth = mask > 0
    overlap = 2 * (back & truth).sum() / (back.sum() + truth.sum())
    assert overlap > 0.97


def test_resume_refuses_another_input_size_width_or_loss(tmp_path):
    import argparse

    from brainscan.training.train_segmenter import check_resume_shape

    args = argparse.Namespace(out=tmp_path, size=128, base_filters=16, loss="dice_bce")
    check_resume_shape({"size": 128, "base_filters": 16}, args)  # same shape: fine
    with pytest.raises(SystemExit, match="--size 256"):
        check_resume_shape({}, args)  # runs from before --size existed were 256 px
    with pytest.raises(SystemExit, match="--base-filters 24"):
        check_resume_shape({"size": 128, "base_filters": 24}, args)
    with pytest.raises(SystemExit, match="--loss bce_tumour_dice"):
        check_resume_shape({"size": 128, "base_filters": 16, "loss": "bce_tumour_dice"}, args)
