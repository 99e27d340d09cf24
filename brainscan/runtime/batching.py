"""Slice batching shared by every runtime (Keras, LiteRT): raw slices in, calibrated outputs out.

A runtime class only supplies ``forward`` (classifier) or ``raw_maps`` and ``size`` (segmenter);
preprocessing, batching, calibration, mapping back to the source grid and error wording live here once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from brainscan.errors import InferenceError, ModelError
from brainscan.rules import DEFAULT_MASK_THRESHOLD
from brainscan.runtime.calibration import apply_temperature
from brainscan.runtime.preprocess import preprocess_batch, preprocess_gray, smooth_batch, square_to_source


class BatchedClassifier:
    """``predict`` over ``forward(batch)``; the model card sets ``temperature``, ``flip_average`` and
    ``input_smoothing``."""

    temperature: float = 1.0
    flip_average: bool = False
    input_smoothing: float = 0.0
    applicability: dict = {}
    feature_distance = None

    def _read_card(self, spec, temperature: float | None) -> None:
        """Temperature (unless given), mirror reading, input smoothing and the applicability check (feature
        distance sidecar, head coverage) from the model card; defaults without a card.

        Raises:
            ModelError: when the card names an applicability file that is missing or damaged.
        """
        from brainscan.runtime.familiarity import card_feature_distance

        self.temperature = temperature if temperature is not None else (spec.temperature if spec else 1.0)
        self.flip_average = spec.flip_average if spec else False
        self.input_smoothing = spec.input_smoothing if spec else 0.0
        self.applicability = dict((spec.card or {}).get("applicability", {})) if spec else {}
        self.feature_distance = card_feature_distance(spec)

    def forward_with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(uncalibrated softmax (n, 4), penultimate ``dense_1`` features (n, 128)) of one view of a batch."""
        raise NotImplementedError

    def raw_probabilities_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like ``raw_probabilities``, with the features averaged over the same views."""
        batch = self.model_input(batch)
        probs, features = self.forward_with_features(batch)
        probs, features = np.asarray(probs, np.float64), np.asarray(features, np.float64)
        if self.flip_average:
            mirror_probs, mirror_features = self.forward_with_features(np.ascontiguousarray(batch[:, :, ::-1]))
            probs = (probs + np.asarray(mirror_probs, np.float64)) / 2.0
            features = (features + np.asarray(mirror_features, np.float64)) / 2.0
        return probs, features

    def predict_with_distance(self, slices: Sequence[np.ndarray], batch_size: int = 32):
        """(calibrated probabilities (n, 4), feature distances (n,) or None without an applicability file).

        Raises:
            InferenceError: when the model fails on the input.
        """
        if self.feature_distance is None:
            return self.predict(slices, batch_size), None
        probs, distances = [], []
        try:
            for i in range(0, len(slices), batch_size):
                p, f = self.raw_probabilities_and_features(preprocess_batch(slices[i : i + batch_size]))
                probs.append(p)
                distances.append(self.feature_distance(f))
        except Exception as exc:  # noqa: BLE001 - any runtime failure is an analysis error for the user
            raise InferenceError(f"The classifier failed on these images ({type(exc).__name__}).") from exc
        if not probs:
            return np.zeros((0, 4)), np.zeros(0)
        return apply_temperature(np.concatenate(probs), self.temperature), np.concatenate(distances)

    def model_input(self, batch: np.ndarray) -> np.ndarray:
        """What the network reads for a preprocessed batch: ``smooth_batch`` at the card's sigma (or the batch
        itself). Grad-CAM uses it too, so a heat map explains the very input that was classified."""
        return smooth_batch(batch, self.input_smoothing)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Uncalibrated softmax of one view of an already preprocessed (n, 128, 128, 3) batch."""
        raise NotImplementedError

    def raw_probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Uncalibrated probabilities as the model card prescribes: the (``model_input``) slice alone, or
        (``flip_average``) the mean over the slice and its left-right mirror.

        Why the mirror: the model was trained with left-right flips, so both views are equally valid reads of
        the same slice and their mean is a cheaper ensemble (on validation it lifted accuracy by about 0.7-0.9
        points for twice the compute; numbers in the model card).
        """
        if len(batch) == 0:
            return np.zeros((0, 4), dtype=np.float64)
        batch = self.model_input(batch)
        single = np.asarray(self.forward(batch), dtype=np.float64)
        if not self.flip_average:
            return single
        mirrored = np.ascontiguousarray(batch[:, :, ::-1])
        return (single + np.asarray(self.forward(mirrored), dtype=np.float64)) / 2.0

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
        except Exception as exc:  # noqa: BLE001 - any runtime failure is an analysis error for the user
            raise InferenceError(f"The classifier failed on these images ({type(exc).__name__}).") from exc
        probs = np.concatenate(out) if out else np.zeros((0, 4))
        return apply_temperature(probs, self.temperature)


SEGMENTER_VIEWS = (1, 2, 8)
"""Views a segmenter card may ask for: the slice alone, plus its left-right mirror, or all 8 flips and turns."""


class BatchedSegmenter:
    """``predict`` over ``raw_maps(batch)`` at ``size`` x ``size``; ``views``, ``mask_threshold`` and the slice
    ``gate`` (brainscan.runtime.slice_gate) come from the model card."""

    size: int
    views: int = 1
    mask_threshold: float = DEFAULT_MASK_THRESHOLD
    gate = None

    def _read_card(self, spec) -> None:
        """Test-time views, the mask threshold and the slice gate from the card; one view, the default threshold
        and no gate without a card.

        Raises:
            ModelError: on views BrainScan does not read, or a gate file that is missing, damaged or unfit.
        """
        from brainscan.runtime.slice_gate import card_slice_gate

        self.views = spec.views if spec else 1
        self.mask_threshold = spec.mask_threshold if spec else DEFAULT_MASK_THRESHOLD
        if self.views not in SEGMENTER_VIEWS:
            raise ModelError(f"The segmenter card asks for {self.views} views; BrainScan reads 1, 2 or 8.")
        self.gate = card_slice_gate(spec)

    def raw_maps(self, batch: np.ndarray) -> np.ndarray:
        """One view's probability maps (n, size, size) for a preprocessed (n, size, size, 1) batch."""
        raise NotImplementedError

    def raw_maps_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """One view's maps (n, size, size) and the gate's network features (n, F); a runtime that has no
        features gives None (and cannot run a card with a gate)."""
        return self.raw_maps(batch), None

    def averaged_maps(self, batch: np.ndarray) -> np.ndarray:
        """Probability maps as the card prescribes (see ``averaged_maps_and_features``)."""
        return self.averaged_maps_and_features(batch)[0]

    def averaged_maps_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Probability maps as the card prescribes: the mean over ``views`` flipped/turned copies of the batch,
        each map turned back before averaging; with the network's gate features averaged over the same views.

        Why: the U-Net was trained with flips and 90-degree turns, so each view is an equally valid read; their
        mean smooths out view-specific misses (on validation, 8 views lifted mean Dice by about 0.015 at 8x
        the compute; numbers in the model card).
        """
        turns = (0,) if self.views <= 2 else (0, 1, 2, 3)
        mirrors = (False,) if self.views == 1 else (False, True)
        total, feature_total = np.zeros(batch.shape[:3], dtype=np.float64), None
        for k in turns:
            turned = np.rot90(batch, k, axes=(1, 2)) if k else batch
            for mirrored in mirrors:
                view = np.ascontiguousarray(turned[:, :, ::-1] if mirrored else turned)
                maps, features = self.raw_maps_and_features(view)
                maps = np.asarray(maps, dtype=np.float64)
                maps = maps[:, :, ::-1] if mirrored else maps
                total += np.rot90(maps, -k, axes=(1, 2)) if k else maps
                if features is not None:
                    features = np.asarray(features, np.float64)
                    feature_total = features if feature_total is None else feature_total + features
        n_views = len(turns) * len(mirrors)
        averaged = None if feature_total is None else feature_total / n_views
        return (total / n_views).astype(np.float32), averaged

    def gate_passed(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Averaged maps at the network's grid and, per slice, whether the gate lets it through (all True without
        a gate).

        Raises:
            ModelError: when the card has a gate but this runtime gives no gate features.
        """
        squares, features = self.averaged_maps_and_features(batch)
        if self.gate is None:
            return squares, np.ones(len(squares), dtype=bool)
        if features is None:
            raise ModelError("The segmenter's runtime file has no gate features; run `brainscan export litert`.")
        return squares, self.gate.logits(features, squares, self.mask_threshold) >= self.gate.threshold

    def predict_with_gate(
        self, slices: Sequence[np.ndarray], batch_size: int = 16
    ) -> tuple[list[np.ndarray], list[bool]]:
        """Ungated tumour probability maps on each slice's own grid, and whether the gate passed each slice.

        Why both: the series model was fitted on ungated outlines (they are its evidence); what is shown and
        measured is gated.

        Raises:
            InferenceError: when the model fails on the input.
            ModelError: when the card has a gate this runtime cannot feed.
        """
        maps: list[np.ndarray] = []
        passed: list[bool] = []
        try:
            for start in range(0, len(slices), batch_size):
                chunk = slices[start : start + batch_size]
                batch = np.stack([preprocess_gray(s, self.size) for s in chunk])[..., None]
                squares, kept = self.gate_passed(batch)
                for source, square in zip(chunk, squares, strict=True):
                    maps.append(square_to_source(square, np.asarray(source).shape[:2]))
                passed.extend(bool(k) for k in kept)
        except ModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - any runtime failure is an analysis error for the user
            raise InferenceError(f"The segmenter failed on these images ({type(exc).__name__}).") from exc
        return maps, passed

    def predict(self, slices: Sequence[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
        """Tumour probability per pixel, resized back onto each slice's own grid; all zero where the gate says
        the slice holds no tumour.

        Raises:
            InferenceError: when the model fails on the input.
        """
        maps, passed = self.predict_with_gate(slices, batch_size)
        return [m if ok else np.zeros_like(m) for m, ok in zip(maps, passed, strict=True)]
