"""The shipped segmenter run by LiteRT (no TensorFlow): slices in, probability maps on their own grid out.

Same preprocessing and outputs as ``KerasSegmenter``; the .tflite file comes from ``brainscan export litert``.
"""

from __future__ import annotations

import numpy as np

from brainscan.errors import ModelError
from brainscan.runtime.batching import BatchedSegmenter
from brainscan.runtime.litert_runtime import LiteRTRunner, litert_entry, verified_file
from brainscan.runtime.spec import ModelSpec


class LiteRTSegmenter(BatchedSegmenter):
    """U-Net segmenter on the LiteRT interpreter; ``predict`` returns maps at each slice's own resolution."""

    def __init__(self, runner: LiteRTRunner, spec: ModelSpec | None = None):
        shape, ranks = runner.input_shape, runner.output_ranks()
        if len(shape) != 3 or shape[0] != shape[1] or shape[2] != 1 or sorted(ranks) not in ([4], [2, 4]):
            raise ModelError(
                f"The LiteRT segmenter has an unexpected input {shape} or outputs of rank {ranks}; "
                "run `brainscan export litert`."
            )
        self._runner = runner
        self._maps_at = ranks.index(4)
        self._features_at = ranks.index(2) if 2 in ranks else None
        self.spec = spec
        self.size = int(shape[0])
        self._read_card(spec)

    @classmethod
    def from_spec(cls, spec: ModelSpec, num_threads: int | None = None) -> LiteRTSegmenter:
        """Verify the .tflite SHA-256 from the card's ``"litert"`` entry, then open it.

        Raises:
            ModelError: when the card has no LiteRT entry, the file is missing or damaged, or the runtime is absent.
        """
        entry = litert_entry(spec)
        path = verified_file(spec, entry["file"], entry["sha256"])
        segmenter = cls(LiteRTRunner(path, num_threads=num_threads), spec)
        if segmenter.size != int(spec.input_shape[0]):
            raise ModelError(f"The LiteRT segmenter takes {segmenter.size} px slices, its card says otherwise.")
        if segmenter.gate is not None and segmenter._features_at is None:
            raise ModelError(
                "The segmenter card has a slice gate but its LiteRT file gives no gate features; "
                "run `brainscan export litert --only segmenter`."
            )
        return segmenter

    def raw_maps(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps (n, size, size) for a preprocessed (n, size, size, 1) batch."""
        return self.raw_maps_and_features(batch)[0]

    def raw_maps_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Maps (n, size, size) and the slice gate's network features (n, F), or None from a file exported
        before the gate."""
        if len(batch) == 0:
            return np.zeros((0, self.size, self.size), np.float32), None
        outputs = self._runner.run(batch)
        maps = np.asarray(outputs[self._maps_at], dtype=np.float32)[..., 0]
        if self._features_at is None:
            return maps, None
        return maps, np.asarray(outputs[self._features_at], dtype=np.float64)
