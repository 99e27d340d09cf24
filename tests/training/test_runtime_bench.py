"""`brainscan bench runtimes`: the pieces that decide what may ship (view averaging, the pass/fail rule, the
table), and the LiteRT storage variants on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.runtime.batching import BatchedSegmenter
from brainscan.training.bench_runtimes import _judge, to_markdown, view_maps


class AsymmetricSegmenter(BatchedSegmenter):
    """raw_maps depends on where in the image a pixel is, so every flip and turn gives a different map."""

    size = 8

    def __init__(self, views: int):
        self.views, self.mask_threshold = views, 0.5
        self.calls = 0

    def raw_maps(self, batch: np.ndarray) -> np.ndarray:
        self.calls += 1
        ramp = np.linspace(0, 1, self.size * self.size, dtype=np.float32).reshape(self.size, self.size)
        return batch[..., 0] * 0.5 + ramp[None] * 0.25 + batch[..., 0].mean(axis=(1, 2))[:, None, None] * 0.1


def test_view_maps_match_the_runtime_averaging_for_1_2_and_8_views():
    batch = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)
    probe = AsymmetricSegmenter(8)
    maps = view_maps(probe, batch, [1, 2, 8])
    assert probe.calls == 8  # one pass over the most views yields all three
    for views in (1, 2, 8):
        np.testing.assert_allclose(maps[views], AsymmetricSegmenter(views).averaged_maps(batch), atol=1e-6)
    assert not np.allclose(maps[1], maps[8])  # the views really differ here
    probe = AsymmetricSegmenter(2)
    assert set(view_maps(probe, batch, [1, 2])) == {1, 2} and probe.calls == 2


def _row(accuracy, sensitivity, ms, series=None):
    row = {"accuracy": accuracy, "tumour_sensitivity": sensitivity, "ms_per_view_min": ms}
    if series is not None:
        row["series"] = series
    return row


def _series(verdict="notumor", outlined=()):
    return {"series": "a", "verdict": verdict, "tumour": verdict != "notumor", "slice_labels": [verdict],
            "outlined": list(outlined), "volume_ml": None}  # fmt: skip


def test_a_variant_ships_only_within_the_bounds_and_with_the_same_verdicts():
    rows = {
        "float32": _row(0.9700, 0.9900, 50.0, [_series()]),
        "float16": _row(0.9700, 0.9900, 50.0, [_series()]),
        "near": _row(0.9671, 0.9871, 25.0, [_series()]),  # 0.0029 below: inside 0.003
        "far": _row(0.9660, 0.9900, 25.0, [_series()]),  # 0.004 below
        "flipped": _row(0.9700, 0.9900, 25.0, [_series("glioma")]),
        "better": _row(0.9800, 0.9950, 25.0, [_series()]),
    }
    _judge(rows, ("accuracy", "tumour_sensitivity"), 0.003)
    assert [name for name, row in rows.items() if row["passes"]] == ["float32", "float16", "near", "better"]
    assert "accuracy 0.9660 vs 0.9700" in rows["far"]["fails_because"][0]
    assert any("verdict differs" in reason for reason in rows["flipped"]["fails_because"])
    assert rows["near"]["speed_vs_float32"] == 2.0


def test_markdown_table_names_every_variant_and_the_verdict():
    rows = {"float32": _row(0.97, 0.99, 50.0), "int8": _row(0.95, 0.99, 20.0)}
    for row in rows.values():
        row.update(bytes=2**20, ms_per_view_median=60.0, tumour_specificity=0.95,
                   without_mirror={"accuracy": 0.96})  # fmt: skip
    _judge(rows, ("accuracy", "tumour_sensitivity"), 0.003)
    report = {
        "command": "brainscan bench runtimes --model classifier",
        "machine": {"cpu": "test CPU", "cores": 2},
        "load_average_at_start": [2.0, 2.0, 2.0],
        "load_average_at_end": [2.0, 2.0, 2.0],
        "date": "today",
        "classifier": {"model": {"version": "t"}, "validation_slices": 10, "calibration_slices": 4, "variants": rows},
    }
    text = to_markdown(report)
    assert "| float32 | 1.0 | 50.0, 60.0 | 1.00x | 0.9700" in text
    assert "| int8 |" in text and "2.50x" in text and "no: accuracy 0.9500 vs 0.9700" in text
    assert "| reference |" in text


@pytest.mark.slow
@pytest.mark.needs_tf
def test_every_variant_converts_and_runs_on_litert():
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    import keras

    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.training.litert_variants import VARIANTS, convert_variant

    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    data = np.random.default_rng(1).random((6, 16, 16, 1), dtype=np.float32)
    expected = np.asarray(model(data))
    sizes = {}
    for variant in VARIANTS:
        content = convert_variant(model, variant, calibration=data)
        got = LiteRTRunner(content=content, num_threads=1).run(data)[0]
        assert got.shape == expected.shape and got.dtype == np.float32
        bound = 1e-5 if variant == "float32" else 0.05  # quantised variants only approximate
        assert np.max(np.abs(got - expected)) <= bound, variant
        sizes[variant] = len(content)
    assert all(sizes.values())  # (a model this small is mostly format overhead: sizes say nothing here)
    from brainscan.errors import ModelError

    with pytest.raises(ModelError, match="calibration"):
        convert_variant(model, "int8")
    with pytest.raises(ModelError, match="Unknown"):
        convert_variant(model, "int4")


@pytest.mark.slow
@pytest.mark.needs_tf
def test_int8_segmenter_export_needs_the_shared_data(tmp_path, monkeypatch):
    """int8 is calibrated on training slices and Dice-checked on validation: without the data nothing is written."""
    import argparse
    import json

    from brainscan.errors import ModelError
    from brainscan.runtime.integrity import sha256_of
    from brainscan.runtime.keras.unet import build_segmenter
    from brainscan.runtime.keras.weights import save_float16_weights
    from brainscan.runtime.spec import SEGMENTER_CARD
    from brainscan.training.export_litert import export

    save_float16_weights(build_segmenter(32, base=4), tmp_path / "s.npz")
    card = {"name": "test seg", "version": "t", "file": "s.npz", "sha256": sha256_of(tmp_path / "s.npz"),
            "input_shape": [32, 32, 1], "labels": ["tumour"], "preprocessing": "preprocess_gray",
            "base_filters": 4, "inference": {"views": 2}}  # fmt: skip
    (tmp_path / SEGMENTER_CARD).write_text(json.dumps(card))
    monkeypatch.setenv("BRAINSCAN_DATA", str(tmp_path / "no-data"))
    with pytest.raises(ModelError, match="needs the shared data"):
        export(argparse.Namespace(models_dir=tmp_path, only="segmenter", force=False, variant="int8"))
    assert json.loads((tmp_path / SEGMENTER_CARD).read_text()) == card
    assert not (tmp_path / "segmenter_unet.tflite").exists()


def test_export_variant_is_per_model_and_checked_before_any_work(tmp_path):
    import argparse

    from brainscan.errors import ModelError
    from brainscan.training.export_litert import export

    def run(only, variant):
        export(argparse.Namespace(models_dir=tmp_path, only=only, force=False, variant=variant))

    with pytest.raises(ModelError, match="--only"):
        run(None, "int8")
    with pytest.raises(ModelError, match="segmenter is exported as float32 or int8, not dynamic"):
        run("segmenter", "dynamic")
    with pytest.raises(ModelError, match="classifier is exported as float16 or dynamic or int8, not float32"):
        run("classifier", "float32")
