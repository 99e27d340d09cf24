"""The shipped classifier run by LiteRT (no TensorFlow): slices in, calibrated probabilities out.

The .tflite model (written by ``brainscan export litert``) has two outputs: block5_conv3 activations
(n, 8, 8, 512) and the softmax probabilities (n, 4). Grad-CAM differentiates the classifier head in numpy from
those activations, with the head weights from a small SHA-verified sidecar (``head_file`` in the card).
Same preprocessing, temperature and outputs as ``KerasClassifier``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from brainscan.errors import InferenceError, ModelError
from brainscan.models.batching import BatchedClassifier
from brainscan.models.gradcam import HEAD_KEYS, grad_cam_from_activations
from brainscan.models.litert_runtime import LiteRTRunner, litert_entry, verified_file
from brainscan.models.preprocess import preprocess_slice
from brainscan.models.spec import ModelSpec


def load_head(path: Path) -> dict[str, np.ndarray]:
    """The classifier head weights (``HEAD_KEYS``) from an .npz sidecar, as float32.

    Raises:
        ModelError: when the file lacks a weight or cannot be read.
    """
    try:
        with np.load(path) as data:
            return {k: np.asarray(data[k], dtype=np.float32) for k in HEAD_KEYS}
    except (KeyError, OSError, ValueError) as exc:
        raise ModelError(f"The classifier head file {Path(path).name} is unreadable ({exc}).") from exc


class LiteRTClassifier(BatchedClassifier):
    """VGG16 classifier on the LiteRT interpreter, with temperature scaling and numpy Grad-CAM."""

    def __init__(
        self,
        runner: LiteRTRunner,
        head: Mapping[str, np.ndarray] | None,
        spec: ModelSpec | None = None,
        temperature: float | None = None,
    ):
        ranks = runner.output_ranks()
        if sorted(ranks) != [2, 4]:
            raise ModelError(
                "The LiteRT classifier must output block5_conv3 activations and probabilities "
                f"(found outputs of rank {ranks}); run `brainscan export litert` again."
            )
        self._runner = runner
        self._probs_at = ranks.index(2)
        self._conv_at = ranks.index(4)
        self.head = dict(head) if head is not None else None
        self.spec = spec
        self.temperature = temperature if temperature is not None else (spec.temperature if spec else 1.0)

    @classmethod
    def from_spec(cls, spec: ModelSpec, num_threads: int | None = None) -> LiteRTClassifier:
        """Verify the .tflite and head file SHA-256s from the card's ``"litert"`` entry, then open them.

        Raises:
            ModelError: when the card has no LiteRT entry, a file is missing or damaged, or the runtime is absent.
        """
        entry = litert_entry(spec)
        model_path = verified_file(spec, entry["file"], entry["sha256"])
        head = None
        if entry.get("head_file"):
            head = load_head(verified_file(spec, entry["head_file"], entry.get("head_sha256")))
        return cls(LiteRTRunner(model_path, num_threads=num_threads), head, spec)

    @property
    def num_threads(self) -> int:
        return self._runner.num_threads

    def outputs(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(block5_conv3 activations (n, 8, 8, 512), uncalibrated probabilities (n, 4)) for a preprocessed batch."""
        out = self._runner.run(batch)
        return out[self._conv_at], out[self._probs_at]

    def raw_probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Uncalibrated softmax for an already preprocessed (n, 128, 128, 3) batch."""
        if len(batch) == 0:
            return np.zeros((0, 4), dtype=np.float64)
        return np.asarray(self.outputs(batch)[1], dtype=np.float64)

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM for ``class_index`` (the predicted class when None) on the slice's own grid.

        Raises:
            InferenceError: when the heat map cannot be computed (for example without head weights).
        """
        if self.head is None:
            raise InferenceError("The heat map needs the classifier head weights, which this model lacks.")
        try:
            conv, probs = self.outputs(preprocess_slice(pixels)[None])
            index = int(np.argmax(probs[0])) if class_index is None else int(class_index)
            return grad_cam_from_activations(conv[0], self.head, np.asarray(pixels).shape, index)
        except Exception as exc:  # noqa: BLE001
            raise InferenceError(f"The heat map could not be computed ({type(exc).__name__}).") from exc
