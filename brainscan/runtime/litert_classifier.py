"""The shipped classifier run by LiteRT (no TensorFlow): slices in, calibrated probabilities out.

The .tflite model (written by ``brainscan export litert``) has two outputs: block5_conv3 activations
(n, 8, 8, 512) and the softmax probabilities (n, 4). Grad-CAM differentiates the classifier head in numpy from
those activations, with the head weights from a small SHA-verified sidecar (``head_file`` in the card).
Same preprocessing, temperature and outputs as ``KerasClassifier``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from brainscan.errors import InferenceError, ModelError
from brainscan.runtime.batching import BatchedClassifier
from brainscan.runtime.gradcam import HEAD_KEYS, grad_cam_from_activations, max_pool_2x2
from brainscan.runtime.litert_runtime import LiteRTRunner, litert_entry, verified_file
from brainscan.runtime.preprocess import preprocess_slice
from brainscan.runtime.spec import ModelSpec


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


def dense_features(conv: np.ndarray, head: Mapping[str, np.ndarray]) -> np.ndarray:
    """``dense_1`` (ReLU) outputs (n, 128) from block5_conv3 activations (n, 8, 8, 512): pool, flatten, dense."""
    pooled = np.stack([max_pool_2x2(np.asarray(a, dtype=np.float64))[0].reshape(-1) for a in conv])
    return np.maximum(pooled @ np.asarray(head["dense_1_kernel"], np.float64) + head["dense_1_bias"], 0.0)


def _input_key(row: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(row, dtype=np.float32).tobytes(), digest_size=16).digest()


class LiteRTClassifier(BatchedClassifier):
    """VGG16 classifier on the LiteRT interpreter, with temperature scaling and numpy Grad-CAM.

    The block5_conv3 activations of the most recent ``ACTIVATION_CACHE`` slices are kept (keyed by a hash
    of the preprocessed input), so the Grad-CAM of a slice that was just classified costs no second forward
    pass.
    """

    ACTIVATION_CACHE = 128  # 128 x (8 x 8 x 512 float32) = 16 MiB: a batch of 32 and its mirror, twice

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
        self._read_card(spec, temperature)
        self._activations: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()

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
        conv, probs = out[self._conv_at], out[self._probs_at]
        for row, row_conv, row_probs in zip(batch, conv, probs, strict=True):
            self._remember(_input_key(row), row_conv, row_probs)
        return conv, probs

    def _remember(self, key: bytes, conv: np.ndarray, probs: np.ndarray) -> None:
        self._activations[key] = (np.array(conv), np.array(probs))
        self._activations.move_to_end(key)
        while len(self._activations) > self.ACTIVATION_CACHE:
            self._activations.popitem(last=False)

    def _outputs_for_one(self, row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(activations, probabilities) for one preprocessed slice, from the cache when it was just classified."""
        cached = self._activations.get(_input_key(row))
        if cached is not None:
            return cached
        conv, probs = self.outputs(row[None])
        return conv[0], probs[0]

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Uncalibrated softmax for an already preprocessed (n, 128, 128, 3) batch, one view."""
        return np.asarray(self.outputs(batch)[1], dtype=np.float64)

    def forward_with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uncalibrated softmax, ``dense_1`` features) from one forward pass: the features are the head's first
        layer applied in numpy to the block5_conv3 activations the model outputs anyway."""
        if self.head is None:
            raise InferenceError("The feature check needs the classifier head weights, which this model lacks.")
        conv, probs = self.outputs(batch)
        return np.asarray(probs, dtype=np.float64), dense_features(conv, self.head)

    def explain(self, pixels: np.ndarray, class_index: int | None = None) -> np.ndarray:
        """Grad-CAM for ``class_index`` (the predicted class when None) on the slice's own grid.

        Raises:
            InferenceError: when the heat map cannot be computed (for example without head weights).
        """
        if self.head is None:
            raise InferenceError("The heat map needs the classifier head weights, which this model lacks.")
        try:
            conv, probs = self._outputs_for_one(self.model_input(preprocess_slice(pixels)[None])[0])
            index = int(np.argmax(probs)) if class_index is None else int(class_index)
            return grad_cam_from_activations(conv, self.head, np.asarray(pixels).shape, index)
        except Exception as exc:  # noqa: BLE001
            raise InferenceError(f"The heat map could not be computed ({type(exc).__name__}).") from exc
