"""The shipped models as the app loads them (runtime "auto"), or a skip that says why they cannot run here."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from brainscan.config import models_dir
from brainscan.runtime.loading import choose_runtime, load_classifier, load_segmenter
from brainscan.runtime.spec import CLASSIFIER_CARD, ModelSpec, read_spec


def shipped_spec(card_name: str) -> ModelSpec:
    """The shipped card, or a skip when it is absent; also a skip when neither runtime can run it here."""
    card = models_dir() / card_name
    if not card.exists():
        pytest.skip(f"no {card_name} is shipped")
    spec = read_spec(card)
    if choose_runtime("auto", spec) == "keras" and find_spec("tensorflow") is None:
        pytest.skip(
            f"{card_name} names no LiteRT model yet (run `brainscan export litert`) and TensorFlow, the Keras "
            "fallback, is not installed (pip install -e '.[train]')"
        )
    return spec


def shipped_model(card_name: str):
    """The shipped classifier or segmenter on the runtime the app would pick."""
    spec = shipped_spec(card_name)
    load = load_classifier if card_name == CLASSIFIER_CARD else load_segmenter
    return load(spec, choose_runtime("auto", spec))
