"""A thin, TensorFlow-free wrapper over the LiteRT interpreter shared by the LiteRT classifier and segmenter.

Only ``ai_edge_litert.interpreter`` is imported (lazily, when a model is opened): no TensorFlow, so a plain
install and the frozen app stay small and start fast. The .tflite files are committed beside their model cards;
``brainscan export litert`` (``brainscan.training.litert_convert``, needs TensorFlow) writes them when the weights
change and records each file's SHA-256 in its card's ``"litert"`` entry, which is checked before every load.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from brainscan.errors import ModelError
from brainscan.runtime.integrity import verify_sha256
from brainscan.runtime.native_notices import known_native_notices_quiet
from brainscan.runtime.spec import ModelSpec

#: Upper bound on interpreter threads; XNNPACK gains little past this for one slice at a time.
MAX_THREADS = 8


def default_threads() -> int:
    """Interpreter threads: ``BRAINSCAN_THREADS`` when set, else every core up to ``MAX_THREADS``."""
    env = os.environ.get("BRAINSCAN_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(os.cpu_count() or 1, MAX_THREADS))


def litert_entry(spec: ModelSpec) -> dict:
    """The card's ``"litert"`` entry, checked to belong to the weights the card describes.

    Raises:
        ModelError: when the card has no LiteRT entry, or the entry was converted from other weights.
    """
    entry = spec.card.get("litert")
    if not isinstance(entry, dict) or not entry.get("file") or not entry.get("sha256"):
        raise ModelError(
            f"The model card for {spec.name} names no LiteRT model; run `brainscan export litert` to create it."
        )
    source = entry.get("source_sha256")
    if source and source.lower() != spec.sha256.lower():
        raise ModelError(
            f"The LiteRT model {entry['file']} was converted from other weights than the ones the model card "
            f"describes; run `brainscan export litert` again."
        )
    return entry


def litert_problem(spec: ModelSpec) -> str | None:
    """Why the card's LiteRT model cannot run as it is (no entry, a file missing, a SHA-256 that differs, other
    weights), or None when it can. Reads files but opens no interpreter (builds and exports use it)."""
    try:
        entry = litert_entry(spec)
        verified_file(spec, entry["file"], entry["sha256"])
        if entry.get("head_file"):
            verified_file(spec, entry["head_file"], entry.get("head_sha256"))
    except ModelError as exc:
        return str(exc)
    return None


def verified_file(spec: ModelSpec, name: str, sha256: str | None) -> Path:
    """Path of a file named in the LiteRT entry, after checking its SHA-256.

    Raises:
        ModelError: when the file is missing, has no recorded SHA-256, or its SHA-256 differs.
    """
    if not sha256:
        raise ModelError(f"The model card for {spec.name} records no SHA-256 for {name}; export it again.")
    path = spec.file.parent / name
    verify_sha256(path, sha256)
    return path


class LiteRTRunner:
    """One LiteRT interpreter: numpy batch in, the model's outputs (as numpy arrays) out.

    Models with a dynamic batch dimension are resized to each batch; models with a fixed batch of 1 run the
    batch one item at a time. Calls are serialised with a lock (an interpreter is not thread-safe).
    """

    def __init__(self, path: Path | None = None, content: bytes | None = None, num_threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError("The LiteRT runtime (ai-edge-litert) is not installed.") from exc
        threads = num_threads or default_threads()
        try:
            with known_native_notices_quiet():  # the first allocation prints the XNNPACK notice
                if content is not None:
                    self._interpreter = Interpreter(model_content=content, num_threads=threads)
                else:
                    self._interpreter = Interpreter(model_path=str(path), num_threads=threads)
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            name = Path(path).name if path is not None else "in memory"
            raise ModelError(f"The LiteRT model {name} could not be opened ({exc}).") from exc
        self.num_threads = threads
        detail = self._interpreter.get_input_details()[0]
        self._input_index = detail["index"]
        signature = detail.get("shape_signature", detail["shape"])
        self.fixed_batch = int(signature[0]) if int(signature[0]) > 0 else None
        self.input_shape = tuple(int(d) for d in detail["shape"][1:])
        self._allocated = int(detail["shape"][0])
        self.output_details = self._interpreter.get_output_details()
        self._lock = threading.Lock()

    def output_ranks(self) -> list[int]:
        return [len(d["shape"]) for d in self.output_details]

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Outputs, in the interpreter's output order, for an (n, *input_shape) float32 batch (n >= 1)."""
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        with self._lock:
            if self.fixed_batch is not None:
                step = self.fixed_batch
                parts = [self._invoke(batch[i : i + step]) for i in range(0, len(batch), step)]
                return [np.concatenate([p[k] for p in parts]) for k in range(len(self.output_details))]
            return self._invoke(batch)

    def _invoke(self, batch: np.ndarray) -> list[np.ndarray]:
        interpreter = self._interpreter
        if self.fixed_batch is None and len(batch) != self._allocated:
            interpreter.resize_tensor_input(self._input_index, [len(batch), *self.input_shape], strict=True)
            interpreter.allocate_tensors()
            self._allocated = len(batch)
        elif self.fixed_batch is not None and len(batch) != self.fixed_batch:  # a short last chunk: pad it
            n = len(batch)
            padding = np.zeros((self.fixed_batch - n, *batch.shape[1:]), batch.dtype)
            return [o[:n] for o in self._invoke(np.concatenate([batch, padding]))]
        interpreter.set_tensor(self._input_index, batch)
        interpreter.invoke()
        return [interpreter.get_tensor(d["index"]) for d in self.output_details]
