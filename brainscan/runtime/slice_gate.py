"""The segmenter's slice gate: does this slice hold a tumour at all? If not, its map is emptied.

Why: the U-Net draws small confident blobs on most tumour-free slices (vessels, the vertex, the skull base), and a
pixel threshold cannot remove them without cutting real tumours. Whether a slice holds a tumour is a question
about the whole slice, which the network's pooled deep features answer far better than any one pixel. The gate
is a logistic regression on those features (global mean and max of three U-Net layers, averaged over the card's
views) plus four statistics of the averaged map; `brainscan train segmenter-gate` fits it on the segmenter's
training slices and writes it beside the card. No TensorFlow here: the features come from the runtime.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from brainscan.errors import ModelError
from brainscan.rules import MIN_OUTLINE_AREA_PX

FEATURE_LAYERS = ("bottleneck_relu2", "enc4_relu2", "dec4_relu2")
"""U-Net layers whose global mean and max (in this order, per layer) make the network's gate features."""

MAP_FEATURES = ("max probability", "mean of the 64 most probable pixels", "log(1 + outlined px)", "log(1 + largest px)")
"""Statistics of the averaged probability map (at the network's grid) appended to the network's features."""

TOP_PIXELS = 64
GATE_ARRAYS = ("mean", "scale", "weights", "bias")


def map_features(squares: np.ndarray, mask_threshold: float) -> np.ndarray:
    """(n, 4) ``MAP_FEATURES`` of (n, size, size) probability maps; outlined px count components of at least
    ``MIN_OUTLINE_AREA_PX`` (8-connected) at ``mask_threshold``, as the outline's clean-up keeps them."""
    rows = []
    for square in np.asarray(squares, np.float32):
        flat = np.sort(square.ravel())
        labels, count = ndimage.label(square >= mask_threshold, structure=np.ones((3, 3), bool))
        sizes = np.bincount(labels.ravel())[1:] if count else np.zeros(0, np.int64)
        sizes = sizes[sizes >= MIN_OUTLINE_AREA_PX]
        largest = int(sizes.max()) if len(sizes) else 0
        rows.append((flat[-1], flat[-TOP_PIXELS:].mean(), np.log1p(sizes.sum()), np.log1p(largest)))
    return np.asarray(rows, np.float64).reshape(-1, len(MAP_FEATURES))


@dataclass(frozen=True)
class SliceGate:
    """Standardise, weigh, sum: a logit per slice; slices under ``threshold`` (a logit) get an empty map."""

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    threshold: float
    views: int

    @classmethod
    def from_arrays(cls, arrays, threshold: float, views: int) -> SliceGate:
        """Raises ModelError when an array is missing or the shapes disagree."""
        try:
            mean, scale, weights = (np.asarray(arrays[k], np.float64).ravel() for k in GATE_ARRAYS[:3])
            bias = float(np.asarray(arrays["bias"]).ravel()[0])
        except (KeyError, IndexError, ValueError) as exc:
            raise ModelError(f"The segmenter's slice gate is damaged ({exc}).") from exc
        if not (len(mean) == len(scale) == len(weights)) or len(mean) <= len(MAP_FEATURES) or (scale <= 0).any():
            raise ModelError("The segmenter's slice gate is damaged (its arrays do not fit together).")
        return cls(mean, scale, weights, bias, float(threshold), int(views))

    @property
    def n_network_features(self) -> int:
        return len(self.mean) - len(MAP_FEATURES)

    def logits(self, features: np.ndarray, squares: np.ndarray, mask_threshold: float) -> np.ndarray:
        """Gate logit per slice from network features (n, F) and the averaged maps (n, size, size)."""
        features = np.asarray(features, np.float64)
        if features.ndim != 2 or features.shape[1] != self.n_network_features:
            raise ModelError(
                f"The segmenter gives {features.shape[-1]} gate features, its gate expects {self.n_network_features}; "
                "run `brainscan export litert` again."
            )
        x = np.concatenate([features, map_features(squares, mask_threshold)], axis=1)
        return ((x - self.mean) / self.scale) @ self.weights + self.bias

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.mean.astype(np.float32),
            "scale": self.scale.astype(np.float32),
            "weights": self.weights.astype(np.float32),
            "bias": np.asarray([self.bias], np.float32),
        }


def card_slice_gate(spec) -> SliceGate | None:
    """The gate the segmenter card names (``"slice_gate"``), SHA-256 verified, or None when it names none.

    Raises:
        ModelError: when the file is missing or damaged, or the gate was fitted for other views than the card's.
    """
    from brainscan.runtime.integrity import verify_sha256

    entry = (spec.card or {}).get("slice_gate") if spec is not None else None
    if not entry:
        return None
    try:
        path = spec.file.parent / entry["file"]
        verify_sha256(path, entry["sha256"])
        with np.load(path) as arrays:
            gate = SliceGate.from_arrays(arrays, entry["threshold_logit"], entry["views"])
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ModelError(f"The segmenter card's slice gate cannot be read ({exc}).") from exc
    if gate.views != spec.views:
        raise ModelError(
            f"The segmenter's slice gate was fitted for {gate.views} views, its card reads {spec.views}; "
            "run `brainscan train segmenter-gate` again."
        )
    return gate
