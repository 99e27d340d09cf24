"""The shipped models as the app loads them (runtime "auto"); a missing card fails (the cards are in git), a
missing runtime skips with the reason."""

from __future__ import annotations

from importlib.util import find_spec

import pytest

from brainscan.config import models_dir
from brainscan.runtime.loading import choose_runtime, load_classifier, load_segmenter
from brainscan.runtime.spec import CLASSIFIER_CARD, ModelSpec, read_spec


def shipped_spec(card_name: str) -> ModelSpec:
    """The shipped card; a failure when it is absent (cards are committed), a skip when neither runtime can run
    it here."""
    card = models_dir() / card_name
    if not card.exists():
        pytest.fail(f"{card} is missing: the model cards are committed with the code")
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
