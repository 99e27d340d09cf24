"""Model specs: what a shipped model file is, read from its model card (JSON beside the weights)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from brainscan.errors import ModelError
from brainscan.rules import DEFAULT_MASK_THRESHOLD
from brainscan.types import ModelInfo

CLASSIFIER_CARD = "classifier_vgg16.json"
SEGMENTER_CARD = "segmenter_unet.json"


@dataclass(frozen=True)
class ModelSpec:
    """A model file plus the facts needed to load and describe it."""

    name: str
    version: str
    file: Path
    sha256: str
    input_shape: tuple[int, ...]
    labels: tuple[str, ...]
    preprocessing: str
    temperature: float = 1.0
    flip_average: bool = False
    input_smoothing: float = 0.0
    tumour_threshold: float | None = None
    views: int = 1
    mask_threshold: float = DEFAULT_MASK_THRESHOLD
    card: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def sha256_prefix(self) -> str:
        return self.sha256[:12]

    def info(self) -> ModelInfo:
        """The facts a result, report or history row keeps about this model."""
        return ModelInfo(self.name, self.version, self.sha256, dict(self.card.get("validation", {})))


def read_spec(card_path: Path) -> ModelSpec:
    """Read a model card JSON into a ModelSpec (the weights file is named relative to the card).

    The card's ``"litert"`` entry, when present, names the committed runtime model (.tflite) and its SHA-256
    (written by `brainscan export litert`; checked in ``brainscan.runtime.litert_runtime``).

    Raises:
        ModelError: when the card is missing or malformed.
    """
    try:
        card = json.loads(Path(card_path).read_text())
        return ModelSpec(
            name=card["name"],
            version=card["version"],
            file=Path(card_path).parent / card["file"],
            sha256=card["sha256"],
            input_shape=tuple(card["input_shape"]),
            labels=tuple(card["labels"]),
            preprocessing=card["preprocessing"],
            temperature=float(card.get("calibration", {}).get("temperature", 1.0)),
            flip_average=bool(card.get("inference", {}).get("left_right_flip_average", False)),
            input_smoothing=float(card.get("inference", {}).get("input_smoothing_sigma", 0.0)),
            tumour_threshold=_optional_float(card.get("decision", {}).get("tumour_threshold")),
            views=int(card.get("inference", {}).get("views", 1)),
            mask_threshold=float(card.get("postprocessing", {}).get("threshold", DEFAULT_MASK_THRESHOLD)),
            card=card,
        )
    except FileNotFoundError as exc:
        raise ModelError(f"The model card {Path(card_path).name} is missing; no trained model is installed.") from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"The model card {Path(card_path).name} is damaged ({exc}).") from exc


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


def shipped_classifier_spec() -> ModelSpec:
    from brainscan.config import models_dir

    return read_spec(models_dir() / CLASSIFIER_CARD)


def shipped_segmenter_spec() -> ModelSpec:
    from brainscan.config import models_dir

    return read_spec(models_dir() / SEGMENTER_CARD)
