"""`evaluate segmenter` on a generated set at a resolution the model was not built for (no training)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.segmentation_set import write_segmentation_set

pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]


def test_evaluate_segmenter_json_at_512px(tmp_path):
    from brainscan.cli import main
    from brainscan.runtime.integrity import sha256_of
    from brainscan.runtime.keras.unet import build_segmenter
    from brainscan.runtime.keras.weights import save_float16_weights

    model = build_segmenter(256, base=4)
    save_float16_weights(model, tmp_path / "s.npz")
    card = {"name": "test seg", "version": "t", "file": "s.npz", "sha256": sha256_of(tmp_path / "s.npz"),
            "input_shape": [256, 256, 1], "labels": ["tumour"], "preprocessing": "preprocess_gray",
            "base_filters": 4}  # fmt: skip
    (tmp_path / "card.json").write_text(json.dumps(card))
    data = write_segmentation_set(
        tmp_path / "set", 512, lambda rng: rng.integers(0, 255, (512, 512), dtype=np.uint8),
        (slice(200, 260), slice(200, 280)),
    )  # fmt: skip
    out = tmp_path / "r.json"
    assert main(["evaluate", "segmenter", str(data), "--card", str(tmp_path / "card.json"), "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["n"] == 3 and set(report["dice_by_label"]) == {"meningioma", "glioma", "pituitary"}
    for key in ("dice_mean", "dice_median", "iou_mean", "ms_per_slice"):
        assert 0.0 <= report[key] and (key == "ms_per_slice" or report[key] <= 1.0)
    # the same command also reports how often the model outlines anything on tumour-free slices
    empty = tmp_path / "notumor"
    empty.mkdir()
    for k in range(3):
        Image.fromarray(np.full((300, 300), 40 * k, np.uint8)).save(empty / f"{k}.jpg")
    args = ["evaluate", "segmenter", str(data), "--card", str(tmp_path / "card.json"), "--json", str(out)]
    assert main([*args, "--no-tumour-dir", str(empty)]) == 0
    no_tumour = json.loads(out.read_text())["no_tumour"]
    assert no_tumour["n"] == 3 and 0.0 <= no_tumour["outlined_fraction"] <= 1.0
    assert main([*args, "--no-tumour-dir", str(tmp_path / "masks-none")]) == 2  # missing folder: clear error
    # and, given a segmenter pack, its held-out volume slices as the card's held_out_volumes
    pack = tmp_path / "pack.npz"
    masks = np.zeros((4, 256, 256), np.uint8)
    masks[:2, 100:140, 100:150] = 1  # two tumour slices, two tumour-free ones
    np.savez(
        pack,
        images=np.random.default_rng(0).integers(0, 255, (4, 256, 256), dtype=np.uint8),
        masks=masks,
        split=np.asarray(["val", "val", "val", "train"]),
        source=np.asarray(["a/t1ce", "a/t1ce", "a/t1ce", "b/t1ce"]),
    )
    assert main([*args, "--volume-pack", str(pack)]) == 0
    held = json.loads(out.read_text())["held_out_volumes"]
    assert held["slices"] == 2 and held["tumour_free_slices"] == 1
    assert set(held["by_source"]) == {"a/t1ce"}
    (tmp_path / "broken.npz").write_bytes(b"not a pack")
    assert main([*args, "--volume-pack", str(tmp_path / "broken.npz")]) == 2
