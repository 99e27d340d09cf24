"""Load the shipped models once, verified, for the app and `brainscan analyze`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from brainscan.errors import ModelError
from brainscan.models.protocols import Classifier, Segmenter

log = logging.getLogger(__name__)


@dataclass
class LoadedModels:
    """The models an analysis runs with. ``segmenter`` may be None: then no outlines, only the verdict."""

    classifier: Classifier
    segmenter: Segmenter | None
    warnings: tuple[str, ...] = ()


def load_shipped_models() -> LoadedModels:
    """Verify and load the classifier and (when installed) the segmenter from resources/models.

    Raises:
        ModelError: when the classifier is missing or damaged (nothing can be analysed without it).
    """
    from brainscan.models.keras_classifier import KerasClassifier
    from brainscan.models.spec import shipped_classifier_spec, shipped_segmenter_spec

    classifier = KerasClassifier.from_spec(shipped_classifier_spec())
    log.info("classifier loaded: %s", classifier.spec.file if classifier.spec else "?")
    try:
        from brainscan.models.keras_segmenter import KerasSegmenter

        segmenter = KerasSegmenter.from_spec(shipped_segmenter_spec())
    except ModelError as exc:
        log.warning("segmenter not available: %s", exc)
        return LoadedModels(classifier, None, (f"No tumour outlines: {exc}",))
    return LoadedModels(classifier, segmenter)
