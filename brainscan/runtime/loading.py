"""Load the shipped models once, verified, for the app and `brainscan analyze`.

Two runtimes run the same models with the same preprocessing, outputs and protocols:

- ``litert``: the .tflite files written by ``brainscan export litert`` on the LiteRT interpreter
  (``ai_edge_litert``); no TensorFlow, so loading takes well under a second. What the frozen app uses.
- ``keras``: the float16 .npz weights in Keras/TensorFlow (what training and evaluation use).

The runtime comes from the ``runtime`` argument, else the ``BRAINSCAN_RUNTIME`` environment variable, else
``auto``: LiteRT for a model whose card has a ``"litert"`` entry naming a file that exists, when
``ai_edge_litert`` imports; Keras otherwise. An explicit choice is never swapped for the other runtime.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from brainscan.errors import ModelError
from brainscan.runtime.protocols import Classifier, Segmenter
from brainscan.runtime.spec import ModelSpec

log = logging.getLogger(__name__)

RUNTIME_ENV = "BRAINSCAN_RUNTIME"
RUNTIMES = ("auto", "litert", "keras")


@dataclass
class LoadedModels:
    """The models an analysis runs with. ``segmenter`` may be None: then no outlines, only the verdict.

    ``runtime`` names what runs the classifier ("litert" or "keras"); ``segmenter_runtime`` the segmenter's.
    """

    classifier: Classifier
    segmenter: Segmenter | None
    warnings: tuple[str, ...] = ()
    runtime: str = "keras"
    segmenter_runtime: str | None = None


def requested_runtime(runtime: str | None = None) -> str:
    """The runtime asked for: the argument, else ``BRAINSCAN_RUNTIME``, else "auto".

    Raises:
        ModelError: for a value other than "auto", "litert" or "keras".
    """
    value = (runtime or os.environ.get(RUNTIME_ENV) or "auto").strip().lower()
    if value not in RUNTIMES:
        raise ModelError(f"Unknown model runtime {value!r} ({RUNTIME_ENV} must be one of {', '.join(RUNTIMES)}).")
    return value


def litert_available() -> bool:
    """Whether the LiteRT interpreter imports (it does not pull in TensorFlow)."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def has_litert_model(spec: ModelSpec) -> bool:
    """Whether the card has a ``"litert"`` entry whose .tflite file exists (its SHA-256 is checked on load)."""
    entry = spec.card.get("litert")
    return isinstance(entry, dict) and bool(entry.get("file")) and (spec.file.parent / entry["file"]).is_file()


def choose_runtime(requested: str, spec: ModelSpec) -> str:
    """Resolve "auto" for one model; "litert" and "keras" are returned as asked."""
    if requested != "auto":
        return requested
    return "litert" if has_litert_model(spec) and litert_available() else "keras"


def load_classifier(spec: ModelSpec, runtime: str) -> Classifier:
    """The classifier on the given runtime ("litert" or "keras"), SHA-verified.

    Raises:
        ModelError: when a file is missing or damaged, or the runtime is not installed.
    """
    if runtime == "litert":
        from brainscan.runtime.litert_classifier import LiteRTClassifier

        return LiteRTClassifier.from_spec(spec)
    try:
        from brainscan.runtime.keras.classifier import KerasClassifier

        return KerasClassifier.from_spec(spec)
    except ImportError as exc:
        raise ModelError(_no_tensorflow(spec)) from exc


def load_segmenter(spec: ModelSpec, runtime: str) -> Segmenter:
    """The segmenter on the given runtime ("litert" or "keras"), SHA-verified.

    Raises:
        ModelError: when a file is missing or damaged, or the runtime is not installed.
    """
    if runtime == "litert":
        from brainscan.runtime.litert_segmenter import LiteRTSegmenter

        return LiteRTSegmenter.from_spec(spec)
    try:
        from brainscan.runtime.keras.segmenter import KerasSegmenter

        return KerasSegmenter.from_spec(spec)
    except ImportError as exc:
        raise ModelError(_no_tensorflow(spec)) from exc


def _no_tensorflow(spec: ModelSpec) -> str:
    return (
        f"{spec.name} has no LiteRT model in its card, and its Keras fallback needs TensorFlow, which this "
        "installation lacks. Convert the model (`brainscan export litert`, needs the [train] extra) or install "
        "TensorFlow: pip install -e '.[train]'."
    )


def load_shipped_models(runtime: str | None = None) -> LoadedModels:
    """Verify and load the classifier and (when installed) the segmenter from resources/models.

    Args:
        runtime: "auto", "litert" or "keras"; None reads ``BRAINSCAN_RUNTIME`` (default "auto").

    Raises:
        ModelError: when the classifier is missing or damaged (nothing can be analysed without it), its
            runtime is not installed, or ``runtime`` is unknown.
    """
    from brainscan.runtime.spec import shipped_classifier_spec, shipped_segmenter_spec

    requested = requested_runtime(runtime)
    spec = shipped_classifier_spec()
    chosen = choose_runtime(requested, spec)
    classifier = load_classifier(spec, chosen)
    log.info("classifier loaded with the %s runtime (asked: %s): %s", chosen, requested, runtime_file(spec, chosen))
    try:
        segmenter_spec = shipped_segmenter_spec()
        segmenter_runtime = choose_runtime(requested, segmenter_spec)
        segmenter = load_segmenter(segmenter_spec, segmenter_runtime)
    except ModelError as exc:
        log.warning("segmenter not available: %s", exc)
        return LoadedModels(classifier, None, (f"No tumour outlines: {exc}",), runtime=chosen)
    log.info(
        "segmenter loaded with the %s runtime: %s", segmenter_runtime, runtime_file(segmenter_spec, segmenter_runtime)
    )
    warnings = attach_series_model(classifier, spec, segmenter_spec)
    return LoadedModels(classifier, segmenter, warnings, runtime=chosen, segmenter_runtime=segmenter_runtime)


def attach_series_model(classifier, classifier_spec: ModelSpec, segmenter_spec: ModelSpec) -> tuple[str, ...]:
    """Give the classifier the shipped series model (brainscan.runtime.series_model) when it was fitted for these
    two slice models; otherwise volumes keep the slice rule, with a warning saying why."""
    from brainscan.runtime.series_model import shipped_series_model

    try:
        model = shipped_series_model()
    except ModelError as exc:
        log.warning("series model not available: %s", exc)
        return (f"Volumes are judged by the slice rule only: {exc}",)
    if not model.suits(classifier_spec.version, segmenter_spec.version):
        return (
            "Volumes are judged by the slice rule only: the series model was fitted for other slice models "
            f"({model.slice_models}).",
        )
    classifier.series_model = model
    return ()


def runtime_file(spec: ModelSpec, runtime: str) -> str:
    """The model file a runtime actually reads (for logs)."""
    if runtime == "litert":
        return str(spec.card.get("litert", {}).get("file", "?"))
    return spec.file.name
