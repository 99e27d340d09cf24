"""The series model: a small logistic model that weighs a volume's evidence into one P(tumour) (issue 31).

Its weights are a JSON file named by its model card (``series_model.json``), checked by SHA-256 before use like
every shipped model file. It was fitted across people by `brainscan evaluate folds --export`
(brainscan.training.series_folds) for one pair of slice models; the card names them, and the model is not used
with others (the evidence would mean something else). Depends on numpy only; the features themselves are
measured by brainscan.pipeline.evidence.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from brainscan.errors import ModelError
from brainscan.runtime.integrity import verify_sha256
from brainscan.types import ModelInfo

log = logging.getLogger(__name__)

SERIES_CARD = "series_model.json"


@dataclass(frozen=True)
class LogisticPart:
    """Standardised-feature logistic regression: P = sigmoid(((x - mean) / scale) . weights + bias)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def probability(self, values: dict[str, float]) -> float:
        """P from the evidence (feature name -> value).

        Raises:
            ModelError: when a feature the model needs is missing or not finite.
        """
        try:
            x = np.asarray([float(values[name]) for name in self.features], dtype=np.float64)
        except KeyError as exc:
            raise ModelError(f"The series model needs the evidence {exc}, which was not measured.") from exc
        if not np.all(np.isfinite(x)):
            raise ModelError("The series evidence holds values that are not numbers.")
        z = (x - self.mean) / self.scale
        return float(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))

    @classmethod
    def from_dict(cls, data: dict) -> LogisticPart:
        features = tuple(data["features"])
        arrays = [np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "weights")]
        if any(a.shape != (len(features),) for a in arrays) or np.any(arrays[1] <= 0):
            raise ValueError("weights do not match the feature list")
        return cls(features, arrays[0], arrays[1], arrays[2], float(data["bias"]))


@dataclass(frozen=True)
class SeriesModel:
    """Two logistic parts over the same evidence: ``tumour`` (tumour vs everything else) and ``abnormal``
    (a non-tumour abnormality such as multiple sclerosis vs a normal brain), with their thresholds."""

    name: str
    version: str
    sha256: str
    tumour: LogisticPart
    abnormal: LogisticPart | None
    tumour_threshold: float  # series P(tumour) at which the series is called tumour
    abnormal_threshold: float  # P(abnormal) at which a series not called tumour is "abnormal, not typical"
    min_slices: int  # volumes with fewer slices keep the slice rule
    slice_models: dict = field(default_factory=dict, compare=False, hash=False)  # {"classifier": v, "segmenter": v}
    card: dict = field(default_factory=dict, compare=False, hash=False)

    def probability(self, values: dict[str, float]) -> float:
        return self.tumour.probability(values)

    def abnormal_probability(self, values: dict[str, float]) -> float | None:
        return None if self.abnormal is None else self.abnormal.probability(values)

    def suits(self, classifier_version: str, segmenter_version: str | None) -> bool:
        """Whether it was fitted on the evidence of these slice models."""
        return self.slice_models.get("classifier") == classifier_version and (
            self.slice_models.get("segmenter") == segmenter_version
        )

    def info(self) -> ModelInfo:
        return ModelInfo(self.name, self.version, self.sha256, dict(self.card.get("validation", {})))


def read_series_model(card_path: Path) -> SeriesModel:
    """Read and verify a series model card and its weights.

    Raises:
        ModelError: when the card or the weights are missing, damaged or do not match the card's checksum.
    """
    card_path = Path(card_path)
    try:
        card = json.loads(card_path.read_text())
        weights_path = card_path.parent / card["file"]
        verify_sha256(weights_path, card["sha256"])
        fitted = json.loads(weights_path.read_text())
        decision = card["decision"]
        return SeriesModel(
            name=card["name"],
            version=card["version"],
            sha256=card["sha256"],
            tumour=LogisticPart.from_dict(fitted["tumour"]),
            abnormal=LogisticPart.from_dict(fitted["abnormal"]) if fitted.get("abnormal") else None,
            tumour_threshold=float(decision["tumour_threshold"]),
            abnormal_threshold=float(decision["abnormal_threshold"]),
            min_slices=int(decision.get("min_slices", 8)),
            slice_models=dict(card.get("slice_models", {})),
            card=card,
        )
    except FileNotFoundError as exc:
        raise ModelError(f"The series model ({card_path.name}) is missing.") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"The series model card {card_path.name} is damaged ({exc}).") from exc


def shipped_series_model() -> SeriesModel:
    from brainscan.config import models_dir

    return read_series_model(models_dir() / SERIES_CARD)
