"""LiteRT runtime: conversion, equivalence with Keras, SHA checks, no TensorFlow at run time, runtime choice.

The module converts one random-weight VGG16 classifier and one small U-Net once (module fixtures, through the
real `brainscan export litert` code path) and checks everything against Keras. The numpy Grad-CAM pieces are
tested without TensorFlow first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from brainscan.config import PROJECT_ROOT, models_dir
from brainscan.errors import ModelError
from brainscan.runtime.gradcam import HEAD_KEYS, head_gradient, max_pool_2x2, resize_bilinear
from brainscan.runtime.spec import CLASSIFIER_CARD, SEGMENTER_CARD, read_spec
from brainscan.types import CLASS_NAMES

PROB_BOUND = 1e-4
CAM_BOUND = 1e-3
SEG_SIZE = 64
SEG_BASE = 4


# --- numpy Grad-CAM pieces (no TensorFlow) ------------------------------------------------------------------


def test_max_pool_routes_ties_to_the_first_maximum():
    a = np.zeros((4, 4, 2))
    a[0, 1, 0] = a[1, 0, 0] = 5.0  # a tie in the top-left window of channel 0: (0, 1) comes first
    pooled, argmax = max_pool_2x2(a)
    assert pooled.shape == (2, 2, 2) and pooled[0, 0, 0] == 5.0
    assert argmax[0, 0, 0] == 1 and argmax[0, 0, 1] == 0  # all-zero window: the first element


def test_head_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4, 3))
    head = {
        HEAD_KEYS[0]: rng.normal(size=(12, 6)),
        HEAD_KEYS[1]: rng.normal(size=6) * 0.1,
        HEAD_KEYS[2]: rng.normal(size=(6, 4)),
        HEAD_KEYS[3]: rng.normal(size=4) * 0.1,
    }

    def logits(x):
        """The head written out independently: 2x2 max pool, Flatten, Dense(relu), Dense (before softmax)."""
        pooled = x.reshape(2, 2, 2, 2, 3).max(axis=(1, 3))
        hidden = np.maximum(pooled.reshape(-1) @ head[HEAD_KEYS[0]] + head[HEAD_KEYS[1]], 0.0)
        return hidden @ head[HEAD_KEYS[2]] + head[HEAD_KEYS[3]]

    for k in range(4):
        grad, probs, index = head_gradient(a, head, k)
        assert index == k and abs(probs.sum() - 1) < 1e-12
        np.testing.assert_allclose(probs, np.exp(logits(a)) / np.exp(logits(a)).sum())
        numeric = np.zeros_like(a)
        for pos in np.ndindex(a.shape):
            step = np.zeros_like(a)
            step[pos] = 1e-6
            numeric[pos] = (logits(a + step)[k] - logits(a - step)[k]) / 2e-6
        np.testing.assert_allclose(grad, numeric, atol=1e-6)
        assert np.abs(grad).max() > 1e-3  # the class logit does depend on the activations


# --- fixtures: a random-weight classifier and a small segmenter, exported as the app ships them -------------


def _write_card(folder: Path, card_name: str, weights_name: str, **fields) -> Path:
    from brainscan.runtime.integrity import sha256_of

    card = {
        "name": fields.pop("name"),
        "version": "test",
        "file": weights_name,
        "sha256": sha256_of(folder / weights_name),
        "labels": fields.pop("labels"),
        "preprocessing": "brainscan.runtime.preprocess",
        **fields,
    }
    path = folder / card_name
    path.write_text(json.dumps(card, indent=2))
    return path


@pytest.fixture(scope="module")
def resources(tmp_path_factory) -> Path:
    """A resources folder with both models exported to Keras .npz and to LiteRT (via export_litert)."""
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert is not installed")
    from brainscan.runtime.keras.unet import build_segmenter
    from brainscan.runtime.keras.vgg16 import build_classifier
    from brainscan.runtime.keras.weights import save_float16_weights
    from brainscan.training.export_litert import export_classifier, export_segmenter

    root = tmp_path_factory.mktemp("resources")
    folder = root / "models"
    folder.mkdir()
    save_float16_weights(build_classifier("scratch", seed=5), folder / "classifier_vgg16.npz")
    _write_card(
        folder,
        CLASSIFIER_CARD,
        "classifier_vgg16.npz",
        name="test classifier",
        labels=list(CLASS_NAMES),
        input_shape=[128, 128, 3],
        calibration={"temperature": 1.7},
        inference={"input_smoothing_sigma": 0.8},
    )
    segmenter = build_segmenter(SEG_SIZE, base=SEG_BASE)
    rng = np.random.default_rng(1)
    for variable in segmenter.weights:  # trained-looking batch-norm statistics, so folding them matters
        shape = tuple(variable.shape)
        if "moving_variance" in variable.path:
            variable.assign(rng.uniform(0.2, 3.0, shape).astype(np.float32))
        elif "moving_mean" in variable.path or "beta" in variable.path:
            variable.assign(rng.normal(0, 0.3, shape).astype(np.float32))
        elif "gamma" in variable.path:
            variable.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
    save_float16_weights(segmenter, folder / "segmenter_unet.npz")
    _write_card(
        folder,
        SEGMENTER_CARD,
        "segmenter_unet.npz",
        name="test segmenter",
        labels=["tumour"],
        input_shape=[SEG_SIZE, SEG_SIZE, 1],
        base_filters=SEG_BASE,
    )
    export_classifier(folder / CLASSIFIER_CARD)
    export_segmenter(folder / SEGMENTER_CARD)
    return root


@pytest.fixture(scope="module")
def keras_models(resources):
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.keras.segmenter import KerasSegmenter

    folder = resources / "models"
    return KerasClassifier.from_spec(read_spec(folder / CLASSIFIER_CARD)), KerasSegmenter.from_spec(
        read_spec(folder / SEGMENTER_CARD)
    )


def _slices() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    blob = rng.integers(0, 4000, (220, 180)).astype(np.uint16)
    blob[60:130, 50:110] += 3000
    colour = rng.integers(0, 255, (90, 120, 3)).astype(np.uint8)
    yy, xx = np.mgrid[0:300, 0:300]
    disc = (np.hypot(yy - 140, xx - 170) < 40) * 900.0 + rng.normal(300, 30, (300, 300))
    return [blob, colour, disc.astype(np.float32), rng.random((128, 128), dtype=np.float32)]


# --- conversion and equivalence -----------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.needs_tf
def test_export_records_both_sha256s_and_the_measured_bounds(resources):
    from brainscan.runtime.integrity import sha256_of

    folder = resources / "models"
    for card_name in (CLASSIFIER_CARD, SEGMENTER_CARD):
        spec = read_spec(folder / card_name)
        entry = spec.card["litert"]
        assert entry["sha256"] == sha256_of(folder / entry["file"]) != spec.sha256
        assert entry["source_sha256"] == spec.sha256
        assert 0 <= entry["max_abs_diff_vs_keras"] <= PROB_BOUND
        assert entry["converted_with"].startswith("tensorflow ")
        assert entry["bytes"] == (folder / entry["file"]).stat().st_size < 40 * 2**20
        assert json.loads((folder / card_name).read_text())["litert"] == entry  # in the card, committed with it
    clf = read_spec(folder / CLASSIFIER_CARD).card["litert"]
    assert clf["weights_storage"] == "float16" and clf["batch"] == "dynamic"
    assert clf["head_sha256"] == sha256_of(folder / clf["head_file"])
    assert 0 <= clf["max_abs_diff_gradcam_vs_keras"] <= CAM_BOUND
    print("measured:", {k: clf[k] for k in ("max_abs_diff_vs_keras", "max_abs_diff_gradcam_vs_keras", "bytes")})


@pytest.mark.slow
@pytest.mark.needs_tf
def test_litert_classifier_matches_keras(resources, keras_models):
    from brainscan.runtime.litert_classifier import LiteRTClassifier

    keras_clf, _ = keras_models
    lite = LiteRTClassifier.from_spec(read_spec(resources / "models" / CLASSIFIER_CARD))
    assert lite.temperature == keras_clf.temperature == 1.7
    assert lite.input_smoothing == keras_clf.input_smoothing == 0.8  # both runtimes read smoothed inputs
    slices = _slices()
    got, expected = lite.predict(slices, batch_size=3), keras_clf.predict(slices)
    assert got.shape == (len(slices), 4)
    assert np.max(np.abs(got - expected)) <= PROB_BOUND
    for pixels in slices[:3]:
        for k in (None, 0, 3):
            cam, reference = lite.explain(pixels, k), keras_clf.explain(pixels, k)
            assert cam.shape == reference.shape == np.asarray(pixels).shape[:2] and cam.dtype == np.float32
            assert np.max(np.abs(cam - reference)) <= CAM_BOUND


@pytest.mark.slow
@pytest.mark.needs_tf
def test_litert_segmenter_matches_keras(resources, keras_models):
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter

    _, keras_seg = keras_models
    lite = LiteRTSegmenter.from_spec(read_spec(resources / "models" / SEGMENTER_CARD))
    slices = _slices()
    got, expected = lite.predict(slices, batch_size=3), keras_seg.predict(slices)
    for a, b, source in zip(got, expected, slices, strict=True):
        assert a.shape == b.shape == np.asarray(source).shape[:2]
        assert np.max(np.abs(a - b)) <= PROB_BOUND


@pytest.mark.slow
@pytest.mark.needs_tf
def test_fixed_batch_of_one_gives_the_same_maps(keras_models):
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter
    from brainscan.training.litert_convert import convert_segmenter, segmenter_inputs

    _, keras_seg = keras_models
    conversion = convert_segmenter(keras_seg.model, batch_size=1)
    runner = LiteRTRunner(content=conversion.content)
    assert runner.fixed_batch == 1
    batch = segmenter_inputs(SEG_SIZE, n_random=2)
    maps, features = LiteRTSegmenter(runner).raw_maps_and_features(batch)
    keras_maps, keras_features = keras_seg.raw_maps_and_features(batch)
    assert np.max(np.abs(maps - keras_maps)) <= PROB_BOUND
    assert np.max(np.abs(features - keras_features)) <= PROB_BOUND * max(1.0, float(np.abs(keras_features).max()))


@pytest.mark.slow
@pytest.mark.needs_tf
def test_float16_segmenter_is_refused_when_folded_batch_norm_drifts(keras_models):
    from brainscan.training.litert_convert import convert_segmenter

    _, keras_seg = keras_models
    with pytest.raises(ModelError, match="differs from Keras"):
        convert_segmenter(keras_seg.model, float16=True, bound=1e-9)


@pytest.mark.slow
@pytest.mark.needs_tf
def test_max_pool_gradient_routing_matches_tensorflow():
    import keras
    import tensorflow as tf

    a = np.random.default_rng(4).integers(0, 3, (8, 8, 16)).astype(np.float32)  # many ties, many zeros
    x = tf.constant(a[None])
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled = keras.layers.MaxPooling2D(2)(x)
        score = tf.reduce_sum(pooled * np.arange(1, pooled.shape[-1] + 1, dtype=np.float32))
    expected = tape.gradient(score, x).numpy()[0]
    _, argmax = max_pool_2x2(a)
    routed = np.zeros((4, 4, 4, 16))
    np.put_along_axis(routed, argmax[:, :, None, :], np.arange(1, 17, dtype=np.float64)[None, None, None], axis=2)
    got = routed.reshape(4, 4, 2, 2, 16).transpose(0, 2, 1, 3, 4).reshape(8, 8, 16)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.slow
@pytest.mark.needs_tf
def test_resize_bilinear_matches_tensorflow():
    import tensorflow as tf

    cam = np.random.default_rng(3).random((8, 8), dtype=np.float32)
    expected = tf.image.resize(cam[..., None], (128, 128), method="bilinear")[..., 0].numpy()
    assert np.max(np.abs(resize_bilinear(cam, 128) - expected)) < 1e-6


# --- integrity ----------------------------------------------------------------------------------------------


def _copy_models(resources: Path, tmp_path: Path) -> Path:
    target = tmp_path / "resources"
    shutil.copytree(resources, target)
    return target / "models"


def _edit_card(path: Path, **litert_changes) -> None:
    """Change (or with drop=True delete) the card's LiteRT entry."""
    card = json.loads(path.read_text())
    if litert_changes.pop("drop", False):
        del card["litert"]
    else:
        card["litert"].update(litert_changes)
    path.write_text(json.dumps(card, indent=2))


@pytest.mark.slow
@pytest.mark.needs_tf
def test_damaged_or_unlisted_litert_files_raise_model_error(resources, tmp_path):
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter

    folder = _copy_models(resources, tmp_path)
    tflite = folder / "segmenter_unet.tflite"
    data = bytearray(tflite.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tflite.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        LiteRTSegmenter.from_spec(read_spec(folder / SEGMENTER_CARD))

    card = folder / CLASSIFIER_CARD
    (folder / "classifier_vgg16_head.npz").write_bytes(b"not the head")
    with pytest.raises(ModelError, match="checksum"):
        LiteRTClassifier.from_spec(read_spec(card))
    _edit_card(card, source_sha256="0" * 64)
    with pytest.raises(ModelError, match="other weights"):
        LiteRTClassifier.from_spec(read_spec(card))
    _edit_card(card, drop=True)
    with pytest.raises(ModelError, match="export litert"):
        LiteRTClassifier.from_spec(read_spec(card))
    (folder / "segmenter_unet.tflite").unlink()
    with pytest.raises(ModelError, match="missing"):
        LiteRTSegmenter.from_spec(read_spec(folder / SEGMENTER_CARD))
    card = json.loads((folder / SEGMENTER_CARD).read_text())
    (folder / SEGMENTER_CARD).write_text(json.dumps({**card, "litert": "segmenter_unet.tflite"}))
    with pytest.raises(ModelError, match="names no LiteRT model"):
        LiteRTSegmenter.from_spec(read_spec(folder / SEGMENTER_CARD))


@pytest.mark.slow
@pytest.mark.needs_tf
def test_export_leaves_current_models_alone_and_converts_stale_ones(resources, tmp_path):
    """Re-running the export never rewrites committed files that still match (their bytes would change);
    a card without a current LiteRT model is converted; --force converts anyway."""
    import argparse

    from brainscan.runtime.litert_runtime import litert_problem
    from brainscan.training.export_litert import export

    folder = _copy_models(resources, tmp_path)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    summary = export(argparse.Namespace(models_dir=folder, only=None, force=False))
    assert set(summary) == {"classifier", "segmenter"} and all("unchanged" in v for v in summary.values())
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before

    _edit_card(folder / SEGMENTER_CARD, drop=True)
    (folder / "segmenter_unet.litert.json").write_text("{}")  # a legacy sidecar (before issue 18) is removed
    assert "names no LiteRT model" in litert_problem(read_spec(folder / SEGMENTER_CARD))
    summary = export(argparse.Namespace(models_dir=folder, only="segmenter", force=False))
    assert (
        list(summary) == ["segmenter"]
        and summary["segmenter"]["source_sha256"] == read_spec(folder / SEGMENTER_CARD).sha256
    )
    assert litert_problem(read_spec(folder / SEGMENTER_CARD)) is None
    assert not (folder / "segmenter_unet.litert.json").exists()
    assert (folder / CLASSIFIER_CARD).read_bytes() == before[CLASSIFIER_CARD]

    summary = export(argparse.Namespace(models_dir=folder, only="segmenter", force=True))
    assert summary["segmenter"]["sha256"] == read_spec(folder / SEGMENTER_CARD).card["litert"]["sha256"]


# --- no TensorFlow at run time ------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.needs_tf
def test_litert_runtime_never_imports_tensorflow(resources):
    code = (
        "import sys\n"
        "import numpy as np\n"
        "from brainscan.runtime.loading import load_shipped_models\n"
        "models = load_shipped_models()\n"
        "assert models.runtime == 'litert' and models.segmenter_runtime == 'litert', models\n"
        "rng = np.random.default_rng(0)\n"
        "slices = [rng.integers(0, 4000, (200, 170)).astype(np.uint16) for _ in range(3)]\n"
        "probs = models.classifier.predict(slices)\n"
        "cam = models.classifier.explain(slices[0])\n"
        "maps = models.segmenter.predict(slices)\n"
        "assert probs.shape == (3, 4) and cam.shape == (200, 170) and maps[0].shape == (200, 170)\n"
        "bad = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "print(type(models.classifier).__name__, type(models.segmenter).__name__, bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    env = {**os.environ, "BRAINSCAN_RESOURCES": str(resources), "BRAINSCAN_RUNTIME": "auto"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LiteRTClassifier LiteRTSegmenter []" in result.stdout


# --- runtime choice -----------------------------------------------------------------------------------------


def test_unknown_runtime_is_refused(monkeypatch):
    from brainscan.runtime.loading import requested_runtime

    monkeypatch.setenv("BRAINSCAN_RUNTIME", "onnx")
    with pytest.raises(ModelError, match="BRAINSCAN_RUNTIME"):
        requested_runtime()
    assert requested_runtime("Keras") == "keras"
    monkeypatch.setenv("BRAINSCAN_RUNTIME", "litert")
    assert requested_runtime() == "litert"
    monkeypatch.delenv("BRAINSCAN_RUNTIME")
    assert requested_runtime() == "auto"


@pytest.mark.slow
@pytest.mark.needs_tf
def test_runtime_selection(resources, tmp_path, monkeypatch):
    from brainscan.runtime import loading
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.keras.segmenter import KerasSegmenter
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter

    monkeypatch.delenv("BRAINSCAN_RUNTIME", raising=False)
    folder = _copy_models(resources, tmp_path)
    monkeypatch.setenv("BRAINSCAN_RESOURCES", str(folder.parent))

    models = loading.load_shipped_models()
    assert models.runtime == models.segmenter_runtime == "litert"
    assert isinstance(models.classifier, LiteRTClassifier) and isinstance(models.segmenter, LiteRTSegmenter)

    monkeypatch.setenv("BRAINSCAN_RUNTIME", "keras")
    models = loading.load_shipped_models()
    assert models.runtime == "keras" and isinstance(models.classifier, KerasClassifier)
    assert isinstance(models.segmenter, KerasSegmenter)
    assert loading.load_shipped_models("litert").runtime == "litert"  # the argument wins over the variable

    monkeypatch.setenv("BRAINSCAN_RUNTIME", "auto")
    available = loading.litert_available
    monkeypatch.setattr(loading, "litert_available", lambda: False)  # e.g. no wheel for this platform
    assert loading.load_shipped_models().runtime == "keras"
    monkeypatch.setattr(loading, "litert_available", available)

    _edit_card(folder / SEGMENTER_CARD, drop=True)  # segmenter without LiteRT: auto -> Keras for it alone
    models = loading.load_shipped_models("auto")
    assert (models.runtime, models.segmenter_runtime) == ("litert", "keras")
    models = loading.load_shipped_models("litert")  # asked for LiteRT: no silent switch to Keras
    assert models.segmenter is None and "No tumour outlines" in models.warnings[0]

    (folder / "classifier_vgg16.tflite").unlink()  # .tflite gone: auto falls back, litert refuses
    assert loading.load_shipped_models("auto").runtime == "keras"
    with pytest.raises(ModelError, match="missing"):
        loading.load_shipped_models("litert")


# --- the shipped models (when `brainscan export litert` has been run) ---------------------------------------


QUANTISED_PROB_BOUND = 0.1
"""A sanity bound for quantised runtime models on the fixed test inputs (their real bound is the validation check
recorded in the card)."""


def _shipped_with_litert(card_name: str):
    card = models_dir() / card_name
    if not card.is_file():
        pytest.fail(f"{card} is missing: the model cards are committed with the code")
    spec = read_spec(card)
    if not spec.card.get("litert") or not (card.parent / spec.card["litert"]["file"]).is_file():
        pytest.skip(f"{card_name} has no LiteRT model yet (run `brainscan export litert`)")
    return spec


@pytest.mark.slow
@pytest.mark.needs_tf
def test_shipped_classifier_litert_matches_keras():
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.litert_classifier import LiteRTClassifier

    spec = _shipped_with_litert(CLASSIFIER_CARD)
    lite, reference = LiteRTClassifier.from_spec(spec), KerasClassifier.from_spec(spec)
    slices = _slices()
    entry = spec.card["litert"]
    variant = entry.get("variant", "float16")
    if variant in ("dynamic", "int8"):
        # a quantised model is bounded by its validation numbers, not by per-input equality with float Keras
        checked, bound = entry["validation_vs_float16"], entry["validation_bound"]
        for key in ("accuracy", "tumour_sensitivity"):
            assert abs(checked[variant][key] - checked["float16"][key]) <= bound
        got, expected = lite.predict(slices), reference.predict(slices)
        assert np.max(np.abs(got - expected)) <= QUANTISED_PROB_BOUND
        return
    assert np.max(np.abs(lite.predict(slices) - reference.predict(slices))) <= PROB_BOUND
    for pixels in slices[:2]:
        assert np.max(np.abs(lite.explain(pixels) - reference.explain(pixels))) <= CAM_BOUND


@pytest.mark.slow
@pytest.mark.needs_tf
def test_shipped_segmenter_litert_matches_keras():
    from brainscan.runtime.keras.segmenter import KerasSegmenter
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter

    spec = _shipped_with_litert(SEGMENTER_CARD)
    lite, reference = LiteRTSegmenter.from_spec(spec), KerasSegmenter.from_spec(spec)
    slices = _slices()
    for a, b in zip(lite.predict(slices), reference.predict(slices), strict=True):
        assert np.max(np.abs(a - b)) <= PROB_BOUND


@pytest.mark.slow
@pytest.mark.needs_tf
def test_litert_features_match_keras(resources, keras_models):
    """The applicability check reads the same dense_1 features on both runtimes, from the same forward pass."""
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.preprocess import preprocess_batch

    keras_clf, _ = keras_models
    lite = LiteRTClassifier.from_spec(read_spec(resources / "models" / CLASSIFIER_CARD))
    batch = preprocess_batch(_slices())
    (kp, kf), (lp, lf) = keras_clf.forward_with_features(batch), lite.forward_with_features(batch)
    assert kf.shape == lf.shape == (len(batch), 128) and (lf >= 0).all()
    assert np.max(np.abs(kp - lp)) <= PROB_BOUND
    assert np.max(np.abs(kf - lf)) <= 1e-3 * max(1.0, float(np.abs(kf).max()))
    assert np.allclose(kp, keras_clf.forward(batch), atol=1e-6)
