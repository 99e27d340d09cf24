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
#: Segmenter storage variants the export writes (brainscan.training.litert_variants; float16 drifts: see
#: litert_convert). The classifier stays float16: its Grad-CAM reads the activations an int8 model would round.
SEGMENTER_VARIANTS = ("float32", "int8")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import models_dir

    parser.add_argument("--models-dir", type=Path, default=models_dir(), help="folder with the model cards")
    parser.add_argument(
        "--only",
        choices=MODELS,
        help="convert this model only (default: the classifier and, when shipped, the segmenter)",
    )
    parser.add_argument("--force", action="store_true", help="convert even when the committed LiteRT model is current")
    parser.add_argument(
        "--variant",
        choices=SEGMENTER_VARIANTS,
        help="the segmenter's storage (default: what its card's entry records, else float32); int8 is calibrated on "
        "training slices of the shared data and written only if its validation Dice stays within 0.005 of float32 "
        "(check the series verdicts with `brainscan bench runtimes` before committing it)",
    )


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
        variant = getattr(args, "variant", None)
        if only == "segmenter" or card.is_file():
            summary["segmenter"] = _export_if_needed(card, lambda path: export_segmenter(path, variant), force, variant)
        else:
            summary["segmenter"] = None
    return summary


def _export_if_needed(card_path: Path, convert, force: bool, variant: str | None = None) -> dict:
    from brainscan.runtime.litert_runtime import litert_problem

    spec = read_spec(card_path)
    same_variant = variant is None or (spec.card.get("litert") or {}).get("variant", "float32") == variant
    if not force and same_variant and litert_problem(spec) is None:
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


def export_segmenter(card_path: Path, variant: str | None = None) -> dict:
    """Convert the segmenter in ``variant`` (default: the variant its card's entry records, else float32).

    Raises:
        ModelError: when float32 differs from Keras by more than the bound, or int8 lacks the shared data or loses
            more than 0.005 validation Dice against float32 (nothing is written then).
    """
    from brainscan.runtime.keras.segmenter import KerasSegmenter
    from brainscan.training.litert_convert import convert_segmenter

    spec = read_spec(card_path)
    variant = variant or (spec.card.get("litert") or {}).get("variant", "float32")
    model = KerasSegmenter.from_spec(spec).model
    if variant == "int8":
        content, fields = _int8_segmenter(card_path, spec, model)
    else:
        conversion = convert_segmenter(model)
        content, fields = conversion.content, conversion.card_fields()
    folder = card_path.parent
    _write_atomic(folder / SEGMENTER_TFLITE, content)
    entry = {
        "file": SEGMENTER_TFLITE,
        "sha256": sha256_of(folder / SEGMENTER_TFLITE),
        "source_sha256": spec.sha256,
        "variant": variant,
        **fields,
    }
    _add_entry(card_path, entry)
    return entry


def _int8_segmenter(card_path: Path, spec, model) -> tuple[bytes, dict]:
    """Full-integer segmenter calibrated on training slices, kept only if its validation Dice holds."""
    from brainscan.config import data_dir
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter
    from brainscan.training.bench_runtimes import (
        CALIBRATION_SLICES,
        MAX_DICE_LOSS,
        _score_views,
        _segmentation_set,
        _segmenter_calibration,
    )
    from brainscan.training.litert_convert import MAX_FILE_BYTES, segmenter_inputs, to_tflite
    from brainscan.training.litert_variants import convert_variant

    data = data_dir()
    if not (data / "segmentation" / "labels.csv").is_file():
        raise ModelError(
            f"An int8 segmenter needs the shared data ({data}; set BRAINSCAN_DATA) for its calibration slices and "
            "its Dice check; nothing was written."
        )
    where = argparse.Namespace(data=data, models_dir=card_path.parent, limit=0, calibration=CALIBRATION_SLICES)
    size = int(spec.input_shape[0])
    calibration = _segmenter_calibration(where, spec, size)
    content = convert_variant(model, "int8", calibration)
    if len(content) > MAX_FILE_BYTES:
        raise ModelError(f"The int8 segmenter is {len(content) / 2**20:.1f} MB, over the cap.")
    validation = _segmentation_set(where, spec)
    views = [spec.views]
    scores = {}
    for name, tflite in (("float32", to_tflite(model, float16=False)), ("int8", content)):
        scores[name] = _score_views(LiteRTSegmenter(LiteRTRunner(content=tflite), spec), validation, views)
    dice = {name: score[str(spec.views)]["dice_mean_at_card_threshold"] for name, score in scores.items()}
    if dice["float32"] - dice["int8"] > MAX_DICE_LOSS:
        raise ModelError(
            f"The int8 segmenter loses {dice['float32'] - dice['int8']:.4f} validation Dice against float32 "
            f"(bound {MAX_DICE_LOSS}); not written."
        )
    inputs = segmenter_inputs(size)
    keras_maps = np.asarray(model(inputs, training=False))
    diff = float(np.max(np.abs(LiteRTRunner(content=content).run(inputs)[0] - keras_maps)))
    import tensorflow as tf

    return content, {
        "bytes": len(content),
        "weights_storage": "int8 weights and activations (float32 input and output)",
        "batch": "dynamic",
        "calibration": f"{len(calibration)} training slices of the segmentation set (seed 0, none from the "
        "validation list), in the orientations the test-time views show",
        "validation_dice_vs_float32": {
            "float32": dice["float32"],
            "int8": dice["int8"],
            "bound": MAX_DICE_LOSS,
            "views": spec.views,
            "threshold": spec.mask_threshold,
            "tumour_free_outlined_fraction": {
                n: s[str(spec.views)].get("tumour_free_outlined_fraction") for n, s in scores.items()
            },
        },
        "max_abs_diff_vs_keras": diff,
        "max_abs_diff_note": "informative: int8 rounds every activation; the Dice check above is the bound",
        "converted_with": f"tensorflow {tf.__version__}",
    }


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
