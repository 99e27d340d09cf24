"""LiteRT variants of a Keras model: how the weights (and activations) are stored, chosen by measurement.

- ``float32``: weights and arithmetic in float32 (the reference; what the segmenter ships).
- ``float16``: weights stored as float16, dequantised to float32 when the interpreter starts: half the file,
  the same arithmetic (what the classifier ships).
- ``dynamic``: dynamic-range quantisation: int8 weights, activations quantised on the fly per batch.
- ``int8``: full-integer quantisation: int8 weights and activations, scales fixed from a calibration set of
  training slices (``calibration``, never validation slices); inputs and outputs stay float32, so the runtime
  classes and their preprocessing are unchanged.

Needs TensorFlow (the converter). Which variant may ship is decided by ``brainscan bench runtimes``
(``brainscan.training.bench_runtimes``), not here.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from brainscan.errors import ModelError

VARIANTS = ("float32", "float16", "dynamic", "int8")


def convert_variant(model, variant: str, calibration: np.ndarray | None = None) -> bytes:
    """The .tflite bytes of a Keras model in the given storage ``variant``.

    Args:
        model: the Keras model as it is converted (for the classifier, ``classifier_with_activations``).
        variant: one of ``VARIANTS``.
        calibration: (n, *input_shape) float32 model inputs for ``int8`` (ignored otherwise).

    Raises:
        ModelError: for an unknown variant, ``int8`` without calibration inputs, or a failed conversion.
    """
    import tensorflow as tf

    if variant not in VARIANTS:
        raise ModelError(f"Unknown LiteRT variant {variant!r} (one of {', '.join(VARIANTS)}).")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if variant == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if variant == "int8":
        if calibration is None or len(calibration) == 0:
            raise ModelError("Full-integer (int8) conversion needs calibration slices.")
        inputs = np.asarray(calibration, dtype=np.float32)

        def representative() -> Iterator[list[np.ndarray]]:
            for row in inputs:
                yield [row[None]]

        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        return converter.convert()
    except Exception as exc:  # noqa: BLE001 - the converter raises many types
        raise ModelError(f"The {variant} LiteRT conversion failed ({type(exc).__name__}: {exc}).") from exc
