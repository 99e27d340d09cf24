"""`brainscan train segmenter-gate`: groups stay whole in the folds, the threshold keeps the asked share of tumour
area, and a tiny U-Net gets a gate file, a card entry and a LiteRT file that gives the gate its features."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest

from brainscan.training.segmenter_gate import (
    area_threshold,
    balanced_log_loss,
    fit_logistic,
    group_folds,
    out_of_fold,
    pack_groups,
)
from tests.segmentation_set import write_segmentation_set


def test_folds_keep_every_group_whole():
    groups = np.asarray([f"g{i % 7}" for i in range(70)])
    folds = group_folds(groups, 3, seed=1)
    for name in set(groups):
        assert len(set(folds[groups == name])) == 1
    assert set(folds) == {0, 1, 2}


def test_notumor_files_group_in_blocks_and_people_by_name():
    sources = np.asarray(["notumor/Tr-no_0011.jpg", "notumor/Tr-no_0075.jpg", "ixi1/t1", "ixi1/flair", "B_1/t1ce"])
    assert pack_groups(sources).tolist() == ["notumor-0", "notumor-1", "ixi1", "ixi1", "B_1"]


def test_logistic_fit_separates_and_out_of_fold_scores_every_row():
    rng = np.random.default_rng(0)
    y = np.repeat([1.0, 0.0], 60)
    x = rng.normal(size=(120, 3)) + y[:, None] * 2.0
    mean, scale, weights, bias = fit_logistic(x, y, lam=1.0)
    logits = ((x - mean) / scale) @ weights + bias
    assert ((logits > 0) == (y > 0)).mean() > 0.9
    folds = group_folds(np.asarray([f"g{i % 10}" for i in range(120)]), 5, seed=0)
    oof = out_of_fold(x, y, folds, lam=1.0)
    assert np.all(oof != 0) and balanced_log_loss(oof, y) < balanced_log_loss(np.zeros(120), y)


def test_threshold_keeps_the_asked_share_of_tumour_area():
    logits = np.asarray([-3.0, -1.0, 0.0, 2.0])
    area = np.asarray([0.01, 0.04, 0.45, 0.50])
    assert area_threshold(logits, area, keep=0.995) == -3.0  # dropping the first slice would lose 1 %: kept
    assert area_threshold(logits, area, keep=0.98) == -1.0  # the first slice (1 %) may go
    assert area_threshold(logits, area, keep=0.94) == 0.0  # both small slices (5 %) may go


@pytest.mark.slow
@pytest.mark.needs_tf
def test_tiny_unet_gets_a_gate_a_card_entry_and_gate_features_in_litert(tmp_path, monkeypatch):
    from brainscan.runtime.integrity import sha256_of
    from brainscan.runtime.keras.unet import build_segmenter
    from brainscan.runtime.keras.weights import save_float16_weights
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter
    from brainscan.runtime.spec import read_spec
    from brainscan.training.segmenter_gate import GATE_FILE, fit

    monkeypatch.setenv("BRAINSCAN_DATA", str(tmp_path / "no-shared-data"))  # no notumor list: skipped cleanly
    size = 32
    data = write_segmentation_set(
        tmp_path / "seg", size, lambda rng: (rng.random((size, size)) * 255).astype(np.uint8), (slice(8, 20),) * 2
    )
    models = tmp_path / "models"
    models.mkdir()
    model = build_segmenter(size, base=2)  # depth 4: the gate reads enc4 and dec4
    save_float16_weights(model, models / "w.npz")
    (models / "val.json").write_text(json.dumps({"files": ["12.png"]}))
    card = {
        "name": "tiny", "version": "t", "file": "w.npz", "sha256": sha256_of(models / "w.npz"),
        "input_shape": [size, size, 1], "labels": ["tumour"], "preprocessing": "p", "base_filters": 2,
        "inference": {"views": 2}, "postprocessing": {"threshold": 0.4},
        "split": {"validation_files": "val.json", "block": 60}, "validation": {"dice_mean": 0.0},
    }  # fmt: skip
    (models / "card.json").write_text(json.dumps(card))
    rng = np.random.default_rng(1)
    n = 16
    masks = np.zeros((n, size, size), np.uint8)
    masks[::2, 10:20, 10:20] = 1  # even slices hold tumour
    people = ["A_1/t1ce", "B_1/t1ce", "notumor/Tr-no_0001.jpg", "C_1/t1ce"]
    pack = {
        "images": rng.random((n, size, size)).astype(np.float16),
        "masks": masks,
        "source": np.asarray([people[i % 4] if i < 12 else "D_1/t1ce" for i in range(n)]),
        "split": np.asarray(["train"] * 12 + ["val"] * 4),
    }
    np.savez(tmp_path / "pack.npz", **pack)
    args = argparse.Namespace(
        card=models / "card.json", data=data, volume_pack=tmp_path / "pack.npz", folds=2, keep_area=0.995,
        seed=0, no_export=False,
    )  # fmt: skip
    entry = fit(args)
    written = json.loads((models / "card.json").read_text())
    assert written["slice_gate"]["file"] == GATE_FILE and (models / GATE_FILE).is_file()
    assert written["slice_gate"]["sha256"] == sha256_of(models / GATE_FILE)
    assert entry["views"] == 2 and np.isfinite(entry["threshold_logit"])
    assert "validation_without_gate" in entry and "held_out_volumes" in written["validation"]
    spec = read_spec(models / "card.json")
    segmenter = LiteRTSegmenter.from_spec(spec)
    assert segmenter.gate is not None
    maps = segmenter.predict([rng.random((size, size)).astype(np.float32)])
    assert maps[0].shape == (size, size)


def test_one_standard_error_rule_prefers_the_stronger_l2_within_noise():
    from brainscan.training.segmenter_gate import one_standard_error_choice

    noisy = {1.0: np.asarray([0.10, 0.14, 0.12]), 10.0: np.asarray([0.11, 0.15, 0.125]), 100.0: np.asarray([0.3] * 3)}
    assert one_standard_error_choice(noisy) == 10.0
    clear = {1.0: np.asarray([0.10, 0.10, 0.10]), 10.0: np.asarray([0.2, 0.2, 0.2])}
    assert one_standard_error_choice(clear) == 1.0
