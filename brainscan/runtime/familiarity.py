"""How far a slice lies from the images the classifier learned from (feature-space distance).

Why: a softmax classifier is confident on images it has never seen the like of (a CT, a photo, a sequence it
never learned), so its probability cannot say "I don't know". The distance of the penultimate-layer features
(``dense_1``, 128 ReLU units) to the nearest class mean, measured with the class-shared covariance of the
training features (Mahalanobis; Lee et al., NeurIPS 2018), can. The means, the precision matrix and the
largest distance still taken as familiar come from the training slices (``brainscan export classifier``) and
live in a small SHA-verified sidecar named by the card's ``applicability`` entry.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainscan.errors import ModelError
from brainscan.runtime.integrity import verify_sha256


class FeatureDistance:
    """Mahalanobis distance of feature rows to the nearest of ``means`` under ``precision``."""

    def __init__(self, means: np.ndarray, precision: np.ndarray):
        self.means = np.asarray(means, dtype=np.float64)
        self.precision = np.asarray(precision, dtype=np.float64)
        if self.means.ndim != 2 or self.precision.shape != (self.means.shape[1],) * 2:
            raise ModelError("The classifier's applicability file holds arrays of the wrong shape.")

    @classmethod
    def from_file(cls, path: Path, sha256: str | None) -> FeatureDistance:
        """Verify and read the sidecar (arrays ``means`` and ``precision``).

        Raises:
            ModelError: when the file is missing, damaged or unreadable.
        """
        if sha256:
            verify_sha256(path, sha256)
        try:
            with np.load(path) as data:
                return cls(data["means"], data["precision"])
        except (KeyError, OSError, ValueError) as exc:
            raise ModelError(f"The classifier's applicability file {Path(path).name} is unreadable ({exc}).") from exc

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Distance (n,) of each feature row (n, d) to its nearest class mean."""
        f = np.asarray(features, dtype=np.float64)
        diff = f[:, None, :] - self.means[None, :, :]
        squared = np.einsum("nkd,de,nke->nk", diff, self.precision, diff)
        return np.sqrt(np.maximum(squared.min(axis=1), 0.0))


def fit_feature_distance(features: np.ndarray, labels: np.ndarray, shrinkage: float = 1e-3) -> FeatureDistance:
    """Class means and the shared (pooled within-class) covariance of training features; the covariance is
    shrunk towards its mean variance by ``shrinkage`` so that it stays invertible."""
    f = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    classes = sorted(set(labels.tolist()))
    means = np.stack([f[labels == c].mean(axis=0) for c in classes])
    centred = f - means[np.searchsorted(classes, labels)]
    cov = centred.T @ centred / max(1, len(f) - len(classes))
    cov += shrinkage * (np.trace(cov) / len(cov) + 1e-12) * np.eye(len(cov))
    return FeatureDistance(means, np.linalg.inv(cov))


def card_feature_distance(spec) -> FeatureDistance | None:
    """The sidecar a classifier card's ``applicability`` entry names (None when the card has none).

    Raises:
        ModelError: when the card names a file that is missing or damaged.
    """
    entry = (spec.card or {}).get("applicability", {}) if spec is not None else {}
    if not entry.get("file"):
        return None
    return FeatureDistance.from_file(spec.file.parent / entry["file"], entry.get("sha256"))
