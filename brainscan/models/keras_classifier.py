"""The shipped classifier as an object the pipeline can call: slices in, calibrated probabilities out."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brainscan.errors import InferenceError, ModelError
from brainscan.models.calibration import apply_temperature
from brainscan.models.integrity import verify_sha256
from brainscan.models.preprocess import preprocess_batch
from brainscan.models.spec import ModelSpec


class KerasClassifier:
    """VGG16 classifier with temperature scaling; batches go through a compiled tf.function."""

    def __init__(self, model, spec: ModelSpec | None = None, temperature: float | None = None):
        import tensorflow as tf

        self.model = model
        self.spec = spec
        self.temperature = temperature if temperature is not None else (spec.temperature if spec else 1.0)
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> KerasClassifier:
        """Verify the SHA-256, build the architecture, load the float16 weights.

        Raises:
            ModelError: on a missing or mismatching file, or weights that do not fit.
        """
        verify_sha256(spec.file, spec.sha256)
        from brainscan.models.classifier import build_classifier
        from brainscan.models.weights import load_float16_weights

        model = build_classifier("scratch")
        try:
            load_float16_weights(model, spec.file)
        except (ValueError, KeyError, OSError) as exc:
            raise ModelError(f"The model file {spec.file.name} does not fit the classifier ({exc}).") from exc
        return cls(model, spec)

    def raw_probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Uncalibrated softmax for an already preprocessed (n, 128, 128, 3) batch."""
        if len(batch) == 0:
            return np.zeros((0, 4), dtype=np.float64)
        return np.asarray(self._forward(batch), dtype=np.float64)

    def predict(self, slices: Sequence[np.ndarray], batch_size: int = 32) -> np.ndarray:
        """Calibrated probabilities (n, 4) in CLASS_NAMES order for raw 2D slices.

        Raises:
            InferenceError: when the model fails on the input.
        """
        try:
            out = [
                self.raw_probabilities(preprocess_batch(slices[i : i + batch_size]))
                for i in range(0, len(slices), batch_size)
            ]
        except Exception as exc:  # noqa: BLE001 - report any TF failure as an analysis error
            raise InferenceError(f"The classifier failed on these images ({type(exc).__name__}).") from exc
        probs = np.concatenate(out) if out else np.zeros((0, 4))
        return apply_temperature(probs, self.temperature)

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM for ``class_index`` (the predicted class when None) on the slice's own grid.

        Raises:
            InferenceError: when the gradient computation fails.
        """
        from brainscan.models.gradcam import grad_cam

        try:
            return grad_cam(self.model, pixels, class_index)
        except Exception as exc:  # noqa: BLE001
            raise InferenceError(f"The heat map could not be computed ({type(exc).__name__}).") from exc
