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
#: Classifier storage variants: float16 (verified against Keras within 1e-4), or quantised (dynamic-range, int8)
#: kept only when validation accuracy and tumour sensitivity stay within 0.003 of float16.
CLASSIFIER_VARIANTS = ("float16", "dynamic", "int8")


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
        choices=sorted(set(SEGMENTER_VARIANTS) | set(CLASSIFIER_VARIANTS)),
        help="storage of the --only model (default: what its card's entry records, else float16 for the classifier "
        "and float32 for the segmenter). Quantised variants (classifier dynamic/int8, segmenter int8) need the "
        "shared data: int8 is calibrated on training slices, and a quantised model is written only if it keeps its "
        "validation numbers (classifier accuracy and tumour sensitivity within 0.003, segmenter Dice within 0.005); "
        "check the series verdicts with `brainscan bench runtimes` before committing it",
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
    variant = getattr(args, "variant", None)
    if variant and only is None:
        raise ModelError("--variant needs --only classifier or --only segmenter.")
    allowed = CLASSIFIER_VARIANTS if only == "classifier" else SEGMENTER_VARIANTS
    if variant and variant not in allowed:
        raise ModelError(f"The {only} is exported as {' or '.join(allowed)}, not {variant}.")
    if only in (None, "classifier"):
        summary["classifier"] = _export_if_needed(
            folder / CLASSIFIER_CARD, lambda path: export_classifier(path, variant), force, variant, "float16"
        )
    if only in (None, "segmenter"):
        card = folder / SEGMENTER_CARD
        if only == "segmenter" or card.is_file():
            summary["segmenter"] = _export_if_needed(card, lambda path: export_segmenter(path, variant), force, variant)
        else:
            summary["segmenter"] = None
    return summary


def _export_if_needed(
    card_path: Path, convert, force: bool, variant: str | None = None, default: str = "float32"
) -> dict:
    from brainscan.runtime.litert_runtime import litert_problem

    spec = read_spec(card_path)
    same_variant = variant is None or (spec.card.get("litert") or {}).get("variant", default) == variant
    if not force and same_variant and litert_problem(spec) is None:
        return {"unchanged": "the committed LiteRT model matches the card (use --force to convert again)"}
    return convert(card_path)


def export_classifier(card_path: Path, variant: str | None = None) -> dict:
    """Convert the classifier in ``variant`` (default: the variant its card's entry records, else float16).

    Raises:
        ModelError: when float16 differs from Keras by more than the bounds, or a quantised variant lacks the
            shared data or loses more than 0.003 validation accuracy or tumour sensitivity (nothing is written).
    """
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.training.litert_convert import convert_classifier, head_weights, verify_gradcam

    spec = read_spec(card_path)
    variant = variant or (spec.card.get("litert") or {}).get("variant", "float16")
    keras_classifier = KerasClassifier.from_spec(spec)
    keras_model = keras_classifier.model
    conversion = convert_classifier(keras_model)
    head = head_weights(keras_model)
    content, fields = conversion.content, conversion.card_fields()
    if variant == "float16":
        gradcam_diff = verify_gradcam(keras_model, LiteRTClassifier(LiteRTRunner(content=content), head))
    else:
        content, quantised = _quantised_classifier(card_path, spec, keras_classifier, head, conversion.content, variant)
        kept = ("batch", "converted_with", "outputs")  # the rest describes the float16 model's check against Keras
        fields = {**{k: v for k, v in fields.items() if k in kept}, **quantised}
        gradcam_diff = verify_gradcam(keras_model, LiteRTClassifier(LiteRTRunner(content=content), head), bound=1.0)
    folder = card_path.parent
    _write_atomic(folder / CLASSIFIER_TFLITE, content)
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
        "variant": variant,
        **fields,
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


def _quantised_classifier(card_path: Path, spec, keras_classifier, head, float16: bytes, variant: str):
    """A dynamic-range or int8 classifier, kept only if its validation numbers hold against float16."""
    from brainscan.config import data_dir
    from brainscan.rules import tumour_threshold_of
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.training.bench_runtimes import (
        CALIBRATION_SLICES,
        MAX_ACCURACY_LOSS,
        _classifier_calibration,
        classifier_scores,
        classifier_validation,
    )
    from brainscan.training.litert_convert import MAX_FILE_BYTES, classifier_with_activations
    from brainscan.training.litert_variants import convert_variant

    root = data_dir() / "classification" / "Training"
    if not root.is_dir():
        raise ModelError(
            f"A {variant} classifier needs the shared data ({root.parent.parent}; set BRAINSCAN_DATA) for its "
            "accuracy check; nothing was written."
        )
    listed, inputs, labels = classifier_validation(card_path.parent, spec, root, keras_classifier)
    calibration = None
    if variant == "int8":
        calibration = _classifier_calibration(root, set(listed), CALIBRATION_SLICES, keras_classifier)
    content = convert_variant(classifier_with_activations(keras_classifier.model), variant, calibration)
    if len(content) > MAX_FILE_BYTES:
        raise ModelError(f"The {variant} classifier is {len(content) / 2**20:.1f} MB, over the cap.")
    threshold = tumour_threshold_of(keras_classifier)
    reports = {
        name: classifier_scores(LiteRTClassifier(LiteRTRunner(content=tflite), head, spec), inputs, labels, threshold)[
            0
        ]
        for name, tflite in (("float16", float16), (variant, content))
    }
    losses = {k: reports["float16"][k] - reports[variant][k] for k in ("accuracy", "tumour_sensitivity")}
    if max(losses.values()) > MAX_ACCURACY_LOSS:
        raise ModelError(
            f"The {variant} classifier loses {losses['accuracy']:.4f} accuracy and {losses['tumour_sensitivity']:.4f} "
            f"tumour sensitivity on validation against float16 (bound {MAX_ACCURACY_LOSS}); not written."
        )
    return content, {
        "bytes": len(content),
        "weights_storage": {
            "dynamic": "int8 weights, float activations (dynamic-range)",
            "int8": "int8 weights and activations (float32 input and output)",
        }[variant],  # fmt: skip
        **(
            {"calibration": f"{len(calibration)} training inputs (half slices, half their mirrors; seed 0)"}
            if calibration is not None
            else {}
        ),  # fmt: skip
        "validation_vs_float16": {
            name: {k: report[k] for k in ("accuracy", "tumour_sensitivity", "tumour_specificity")}
            for name, report in reports.items()
        },
        "validation_bound": MAX_ACCURACY_LOSS,
        "max_abs_diff_vs_keras": _classifier_diff_vs_keras(keras_classifier.model, content),
        "max_abs_diff_note": "informative (probabilities on the fixed verification inputs): a quantised model is "
        "bounded by the validation check above",
    }


def _classifier_diff_vs_keras(model, content: bytes) -> float:
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.training.litert_convert import _keras_forward, classifier_inputs

    inputs = classifier_inputs()
    _, probs = LiteRTClassifier(LiteRTRunner(content=content), None).outputs(inputs)
    return float(np.max(np.abs(probs - _keras_forward(model, inputs))))


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
    from brainscan.runtime.keras.unet import with_gate_features

    content = convert_variant(with_gate_features(model), "int8", calibration)
    if len(content) > MAX_FILE_BYTES:
        raise ModelError(f"The int8 segmenter is {len(content) / 2**20:.1f} MB, over the cap.")
    validation = _segmentation_set(where, spec)
    views = [spec.views]
    scores = {}
    for name, tflite in (("float32", to_tflite(with_gate_features(model), float16=False)), ("int8", content)):
        scores[name] = _score_views(LiteRTSegmenter(LiteRTRunner(content=tflite), spec), validation, views)
    dice = {name: score[str(spec.views)]["dice_mean_at_card_threshold"] for name, score in scores.items()}
    if dice["float32"] - dice["int8"] > MAX_DICE_LOSS:
        raise ModelError(
            f"The int8 segmenter loses {dice['float32'] - dice['int8']:.4f} validation Dice against float32 "
            f"(bound {MAX_DICE_LOSS}); not written."
        )
    inputs = segmenter_inputs(size)
    keras_maps = np.asarray(model(inputs, training=False))
    diff = float(np.max(np.abs(LiteRTSegmenter(LiteRTRunner(content=content)).raw_maps(inputs) - keras_maps[..., 0])))
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
