"""`brainscan export litert`: convert the shipped Keras models to LiteRT and record them in their cards.

For each shipped card in the models folder (the segmenter is optional), this loads the SHA-verified Keras
weights, converts them (``brainscan.models.litert_convert``), verifies the LiteRT outputs against Keras, and
only then writes ``<name>.tflite`` beside the card and its ``"litert"`` entry to ``<name>.litert.json`` (read
back into the card by ``read_spec``), so a model carries both SHA-256s (Keras weights and LiteRT model) while
the committed card never changes. The classifier also gets ``classifier_vgg16_head.npz``, the
head weights its numpy Grad-CAM needs. Needs TensorFlow; the app then runs without it.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from brainscan.errors import ModelError
from brainscan.models.integrity import sha256_of
from brainscan.models.spec import CLASSIFIER_CARD, SEGMENTER_CARD, litert_sidecar, read_spec

CLASSIFIER_TFLITE = "classifier_vgg16.tflite"
CLASSIFIER_HEAD = "classifier_vgg16_head.npz"
SEGMENTER_TFLITE = "segmenter_unet.tflite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import models_dir

    parser.add_argument("--models-dir", type=Path, default=models_dir(), help="folder with the model cards")


def export(args: argparse.Namespace) -> dict:
    """Convert both shipped models; returns the new ``"litert"`` entries (segmenter None when not shipped).

    Raises:
        ModelError: when the classifier card is missing, a weights file fails its SHA-256 check, or a
            conversion does not match Keras within the bounds (nothing is written for that model).
    """
    folder: Path = args.models_dir
    summary = {"classifier": export_classifier(folder / CLASSIFIER_CARD)}
    segmenter_card = folder / SEGMENTER_CARD
    summary["segmenter"] = export_segmenter(segmenter_card) if segmenter_card.is_file() else None
    return summary


def export_classifier(card_path: Path) -> dict:
    from brainscan.models.keras_classifier import KerasClassifier
    from brainscan.models.litert_classifier import LiteRTClassifier
    from brainscan.models.litert_convert import convert_classifier, head_weights, verify_gradcam
    from brainscan.models.litert_runtime import LiteRTRunner

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
    from brainscan.models.keras_segmenter import KerasSegmenter
    from brainscan.models.litert_convert import convert_segmenter

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
    """Write the LiteRT entry to the card's sidecar (the committed card itself is left as it is)."""
    try:
        _write_atomic(litert_sidecar(card_path), (json.dumps(entry, indent=2) + "\n").encode())
    except OSError as exc:
        raise ModelError(f"The LiteRT entry for {card_path.name} could not be written ({exc}).") from exc
