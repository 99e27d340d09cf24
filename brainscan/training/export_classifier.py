"""`brainscan export classifier`: turn a training run into a shippable model + model card.

Takes the run's best checkpoint (by validation accuracy) or a given weights file, fits the temperature on the
validation split, stores float16 weights without optimizer state, and writes the card with metrics, split and
SHA-256. Shipped cards turn on the left-right flip average at inference (``inference`` in the card); the
single-view validation numbers are recorded beside it. With ``--tumour-sensitivity`` (default 0.99) the card also
sets the operating point (``decision``; the rule: brainscan.rules, the choice: brainscan.training.operating_point):
the threshold is chosen on the calibrated validation outputs, and a cross-validated estimate of what it does on
unseen slices is recorded with it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from brainscan import __version__
from brainscan.runtime.calibration import apply_temperature
from brainscan.runtime.integrity import sha256_of
from brainscan.runtime.preprocess import CLASSIFIER_SIZE
from brainscan.runtime.spec import CLASSIFIER_CARD
from brainscan.training.calibration import fit_temperature
from brainscan.training.metrics import classification_report
from brainscan.types import CLASS_NAMES

WEIGHTS_FILE = "classifier_vgg16.npz"
SMOOTHING_GRID = (0.0, 0.3, 0.5, 0.7, 0.9, 1.1)
"""Input smoothing sigmas ``--input-smoothing auto`` tries: none, up to more than three bilinear resamplings'
worth of blur (sigma 0.71; one resampling at a random sub-pixel offset has variance 1/6 px^2 per axis)."""
SPLIT_FILE = "classifier_vgg16_validation_files.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import models_dir

    parser.add_argument("--run", type=Path, required=True, help="training run folder")
    parser.add_argument("--out", type=Path, default=models_dir())
    parser.add_argument("--version", default=None, help="model version (default: date)")
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="weights to export instead of RUN/best.weights.h5: a .weights.h5, a .keras checkpoint or a float16 .npz",
    )
    parser.add_argument("--epoch", type=int, default=None, help="the epoch those weights come from (for the card)")
    parser.add_argument(
        "--tumour-sensitivity",
        type=float,
        default=0.99,
        help="choose the P(tumour) threshold that keeps this validation sensitivity (0: most probable class)",
    )
    parser.add_argument(
        "--input-smoothing",
        type=_sigma_or_auto,
        default=0.0,
        help="Gaussian sigma (model pixels) applied to inputs at inference (card inference.input_smoothing_sigma; "
        "see brainscan.runtime.preprocess.smooth_batch); 0: none; 'auto': the best of "
        f"{', '.join(map(str, SMOOTHING_GRID))} on validation (the sweep goes into the card)",
    )
    parser.add_argument(
        "--weights-note", default=None, help="how those weights were taken, for the card (e.g. an average of epochs)"
    )
    parser.add_argument(
        "--average-epochs",
        type=_epoch_range,
        default=None,
        metavar="A-B",
        help="export the mean of the weights kept for epochs A..B (RUN/epochs/eNNN.npz) instead of one checkpoint",
    )
    parser.add_argument(
        "--volume-pack",
        type=Path,
        default=None,
        help="the run's volume pack (default: the one recorded in the run): held-out volume numbers and the "
        "applicability check go into the card",
    )


def export(args: argparse.Namespace) -> dict:
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.keras.vgg16 import build_classifier

    run: Path = args.run
    state = json.loads((run / "state.json").read_text())
    split = json.loads((run / "split.json").read_text())
    pixels = np.load(run / "cache" / "pixels.npy")
    labels = _labels(split)
    val_idx = np.asarray(split["val"])

    model = build_classifier("scratch")
    weights_source = args.weights
    if getattr(args, "average_epochs", None):
        first, last = args.average_epochs
        model.set_weights(average_epoch_weights(run, first, last))
        args.epoch = args.epoch or last
        args.weights_note = args.weights_note or (
            f"mean of the weights of epochs {first}-{last} of this run (no selection on validation)"
        )
        weights_source = run / "epochs"
    else:
        load_checkpoint(model, weights_source or run / "best.weights.h5")
    epoch = args.epoch or (None if weights_source else state.get("best_epoch"))
    args.out.mkdir(parents=True, exist_ok=True)
    weights_path = args.out / WEIGHTS_FILE
    from brainscan.runtime.keras.weights import load_float16_weights, write_weights_if_changed

    write_weights_if_changed(model, weights_path)
    # Metrics are measured on the float16 weights that ship, not on the float32 checkpoint.
    load_float16_weights(model, weights_path)
    classifier = KerasClassifier(model, temperature=1.0)
    batch = np.repeat(pixels[val_idx].astype(np.float32)[..., None], 3, axis=-1)
    val_labels = labels[val_idx]
    single_view = classification_report(val_labels, _raw(classifier, batch))
    classifier.flip_average = True
    sharp = _raw(classifier, batch)
    sweep = None
    if args.input_smoothing == "auto":
        args.input_smoothing, sweep, raw = _smoothing_sweep(
            classifier, batch, val_labels, args.tumour_sensitivity, sharp
        )
    else:
        classifier.input_smoothing = args.input_smoothing
        raw = _raw(classifier, batch) if args.input_smoothing else sharp
    temperature = fit_temperature(raw, val_labels)
    before = classification_report(val_labels, raw)
    calibrated = apply_temperature(raw, temperature)
    most_probable = classification_report(val_labels, calibrated)
    decision = _operating_point(val_labels, calibrated, args.tumour_sensitivity)
    after = classification_report(val_labels, calibrated, decision.get("tumour_threshold"))
    unsmoothed = _unsmoothed_report(val_labels, sharp, args.tumour_sensitivity) if args.input_smoothing else None
    weights_taken = args.weights_note or (
        f"epoch {epoch} checkpoint" if weights_source else state.get("weights_taken", "the best validation epoch")
    )
    (args.out / SPLIT_FILE).write_text(json.dumps({"data": "classification/Training", "files": split["val_files"]}))
    today = dt.date.today().isoformat()
    card = {
        "name": "BrainScan VGG16 tumour classifier",
        "version": args.version or today,
        "file": WEIGHTS_FILE,
        "sha256": sha256_of(weights_path),
        "storage": "float16 numpy .npz of model.get_weights(), no optimizer state",
        "architecture": "keras.applications.VGG16(include_top=False, input 128x128x3) + Flatten, Dropout(0.3), "
        "Dense(128, relu), Dropout(0.2), Dense(4, softmax)",
        "init": state.get("init", "scratch"),
        "how_trained": "from scratch (no ImageNet weights: none reachable); conv kernels He-normal; all layers "
        f"trainable; Adam, peak lr {state.get('lr')}, warmup then cosine decay; batch {state.get('batch_size')}; "
        "augmentation: horizontal flip, rotation +-11 deg, zoom +-12 %, shift +-6 %, contrast +-20 %; "
        f"precision {state.get('precision')}; {state.get('hardware', 'CPU (2 cores)')}; "
        f"weights: {weights_taken}",
        "input_shape": [CLASSIFIER_SIZE, CLASSIFIER_SIZE, 3],
        "labels": list(CLASS_NAMES),
        "preprocessing": "brainscan.runtime.preprocess.preprocess_slice (grey, 0.5-99.5 percentile scaling, "
        "pad to square, area resize to 128, 3 channels, [0, 1])",
        "data": "Brain Tumor MRI Dataset (Nickparvar, Kaggle 2021), Training folder, 5712 JPEG slices",
        "split": {
            "method": "stratified by class; byte-identical duplicates (MD5) kept on one side",
            "seed": split["seed"],
            "val_fraction": split["val_fraction"],
            "n_train": len(split["train"]),
            "n_validation": len(split["val"]),
            "validation_files": SPLIT_FILE,
        },
        "seed": state.get("seed"),
        "epochs": epoch,
        "steps_per_epoch": state.get("steps_per_epoch"),
        "images_seen": (epoch or 0) * state.get("steps_per_epoch", 0) * state.get("batch_size", 0),
        "inference": {
            "left_right_flip_average": True,
            "why": "trained with left-right flips; the mean of the slice and its mirror is read at twice the compute",
            **(
                {
                    "input_smoothing_sigma": args.input_smoothing,
                    "input_smoothing_why": "every training image went through bilinear resampling (random "
                    "rotation, zoom, shift), so the model reads slightly soft images best; a Gaussian blur of this "
                    "sigma (model pixels) gives inputs that softness (validation.without_input_smoothing: without)",
                }
                if args.input_smoothing
                else {}
            ),
            **({"input_smoothing_sweep": sweep} if sweep else {}),
        },
        "validation": {
            "accuracy": after["accuracy"],
            "ece_before_calibration": before["ece"],
            "ece": after["ece"],
            "tumour_sensitivity": after["tumour_sensitivity"],
            "tumour_specificity": after["tumour_specificity"],
            "confusion": after["confusion"],
            "most_probable_class": {
                "accuracy": most_probable["accuracy"],
                "tumour_sensitivity": most_probable["tumour_sensitivity"],
                "tumour_specificity": most_probable["tumour_specificity"],
            },
            "single_view": {
                "accuracy": single_view["accuracy"],
                "tumour_sensitivity": single_view["tumour_sensitivity"],
                "tumour_specificity": single_view["tumour_specificity"],
                "note": "one view, no mirror, no input smoothing, most probable class",
            },
            **({"without_input_smoothing": unsmoothed} if unsmoothed else {}),
        },
        **({"decision": decision} if decision else {}),
        "calibration": {"method": "temperature scaling on the validation split", "temperature": temperature},
        "date": today,
        "brainscan_version": __version__,
    }
    pack_file = getattr(args, "volume_pack", None) or state.get("volume_pack")
    if pack_file:
        _add_volume_fields(card, state, Path(pack_file), classifier, pixels, labels, split, args.out, temperature,
                           decision.get("tumour_threshold") if decision else None)  # fmt: skip
    (args.out / CLASSIFIER_CARD).write_text(json.dumps(card, indent=2))
    return card


def _add_volume_fields(card, state, pack_file: Path, classifier, pixels, labels, split, out, temperature, threshold):
    """Card fields of a model fine-tuned with whole-volume slices (brainscan.training.volume_card)."""
    from brainscan.training.volume_card import volume_card_fields

    pack = dict(np.load(pack_file))
    summary_file = pack_file.with_suffix(".json")
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    train_idx, val_idx = np.asarray(split["train"]), np.asarray(split["val"])
    fields = volume_card_fields(
        classifier, pack, pixels[train_idx], labels[train_idx], pixels[val_idx], out, temperature, threshold
    )
    card["applicability"] = fields["applicability"]
    card["validation"]["held_out_volumes"] = fields["held_out_volumes"]
    card["split"]["volumes"] = {
        "method": "by volume, never by slice (brainscan.training.volume_slices.HELD_OUT)",
        **summary,
    }
    card["data"] += (
        "; plus slices in all three planes of whole real volumes (`brainscan train classifier-pack`): BraTS 2018 "
        "glioma volumes (post-contrast T1 and FLAIR, labels from the expert masks), normal volunteer DICOM series "
        "and nilearn's MNI152 template, with scanner-like augmentation (field of view, bias field, gamma, blur, "
        "resampling, noise)"
    )
    if state.get("finetune_from"):
        card["init"] = f"fine-tuned from {Path(state['finetune_from']).name}"
        card["how_trained"] = (
            f"fine-tuned from the previous shipped weights ({Path(state['finetune_from']).name}); each batch drew "
            f"{state.get('pack_weight', 0.5):.0%} of its slices from the volume pack and the rest from Training; "
            f"Adam, peak lr {state.get('lr')}, warmup then cosine decay; batch {state.get('batch_size')}; "
            "online augmentation as before (flip, rotation, zoom, shift, contrast); "
            f"precision {state.get('precision')}; CPU (2 cores); weights: " + card["how_trained"].split("weights: ")[-1]
        )


def _operating_point(labels: np.ndarray, calibrated: np.ndarray, target: float) -> dict:
    """The card's ``decision`` entry: a P(tumour) threshold for ``target`` sensitivity (empty when target is 0)."""
    if not target:
        return {}
    from brainscan.training.operating_point import choose_tumour_threshold, cross_validate_threshold

    return {
        "tumour_threshold": choose_tumour_threshold(labels, calibrated, target),
        "rule": "tumour when calibrated P(tumour) = 1 - P(notumor) >= tumour_threshold, then the most probable "
        "tumour type; otherwise notumor",
        "chosen_for": f"tumour sensitivity >= {target:g} on the validation split (the validation numbers above "
        "use it, so they are measured on the slices it was chosen on)",
        "unseen_estimate": cross_validate_threshold(labels, calibrated, target),
    }


def _sigma_or_auto(text: str):
    if text == "auto":
        return text
    try:
        sigma = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a sigma >= 0 or 'auto', not {text!r}") from None
    if sigma < 0:
        raise argparse.ArgumentTypeError(f"the sigma must be >= 0, not {sigma}")
    return sigma


def _smoothing_sweep(classifier, batch, labels, target: float, sharp: np.ndarray) -> tuple[float, dict, np.ndarray]:
    """The input smoothing sigma of ``SMOOTHING_GRID`` with the highest validation accuracy (each with its own
    temperature and operating point; the smaller sigma on ties), the sweep for the card (with a held-out
    estimate of choosing this way: choose on one stratified half of validation, measure on the other), and the
    raw validation probabilities at that sigma. Leaves ``classifier.input_smoothing`` at the chosen sigma."""
    from brainscan.rules import predicted_classes
    from brainscan.training.operating_point import choose_tumour_threshold, stratified_halves

    raw_by_sigma = {}
    for sigma in SMOOTHING_GRID:
        classifier.input_smoothing = sigma
        raw_by_sigma[sigma] = _raw(classifier, batch) if sigma else sharp

    def accuracy(sigma, rows) -> tuple[float, np.ndarray, float | None]:
        raw = raw_by_sigma[sigma]
        cal = apply_temperature(raw, fit_temperature(raw[rows], labels[rows]))
        t = choose_tumour_threshold(labels[rows], cal[rows], target) if target else None
        return float((predicted_classes(cal[rows], t) == labels[rows]).mean()), cal, t

    everything = np.ones(len(labels), dtype=bool)
    scores = {sigma: accuracy(sigma, everything)[0] for sigma in SMOOTHING_GRID}
    best = max(SMOOTHING_GRID, key=lambda sigma: (scores[sigma], -sigma))
    held_out, picks = [], []
    for fit, test in stratified_halves(labels):
        pick = max(SMOOTHING_GRID, key=lambda sigma: (accuracy(sigma, fit)[0], -sigma))
        _, cal, t = accuracy(pick, fit)
        picks.append(pick)
        held_out.append(float((predicted_classes(cal[test], t) == labels[test]).mean()))
    classifier.input_smoothing = best
    return (
        best,
        {
            "chosen_by": "highest validation accuracy at each sigma's own temperature and operating point",
            "accuracy_by_sigma": {str(sigma): scores[sigma] for sigma in SMOOTHING_GRID},
            "unseen_estimate_accuracy": float(np.mean(held_out)),
            "unseen_estimate_method": "stratified 2-fold, 50 repeats (seed 0): sigma, temperature and threshold chosen "
            "on one half, accuracy measured on the other",
            "picked_on_halves": {str(sigma): picks.count(sigma) for sigma in SMOOTHING_GRID if sigma in picks},
        },
        raw_by_sigma[best],
    )


def _unsmoothed_report(labels: np.ndarray, raw: np.ndarray, target: float) -> dict:
    """What the same weights score with sharp inputs (mirror on, own temperature and threshold), for the card."""
    temperature = fit_temperature(raw, labels)
    calibrated = apply_temperature(raw, temperature)
    decision = _operating_point(labels, calibrated, target)
    report = classification_report(labels, calibrated, decision.get("tumour_threshold"))
    out = {key: report[key] for key in ("accuracy", "tumour_sensitivity", "tumour_specificity", "ece")}
    if decision:
        out["unseen_estimate_accuracy"] = decision["unseen_estimate"]["accuracy"]
    return out


def _raw(classifier, batch: np.ndarray) -> np.ndarray:
    return np.concatenate([classifier.raw_probabilities(batch[i : i + 64]) for i in range(0, len(batch), 64)])


def average_epoch_weights(run: Path, first: int, last: int) -> list[np.ndarray]:
    """Mean (float32) of the float16 weights the trainer kept for epochs ``first``..``last`` (RUN/epochs/eNNN.npz).

    Why: the mean of the last epochs' weights sits in a flatter part of the loss than any single epoch and
    needs no choice made on validation.
    """
    files = [run / "epochs" / f"e{e:03d}.npz" for e in range(first, last + 1)]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"{run}/epochs lacks {', '.join(missing)}")
    total = None
    for file in files:
        with np.load(file) as data:
            arrays = [data[k].astype(np.float32) for k in sorted(data.files)]
        total = arrays if total is None else [t + a for t, a in zip(total, arrays, strict=True)]
    return [t / len(files) for t in total]


def _epoch_range(text: str) -> tuple[int, int]:
    first, _, last = text.partition("-")
    return int(first), int(last or first)


def load_checkpoint(model, path: Path) -> None:
    """Weights from a Keras ``.weights.h5``, a full ``.keras`` checkpoint (optimizer ignored) or a float16 .npz."""
    path = Path(path)
    if path.suffix == ".npz":
        from brainscan.runtime.keras.weights import load_float16_weights

        load_float16_weights(model, path)
    elif path.suffix == ".keras":
        import keras

        model.set_weights(keras.models.load_model(path, compile=False).get_weights())
    else:
        model.load_weights(path)


def _labels(split: dict) -> np.ndarray:
    """Labels for every cached image, rebuilt from the class folder names recorded in the split."""
    from brainscan.training.dataset import list_class_folders

    return list_class_folders(Path(split["data"])).labels
