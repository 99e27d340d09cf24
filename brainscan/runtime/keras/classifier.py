"""The shipped classifier as an object the pipeline can call: slices in, calibrated probabilities out."""

from __future__ import annotations

import numpy as np

from brainscan.errors import InferenceError, ModelError
from brainscan.runtime.batching import BatchedClassifier
from brainscan.runtime.integrity import verify_sha256
from brainscan.runtime.spec import ModelSpec


class KerasClassifier(BatchedClassifier):
    """VGG16 classifier with temperature scaling; batches go through a compiled tf.function."""

    def __init__(self, model, spec: ModelSpec | None = None, temperature: float | None = None):
        import tensorflow as tf

        self.model = model
        self.spec = spec
        self._read_card(spec, temperature)
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        self._with_features = None

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> KerasClassifier:
        """Verify the SHA-256, build the architecture, load the float16 weights.

        Raises:
            ModelError: on a missing or mismatching file, or weights that do not fit.
        """
        verify_sha256(spec.file, spec.sha256)
        from brainscan.runtime.keras.vgg16 import build_classifier
        from brainscan.runtime.keras.weights import load_float16_weights

        model = build_classifier("scratch")
        try:
            load_float16_weights(model, spec.file)
        except (ValueError, KeyError, OSError) as exc:
            raise ModelError(f"The model file {spec.file.name} does not fit the classifier ({exc}).") from exc
        return cls(model, spec)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Uncalibrated softmax for an already preprocessed (n, 128, 128, 3) batch, one view."""
        return np.asarray(self._forward(batch), dtype=np.float64)

    def forward_with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uncalibrated softmax, ``dense_1`` features) of one view, from one forward pass."""
        if self._with_features is None:
            self._with_features = self._feature_function()
        dense, probs = self._with_features(batch)
        return np.asarray(probs, dtype=np.float64), np.asarray(dense, dtype=np.float64)

    def _feature_function(self):
        """The model's layers re-applied to a new symbolic input, keeping ``dense_1``'s output as a second output
        (a Sequential model that was only ever called eagerly has no symbolic outputs of its own)."""
        import keras
        import tensorflow as tf

        inputs = keras.Input(shape=tuple(self.model.input_shape[1:]))
        x, dense = inputs, None
        for layer in self.model.layers:
            x = layer(x)
            if layer.name == "dense_1":
                dense = x
        both = keras.Model(inputs, [dense, x])
        return tf.function(lambda batch: both(batch, training=False), reduce_retracing=True)

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM for ``class_index`` (the predicted class when None) on the slice's own grid.

        Raises:
            InferenceError: when the gradient computation fails.
        """
        from brainscan.runtime.keras.gradcam import grad_cam

        try:
            return grad_cam(self.model, pixels, class_index, input_smoothing=self.input_smoothing)
        except Exception as exc:  # noqa: BLE001
            raise InferenceError(f"The heat map could not be computed ({type(exc).__name__}).") from exc
