"""The shipped segmenter as an object the pipeline can call: slices in, probability maps on their own grid."""

from __future__ import annotations

import numpy as np

from brainscan.errors import ModelError
from brainscan.runtime.batching import BatchedSegmenter
from brainscan.runtime.integrity import verify_sha256
from brainscan.runtime.keras.unet import SEGMENTER_SIZE
from brainscan.runtime.spec import ModelSpec


class KerasSegmenter(BatchedSegmenter):
    """U-Net segmenter; ``predict`` returns tumour probability maps at each slice's own resolution."""

    def __init__(self, model, spec: ModelSpec | None = None, size: int = SEGMENTER_SIZE):
        import tensorflow as tf

        from brainscan.runtime.keras.unet import with_gate_features

        self.model = model
        self.spec = spec
        self.size = size
        self._read_card(spec)
        self._forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        both = with_gate_features(model)
        self._forward_with_features = tf.function(lambda x: both(x, training=False), reduce_retracing=True)

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> KerasSegmenter:
        """Verify the SHA-256, build the U-Net described by the card, load float16 weights.

        Raises:
            ModelError: on a missing or mismatching file, or weights that do not fit.
        """
        verify_sha256(spec.file, spec.sha256)
        from brainscan.runtime.keras.unet import build_segmenter
        from brainscan.runtime.keras.weights import load_float16_weights

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

    def raw_maps_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Maps (n, size, size) and the slice gate's network features (n, F), with or without a gate in the card
        (`brainscan train segmenter-gate` fits one from them)."""
        if len(batch) == 0:
            return self.raw_maps(batch), np.zeros((0, 0))
        maps, features = self._forward_with_features(batch)
        return np.asarray(maps, dtype=np.float32)[..., 0], np.asarray(features, dtype=np.float64)
