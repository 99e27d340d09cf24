"""The GPU-machine training path: packing, host-side augmentation, schedule, weight shards, import."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainscan.training import accelerated
from brainscan.training.augment import augment_classifier_batch, augment_segmentation_batch


def smooth_slices(n: int, size: int) -> np.ndarray:
    """Brain-like test slices: a bright disc with a darker blob, values in [0, 1]."""
    yy, xx = np.mgrid[:size, :size] / size
    out = np.zeros((n, size, size), np.float32)
    for i in range(n):
        disc = ((xx - 0.5) ** 2 + (yy - 0.5) ** 2 < 0.16).astype(np.float32) * 0.8
        blob = np.exp(-((xx - 0.3 - 0.02 * i) ** 2 + (yy - 0.4) ** 2) / 0.01) * 0.2
        out[i] = np.clip(disc + blob, 0, 1)
    return out


def test_webp_pack_round_trip_stays_within_a_few_grey_levels():
    slices = smooth_slices(5, 64)
    blob, offsets = accelerated.encode_slices(slices)
    assert offsets.shape == (6,) and offsets[-1] == len(blob)
    back = accelerated.decode_slices(blob, offsets, threads=2)
    assert back.shape == slices.shape and back.dtype == np.float32
    assert np.abs(back - slices).mean() < 3 / 255


def test_weight_shards_stay_under_the_limit_and_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=shape).astype(np.float32) for shape in [(50, 40), (40,), (300, 100), (100,), (7,)]]
    paths = accelerated.write_shards(weights, tmp_path, "model", max_bytes=40_000)
    assert len(paths) >= 2
    for path in paths:
        with np.load(path) as data:
            arrays = [data[key] for key in data.files]
        assert sum(a.nbytes for a in arrays) <= 40_000 or len(arrays) == 1
    back = accelerated.read_shards(tmp_path, "model")
    assert [b.shape for b in back] == [w.shape for w in weights]
    assert all(np.allclose(b, w, atol=2e-2, rtol=1e-3) for b, w in zip(back, weights, strict=True))
    paths[0].unlink()
    with pytest.raises(SystemExit, match="incomplete"):
        accelerated.read_shards(tmp_path, "model")
    with pytest.raises(SystemExit, match="no other_"):
        accelerated.read_shards(tmp_path, "other")


def test_learning_rate_warms_up_then_decays_to_near_zero():
    rates = [accelerated.lr_at(epoch, 1e-3, warmup=3, total=20) for epoch in range(20)]
    assert rates[:3] == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3])
    assert all(a >= b for a, b in zip(rates[2:], rates[3:], strict=False))
    assert rates[-1] < 0.02 * 1e-3


def test_epoch_plan_fits_the_time_left_and_respects_the_cap():
    assert accelerated.plan_epochs(done=2, seconds_left=100, seconds_per_epoch=10, max_epochs=300) == 11
    assert accelerated.plan_epochs(done=2, seconds_left=10_000, seconds_per_epoch=1, max_epochs=150) == 150
    assert accelerated.plan_epochs(done=5, seconds_left=1, seconds_per_epoch=10, max_epochs=150) == 6
    assert accelerated.plan_epochs(done=2, seconds_left=1000, seconds_per_epoch=1, max_epochs=2) == 2


def test_segmentation_augmentation_moves_slice_and_mask_together():
    masks = np.zeros((16, 32, 32), np.uint8)
    masks[:, 4:12, 6:20] = 1
    masks[:, 20:24, 2:5] = 1  # asymmetric, so a flip or a turn shows
    x, y = augment_segmentation_batch(masks.astype(np.float32), masks, np.random.default_rng(3))
    assert np.array_equal(x, y)  # gamma keeps 0 and 1, so any misalignment would show
    assert len({yi.tobytes() for yi in y}) > 2  # several different flips/turns were drawn


def test_classifier_augmentation_is_reproducible_and_stays_near_the_original():
    slices = smooth_slices(8, 64)
    a = augment_classifier_batch(slices, np.random.default_rng(7))
    b = augment_classifier_batch(slices, np.random.default_rng(7))
    assert a.shape == slices.shape and np.array_equal(a, b)
    assert not np.allclose(a, slices, atol=1e-3)
    for original, moved in zip(slices, a, strict=True):
        # the disc's centre of mass moves by at most the 6 % shift plus rounding
        grid = np.mgrid[:64, :64]
        centre = [(grid[k] * original).sum() / original.sum() for k in (0, 1)]
        weight = np.clip(moved, 0, None)
        moved_centre = [(grid[k] * weight).sum() / weight.sum() for k in (0, 1)]
        assert np.hypot(*np.subtract(centre, moved_centre)) < 0.06 * 64 * 1.5 + 2


@pytest.mark.slow
@pytest.mark.needs_tf
def test_segmenter_pack_train_import_round_trip(tmp_path):
    """pack -> train (Keras on this machine's backend, 2 short epochs) -> import gives a loadable run folder."""
    size, n = 32, 24
    source = tmp_path / "source"
    (source / "cache").mkdir(parents=True)
    images = smooth_slices(n, size)
    masks = (images > 0.85).astype(np.uint8)
    np.save(source / "cache" / "images.npy", images.astype(np.float16))
    np.save(source / "cache" / "masks.npy", masks)
    split = {"data": str(tmp_path / "data"), "seed": 1, "val_fraction": 0.25, "block": 6,
             "train": list(range(18)), "val": list(range(18, 24))}  # fmt: skip
    (source / "split.json").write_text(json.dumps(split))
    pack = tmp_path / "pack" / "seg.npz"
    accelerated.main(["pack", "segmenter", "--run", str(source), "--cache", str(source / "cache"), "--out", str(pack)])
    shards = tmp_path / "shards"
    accelerated.main(["train", "--pack", str(pack), "--out", str(shards), "--budget-s", "600", "--max-epochs", "2",
                      "--batch-size", "6", "--lr", "1e-3", "--warmup", "1", "--base-filters", "4"])  # fmt: skip
    rows = [json.loads(line) for line in (shards / "segmenter_history.jsonl").read_text().splitlines()]
    assert rows[0]["meta"]["size"] == size and [r["epoch"] for r in rows[1:]] == [1, 2]
    assert rows[2]["lr_used"] == pytest.approx(accelerated.lr_at(1, 1e-3, 1, 2), rel=1e-4)
    run = tmp_path / "run"
    state = accelerated.import_run("segmenter", shards, source, run)
    assert state["size"] == size and state["base_filters"] == 4 and state["best_epoch"] == 2
    assert json.loads((run / "split.json").read_text())["val"] == split["val"]

    from brainscan.runtime.keras.unet import build_segmenter

    model = build_segmenter(size, base=4)
    model.load_weights(run / "best.weights.h5")
    trained = accelerated.read_shards(shards, "segmenter")
    assert all(np.allclose(w, t, atol=1e-6) for w, t in zip(model.get_weights(), trained, strict=True))


@pytest.mark.slow
@pytest.mark.needs_tf
def test_classifier_continues_from_given_weights_and_imports(tmp_path):
    """train --init-weights starts from the given float16 weights (host-side augmentation), import reloads it."""
    from brainscan.runtime.keras.vgg16 import build_classifier
    from brainscan.runtime.keras.weights import save_float16_weights

    slices = smooth_slices(8, 128)
    blob, offsets = accelerated.encode_slices(slices)
    pack = tmp_path / "clf.npz"
    np.savez(pack, kind=np.array("classifier"), blob=blob, offsets=offsets, labels=np.arange(8) % 4,
             train=np.arange(6), val=np.arange(6, 8))  # fmt: skip
    start = tmp_path / "start.npz"
    save_float16_weights(build_classifier("scratch", seed=5), start)
    shards = tmp_path / "shards"
    accelerated.main(["train", "--pack", str(pack), "--out", str(shards), "--budget-s", "900", "--max-epochs", "1",
                      "--batch-size", "3", "--lr", "1e-9", "--warmup", "1", "--init-weights", str(start)])  # fmt: skip
    rows = [json.loads(line) for line in (shards / "classifier_history.jsonl").read_text().splitlines()]
    assert rows[0]["meta"]["init_weights"] == str(start) and rows[1]["epoch"] == 1
    source = tmp_path / "source"
    (source / "cache").mkdir(parents=True)
    np.save(source / "cache" / "pixels.npy", slices.astype(np.float16))
    (source / "cache" / "pixels.json").write_text("{}")
    (source / "split.json").write_text(json.dumps({"train": list(range(6)), "val": [6, 7], "seed": 1}))
    state = accelerated.import_run("classifier", shards, source, tmp_path / "run")
    assert state["continued_from"] == str(start) and state["epoch"] == 1
    model = build_classifier("scratch", seed=6)
    model.load_weights(tmp_path / "run" / "best.weights.h5")
    with np.load(start) as data:
        first = [data[key].astype(np.float32) for key in sorted(data.files)]
    # a learning rate of 1e-9 for two steps: the weights are still the starting ones, not seed 6's
    assert all(np.allclose(w, f, atol=1e-3) for w, f in zip(model.get_weights(), first, strict=True))


def test_segmenter_pack_can_add_empty_notumor_slices_to_training_only(tmp_path):
    from PIL import Image

    data = tmp_path / "Training"
    for name in ("glioma", "meningioma", "notumor", "pituitary"):
        (data / name).mkdir(parents=True)
        for k in range(3):
            Image.fromarray((smooth_slices(1, 40)[0] * 200).astype(np.uint8)).save(data / name / f"{k}.png")
    classifier_run = tmp_path / "clf"
    classifier_run.mkdir()
    # files are listed class by class, sorted: notumor is 6, 7, 8; 8 is validation
    split = {"data": str(data), "train": [0, 1, 3, 4, 6, 7, 9, 10], "val": [2, 5, 8, 11]}
    (classifier_run / "split.json").write_text(json.dumps(split))
    seg_run = tmp_path / "seg"
    (seg_run / "cache").mkdir(parents=True)
    np.save(seg_run / "cache" / "images.npy", smooth_slices(10, 32).astype(np.float16))
    np.save(seg_run / "cache" / "masks.npy", np.ones((10, 32, 32), np.uint8))
    (seg_run / "split.json").write_text(json.dumps({"train": list(range(8)), "val": [8, 9]}))

    accelerated.pack_segmenter(seg_run, seg_run / "cache", tmp_path / "p.npz", empty_from=classifier_run)
    with np.load(tmp_path / "p.npz") as pack:
        assert pack["train"].tolist() == list(range(8)) + [10, 11]  # the two training notumor slices
        assert pack["val"].tolist() == [8, 9]
        masks = accelerated.unpack_masks(pack)
        assert masks.shape == (12, 32, 32) and masks[:10].all() and not masks[10:].any()
        images = accelerated.decode_slices(pack["blob"], pack["offsets"], threads=1)
        assert images.shape == (12, 32, 32) and images[10:].max() > 0.5  # real, preprocessed slices


def test_outlined_fraction_counts_slices_with_any_outline():
    from brainscan.training.segmentation_evaluation import outlined_fraction

    class ThresholdSegmenter:
        mask_threshold = 0.5

        def predict(self, slices, batch_size=16):
            return [(np.asarray(s) > 100).astype(np.float32) for s in slices]

    blank = np.zeros((64, 64), np.uint8)
    spot = blank.copy()
    spot[10:30, 10:30] = 255  # 400 px: kept by the clean-up
    speck = blank.copy()
    speck[5:8, 5:8] = 255  # 9 px: removed as noise
    report = outlined_fraction(ThresholdSegmenter(), [blank, spot, speck, spot], batch_size=3)
    assert report["n"] == 4 and report["outlined_fraction"] == 0.5
    assert report["mean_outlined_area_fraction"] == pytest.approx(2 * 400 / 4096 / 4)
