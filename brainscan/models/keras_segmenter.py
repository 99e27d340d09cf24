"""The shipped segmenter as an object the pipeline can call: slices in, probability maps on their own grid."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brainscan.errors import InferenceError, ModelError
from brainscan.models.integrity import verify_sha256
from brainscan.models.preprocess import preprocess_gray, square_to_source
from brainscan.models.segmenter import SEGMENTER_SIZE
from brainscan.models.spec import ModelSpec


class KerasSegmenter:
    """U-Net segmenter; ``predict`` returns tumour probability maps at each slice's own resolution."""

    def __init__(self, model, spec: ModelSpec | None = None, size: int = SEGMENTER_SIZE):
        import tensorflow as tf

        self.model = model
        self.spec = spec
        self.size = size
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> KerasSegmenter:
        """Verify the SHA-256, build the U-Net described by the card, load float16 weights.

        Raises:
            ModelError: on a missing or mismatching file, or weights that do not fit.
        """
        verify_sha256(spec.file, spec.sha256)
        from brainscan.models.segmenter import build_segmenter
        from brainscan.models.weights import load_float16_weights

        size = int(spec.input_shape[0])
        model = build_segmenter(size, base=int(spec.card.get("base_filters", 16)))
        try:
            load_float16_weights(model, spec.file)
        except (ValueError, KeyError, OSError) as exc:
            raise ModelError(f"The model file {spec.file.name} does not fit the segmenter ({exc}).") from exc
        return cls(model, spec, size)

    def raw_maps(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps (n, size, size) for a preprocessed (n, size, size, 1) batch."""
        if len(batch) == 0:
            return np.zeros((0, self.size, self.size), np.float32)
        return np.asarray(self._forward(batch), dtype=np.float32)[..., 0]

    def predict(self, slices: Sequence[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
        """Tumour probability per pixel, resized back onto each slice's own grid.

        Raises:
            InferenceError: when the model fails on the input.
        """
        maps: list[np.ndarray] = []
        try:
            for start in range(0, len(slices), batch_size):
                chunk = slices[start : start + batch_size]
                batch = np.stack([preprocess_gray(s, self.size) for s in chunk])[..., None]
                for source, square in zip(chunk, self.raw_maps(batch), strict=True):
                    maps.append(square_to_source(square, np.asarray(source).shape[:2]))
        except Exception as exc:  # noqa: BLE001 - any TF failure is an analysis error for the user
            raise InferenceError(f"The segmenter failed on these images ({type(exc).__name__}).") from exc
        return maps
