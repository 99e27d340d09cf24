"""`brainscan export litert`: convert the shipped Keras models to LiteRT and record them in their cards.

For each shipped card in the models folder (the segmenter is optional), this loads the SHA-verified Keras
weights, converts them (``brainscan.training.litert_convert``), verifies the LiteRT outputs against Keras, and
only then writes ``<name>.tflite`` beside the card and the card's ``"litert"`` entry (file, SHA-256, the SHA-256
of the weights it was converted from, the measured differences). The classifier also gets
``classifier_vgg16_head.npz``, the head weights its numpy Grad-CAM needs. The .tflite files are committed with
their cards, so an install runs on them without TensorFlow; run this (it needs the [train] extra) whenever the
weights change, then commit the card and the files its entry names. A model whose committed LiteRT files are
current (present, SHA-256 as in the card, converted from the card's weights) is left alone unless ``--force``,
so re-running never rewrites files whose bytes would only differ by the converter's run.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from brainscan.errors import ModelError
from brainscan.runtime.integrity import sha256_of
from brainscan.runtime.spec import CLASSIFIER_CARD, SEGMENTER_CARD, read_spec

CLASSIFIER_TFLITE = "classifier_vgg16.tflite"
CLASSIFIER_HEAD = "classifier_vgg16_head.npz"
SEGMENTER_TFLITE = "segmenter_unet.tflite"
MODELS = ("classifier", "segmenter")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import models_dir

    parser.add_argument("--models-dir", type=Path, default=models_dir(), help="folder with the model cards")
    parser.add_argument(
        "--only",
        choices=MODELS,
        help="convert this model only (default: the classifier and, when shipped, the segmenter)",
    )
    parser.add_argument("--force", action="store_true", help="convert even when the committed LiteRT model is current")


def export(args: argparse.Namespace) -> dict:
    """Convert the shipped models whose LiteRT model is missing or stale (every one with ``--force``).

    Returns each model's new ``"litert"`` entry, ``{"unchanged": reason}`` when it was current, or None for a
    segmenter that is not shipped.

    Raises:
        ModelError: when the classifier card is missing, a weights file fails its SHA-256 check, or a
            conversion does not match Keras within the bounds (nothing is written for that model).
    """
    folder: Path = args.models_dir
    only = getattr(args, "only", None)
    force = bool(getattr(args, "force", False))
    summary: dict = {}
    if only in (None, "classifier"):
        summary["classifier"] = _export_if_needed(folder / CLASSIFIER_CARD, export_classifier, force)
    if only in (None, "segmenter"):
        card = folder / SEGMENTER_CARD
        if only == "segmenter" or card.is_file():
            summary["segmenter"] = _export_if_needed(card, export_segmenter, force)
        else:
            summary["segmenter"] = None
    return summary


def _export_if_needed(card_path: Path, convert, force: bool) -> dict:
    from brainscan.runtime.litert_runtime import litert_problem

    if not force and litert_problem(read_spec(card_path)) is None:
        return {"unchanged": "the committed LiteRT model matches the card (use --force to convert again)"}
    return convert(card_path)


def export_classifier(card_path: Path) -> dict:
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.training.litert_convert import convert_classifier, head_weights, verify_gradcam

    spec = read_spec(card_path)
    keras_model = KerasClassifier.from_spec(spec).model
    conversion = convert_classifier(keras_model)
    head = head_weights(keras_model)
    gradcam_diff = verify_gradcam(keras_model, LiteRTClassifier(LiteRTRunner(content=conversion.content), head))
    folder = card_path.parent
    _write_atomic(folder / CLASSIFIER_TFLITE, conversion.content)
    head_path = folder / CLASSIFIER_HEAD
    tmp = head_path.with_name(head_path.name + ".tmp")
    with open(tmp, "wb") as handle:
        np.savez(handle, **head)
    os.replace(tmp, head_path)
    entry = {
        "file": CLASSIFIER_TFLITE,
        "sha256": sha256_of(folder / CLASSIFIER_TFLITE),
        "head_file": CLASSIFIER_HEAD,
        "head_sha256": sha256_of(head_path),
        "source_sha256": spec.sha256,
        **conversion.card_fields(),
        "max_abs_diff_gradcam_vs_keras": gradcam_diff,
        "gradcam": "numpy gradient of the class logit through block5_pool, Flatten, Dense(relu), Dense; "
        "head weights from head_file (float32)",
    }
    _add_entry(card_path, entry)
    return entry


def export_segmenter(card_path: Path) -> dict:
    from brainscan.runtime.keras.segmenter import KerasSegmenter
    from brainscan.training.litert_convert import convert_segmenter

    spec = read_spec(card_path)
    conversion = convert_segmenter(KerasSegmenter.from_spec(spec).model)
    folder = card_path.parent
    _write_atomic(folder / SEGMENTER_TFLITE, conversion.content)
    entry = {
        "file": SEGMENTER_TFLITE,
        "sha256": sha256_of(folder / SEGMENTER_TFLITE),
        "source_sha256": spec.sha256,
        **conversion.card_fields(),
    }
    _add_entry(card_path, entry)
    return entry


def _write_atomic(path: Path, content: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)


def _add_entry(card_path: Path, entry: dict) -> None:
    """Write the LiteRT entry into the card (its other fields, their order and formatting left as they were)."""
    try:
        text = card_path.read_text()
        card = json.loads(text)
        card["litert"] = entry
        ending = "\n" if text.endswith("\n") else ""
        _write_atomic(card_path, (json.dumps(card, indent=2) + ending).encode())
        legacy = card_path.with_name(card_path.stem + ".litert.json")  # where entries lived before issue 18
        if legacy.is_file():
            legacy.unlink()
    except (OSError, ValueError) as exc:
        raise ModelError(f"The LiteRT entry for {card_path.name} could not be written ({exc}).") from exc
