"""Convert the Keras classifier and segmenter to LiteRT (.tflite) and prove the conversion changed nothing.

Needs TensorFlow (the converter); the app only needs ``ai_edge_litert`` to run the result.

- Classifier: one model with two outputs, block5_conv3 activations (n, 8, 8, 512) and the softmax (n, 4),
  so Grad-CAM runs without TensorFlow (``brainscan.runtime.gradcam.grad_cam_from_activations``). Weights are
  stored as float16 (``Optimize.DEFAULT`` + ``supported_types=[float16]``; ~30 MB instead of ~60 MB) and
  dequantised to float32 when the interpreter starts. The shipped Keras weights are float16 themselves
  (``brainscan.runtime.keras.weights``) and VGG16 has no batch normalisation, so the dequantised weights are the
  Keras weights, bit for bit.
- Segmenter: float32 storage. The converter folds each BatchNormalization into the convolution before it
  (kernel * gamma / sqrt(var + eps)); stored as float16 those folded kernels are rounded and the maps drift by
  ~3e-4, over the bound. In float32 the U-Net (base 16) is ~8 MB.

Both keep a dynamic batch dimension (faster than a fixed batch of 1 for batches with the LiteRT interpreter on
CPU: see ``brainscan export litert`` in docs/training.md). ``verify_*`` runs the Keras model and the LiteRT
interpreter on the same fixed inputs (seeded noise plus structured images) and raises ModelError when the
largest absolute difference exceeds ``MAX_ABS_DIFF``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from brainscan.errors import ModelError
from brainscan.runtime.gradcam import HEAD_KEYS, TARGET_LAYER

#: Largest accepted |LiteRT - Keras| for probabilities and segmentation maps.
MAX_ABS_DIFF = 1e-4
#: Largest accepted |LiteRT - Keras| for a Grad-CAM heat map (values in [0, 1]).
MAX_GRADCAM_DIFF = 1e-3
#: Largest accepted .tflite file.
MAX_FILE_BYTES = 40 * 1024 * 1024
#: Batch dimension of converted models: None = dynamic (resized per batch); 1 = one slice per call.
BATCH_SIZE: int | None = None
VERIFY_SEED = 20240611


@dataclass(frozen=True)
class Conversion:
    """A converted model and the evidence that it matches Keras."""

    content: bytes
    max_abs_diff: float
    weights_storage: str
    batch_size: int | None
    n_verification_inputs: int
    extra: dict

    def card_fields(self) -> dict:
        """What the model card records about this conversion."""
        import tensorflow as tf

        return {
            "bytes": len(self.content),
            "weights_storage": self.weights_storage,
            "batch": "dynamic" if self.batch_size is None else self.batch_size,
            "max_abs_diff_vs_keras": float(self.max_abs_diff),
            "max_abs_diff_bound": MAX_ABS_DIFF,
            "verification_inputs": f"{self.n_verification_inputs} fixed inputs (seeded uniform noise "
            f"seed {VERIFY_SEED}, black, white, ramps, disc, checkerboard)",
            "converted_with": f"tensorflow {tf.__version__}",
            **self.extra,
        }


def verification_images(size: int, n_random: int = 6, seed: int = VERIFY_SEED) -> np.ndarray:
    """Fixed (n, size, size) float32 images in [0, 1]: seeded noise plus structured images."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centre = size / 2
    disc = np.exp(-((yy - centre * 0.8) ** 2 + (xx - centre * 1.1) ** 2) / (2 * (size / 6) ** 2))
    head = ((yy - centre) ** 2 / (0.45 * size) ** 2 + (xx - centre) ** 2 / (0.38 * size) ** 2 <= 1).astype(np.float32)
    phantom = np.clip(0.35 * head + 0.6 * disc * head + 0.05 * rng.random((size, size)), 0, 1)
    checker = (((yy // max(size // 8, 1)) + (xx // max(size // 8, 1))) % 2).astype(np.float32)
    structured = [
        np.zeros((size, size), np.float32),
        np.ones((size, size), np.float32),
        np.repeat(ramp[None, :], size, axis=0),
        np.repeat(ramp[:, None], size, axis=1),
        disc.astype(np.float32),
        phantom.astype(np.float32),
        checker,
    ]
    noise = list(rng.random((n_random, size, size), dtype=np.float32))
    return np.stack(noise + structured).astype(np.float32)


def classifier_inputs(n_random: int = 6) -> np.ndarray:
    """Verification batch for the classifier: grey images repeated on 3 channels, plus one colour noise image."""
    from brainscan.runtime.keras.vgg16 import INPUT_SHAPE

    grey = verification_images(INPUT_SHAPE[0], n_random)
    colour = np.random.default_rng(VERIFY_SEED + 1).random((1, *INPUT_SHAPE), dtype=np.float32)
    return np.concatenate([np.repeat(grey[..., None], 3, axis=-1), colour]).astype(np.float32)


def segmenter_inputs(size: int, n_random: int = 6) -> np.ndarray:
    return verification_images(size, n_random)[..., None]


def classifier_with_activations(model, batch_size: int | None = BATCH_SIZE):
    """The classifier as a functional model: slice -> [block5_conv3 activations, probabilities]."""
    import keras

    from brainscan.runtime.keras.vgg16 import INPUT_SHAPE

    vgg = model.get_layer("vgg16")
    features = keras.Model(vgg.input, [vgg.get_layer(TARGET_LAYER).output, vgg.output])
    inputs = keras.Input(INPUT_SHAPE, batch_size=batch_size, name="slice")
    conv, x = features(inputs)
    for layer in model.layers[model.layers.index(vgg) + 1 :]:
        x = layer(x)
    return keras.Model(inputs, [conv, x], name="brainscan_vgg16_litert")


def with_batch_size(model, batch_size: int | None):
    """``model`` behind an input layer of the given batch size (None keeps it dynamic)."""
    if batch_size is None:
        return model
    import keras

    inputs = keras.Input(tuple(model.inputs[0].shape[1:]), batch_size=batch_size, name="slice")
    return keras.Model(inputs, model(inputs), name=f"{model.name}_batch{batch_size}")


def to_tflite(model, float16: bool) -> bytes:
    """Run the TFLite converter on a Keras model; float16 stores the weights as half floats."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if float16:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    try:
        return converter.convert()
    except Exception as exc:  # noqa: BLE001 - the converter raises many types
        raise ModelError(f"The model could not be converted to LiteRT ({type(exc).__name__}: {exc}).") from exc


def _check_size(content: bytes, what: str) -> None:
    if len(content) > MAX_FILE_BYTES:
        raise ModelError(f"The LiteRT {what} is {len(content) / 2**20:.1f} MB, over the {MAX_FILE_BYTES >> 20} MB cap.")


def _keras_forward(model, batch: np.ndarray, step: int = 8) -> np.ndarray:
    return np.concatenate([np.asarray(model(batch[i : i + step], training=False)) for i in range(0, len(batch), step)])


def convert_classifier(model, batch_size: int | None = BATCH_SIZE, bound: float = MAX_ABS_DIFF) -> Conversion:
    """Convert the Keras classifier (two outputs, float16 weights) and verify its probabilities.

    Raises:
        ModelError: when conversion fails, the file is too large, or probabilities differ by more than ``bound``.
    """
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_runtime import LiteRTRunner

    content = to_tflite(classifier_with_activations(model, batch_size), float16=True)
    _check_size(content, "classifier")
    inputs = classifier_inputs()
    expected = _keras_forward(model, inputs)
    conv, probs = LiteRTClassifier(LiteRTRunner(content=content), None).outputs(inputs)
    diff = float(np.max(np.abs(probs - expected)))
    if not np.isfinite(diff) or diff > bound:
        raise ModelError(f"The LiteRT classifier differs from Keras by {diff:.3g} (bound {bound:g}); not written.")
    reference_conv = _keras_activations(model, inputs)
    scale = float(np.max(np.abs(reference_conv))) or 1.0
    conv_diff = float(np.max(np.abs(conv - reference_conv)))
    extra = {
        "outputs": [f"{TARGET_LAYER} activations (n, 8, 8, 512)", "probabilities (n, 4)"],
        "max_abs_diff_block5_conv3": conv_diff,
        "max_abs_block5_conv3": scale,
    }
    return Conversion(content, diff, "float16", batch_size, len(inputs), extra)


def _keras_activations(model, batch: np.ndarray) -> np.ndarray:
    import keras

    vgg = model.get_layer("vgg16")
    return _keras_forward(keras.Model(vgg.input, vgg.get_layer(TARGET_LAYER).output), batch)


def convert_segmenter(
    model, batch_size: int | None = BATCH_SIZE, float16: bool = False, bound: float = MAX_ABS_DIFF
) -> Conversion:
    """Convert the Keras U-Net (float32 weights unless ``float16``) with its slice-gate features as a second
    output (brainscan.runtime.keras.unet.with_gate_features), and verify both outputs against Keras.

    Raises:
        ModelError: when conversion fails, the file is too large, or maps differ by more than ``bound`` (features
            by more than ``bound`` times their largest magnitude).
    """
    from brainscan.runtime.keras.unet import with_gate_features
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter

    both = with_gate_features(model)
    content = to_tflite(with_batch_size(both, batch_size), float16=float16)
    _check_size(content, "segmenter")
    size = int(model.inputs[0].shape[1])
    inputs = segmenter_inputs(size)
    expected_maps, expected_features = _keras_forward_outputs(both, inputs)
    got_maps, got_features = LiteRTSegmenter(LiteRTRunner(content=content)).raw_maps_and_features(inputs)
    diff = float(np.max(np.abs(got_maps - expected_maps[..., 0])))
    if not np.isfinite(diff) or diff > bound:
        raise ModelError(f"The LiteRT segmenter differs from Keras by {diff:.3g} (bound {bound:g}); not written.")
    scale = max(float(np.max(np.abs(expected_features))), 1.0)
    feature_diff = float(np.max(np.abs(got_features - expected_features)))
    if not np.isfinite(feature_diff) or feature_diff > bound * scale:
        raise ModelError(
            f"The LiteRT segmenter's gate features differ from Keras by {feature_diff:.3g} (bound {bound * scale:.3g});"
            " not written."
        )
    extra = {
        "outputs": ["tumour probability (n, size, size, 1)", f"slice gate features (n, {expected_features.shape[1]})"],
        "max_abs_diff_gate_features": feature_diff,
        "max_abs_gate_features": scale,
    }
    return Conversion(content, diff, "float16" if float16 else "float32", batch_size, len(inputs), extra)


def _keras_forward_outputs(model, batch: np.ndarray, step: int = 8) -> list[np.ndarray]:
    """Each output of a multi-output Keras model over ``batch``, in steps."""
    parts = [[np.asarray(o) for o in model(batch[i : i + step], training=False)] for i in range(0, len(batch), step)]
    return [np.concatenate(column) for column in zip(*parts, strict=True)]


def head_weights(model) -> dict[str, np.ndarray]:
    """The classifier head (Dense(128, relu) and Dense(4, softmax)) weights under ``HEAD_KEYS``, float32."""
    dense_1, probabilities = model.get_layer("dense_1"), model.get_layer("probabilities")
    arrays = [*dense_1.get_weights(), *probabilities.get_weights()]
    return {k: np.asarray(a, dtype=np.float32) for k, a in zip(HEAD_KEYS, arrays, strict=True)}


def gradcam_slices() -> list[np.ndarray]:
    """Raw slices (various grids and types) on which Grad-CAM is compared."""
    rng = np.random.default_rng(VERIFY_SEED + 2)
    blob = rng.integers(0, 4000, (200, 150)).astype(np.float32)
    blob[50:120, 40:100] += 3000
    phantom = (verification_images(256, n_random=0)[5] * 255).astype(np.uint8)
    wide = rng.random((96, 160), dtype=np.float32)
    return [blob, phantom, wide]


def verify_gradcam(model, classifier, bound: float = MAX_GRADCAM_DIFF) -> float:
    """Largest |LiteRT explain - Keras grad_cam| over ``gradcam_slices()`` and every class.

    Raises:
        ModelError: when it exceeds ``bound``.
    """
    from brainscan.runtime.keras.gradcam import grad_cam

    worst = 0.0
    for pixels in gradcam_slices():
        for k in range(4):
            diff = float(np.max(np.abs(classifier.explain(pixels, k) - grad_cam(model, pixels, k))))
            worst = max(worst, diff)
    if not np.isfinite(worst) or worst > bound:
        raise ModelError(f"The LiteRT Grad-CAM differs from Keras by {worst:.3g} (bound {bound:g}); not written.")
    return worst
