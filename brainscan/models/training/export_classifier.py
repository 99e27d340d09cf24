"""`brainscan export classifier`: turn a training run into a shippable model + model card.

Takes the run's best checkpoint (by validation accuracy), fits the temperature on the validation split,
stores float16 weights without optimizer state, and writes the card with metrics, split and SHA-256.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from brainscan import __version__
from brainscan.models.calibration import apply_temperature, fit_temperature
from brainscan.models.integrity import sha256_of
from brainscan.models.metrics import classification_report
from brainscan.models.preprocess import CLASSIFIER_SIZE
from brainscan.models.spec import CLASSIFIER_CARD
from brainscan.types import CLASS_NAMES

WEIGHTS_FILE = "classifier_vgg16.npz"
SPLIT_FILE = "classifier_vgg16_validation_files.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import models_dir

    parser.add_argument("--run", type=Path, required=True, help="training run folder")
    parser.add_argument("--out", type=Path, default=models_dir())
    parser.add_argument("--version", default=None, help="model version (default: date)")


def export(args: argparse.Namespace) -> dict:
    from brainscan.models.classifier import build_classifier
    from brainscan.models.keras_classifier import KerasClassifier
    from brainscan.models.weights import save_float16_weights

    run: Path = args.run
    state = json.loads((run / "state.json").read_text())
    split = json.loads((run / "split.json").read_text())
    pixels = np.load(run / "cache" / "pixels.npy")
    labels = _labels(split)
    val_idx = np.asarray(split["val"])

    model = build_classifier("scratch")
    model.load_weights(run / "best.weights.h5")
    args.out.mkdir(parents=True, exist_ok=True)
    weights_path = args.out / WEIGHTS_FILE
    save_float16_weights(model, weights_path)
    # Metrics are measured on the float16 weights that ship, not on the float32 checkpoint.
    from brainscan.models.weights import load_float16_weights

    load_float16_weights(model, weights_path)
    classifier = KerasClassifier(model, temperature=1.0)
    batch = np.repeat(pixels[val_idx].astype(np.float32)[..., None], 3, axis=-1)
    raw = np.concatenate([classifier.raw_probabilities(batch[i : i + 64]) for i in range(0, len(batch), 64)])
    val_labels = labels[val_idx]
    temperature = fit_temperature(raw, val_labels)
    before = classification_report(val_labels, raw)
    after = classification_report(val_labels, apply_temperature(raw, temperature))
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
        f"weights: {state.get('weights_taken', 'epoch with the best validation accuracy')}",
        "input_shape": [CLASSIFIER_SIZE, CLASSIFIER_SIZE, 3],
        "labels": list(CLASS_NAMES),
        "preprocessing": "brainscan.models.preprocess.preprocess_slice (grey, 0.5-99.5 percentile scaling, "
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
        "epochs": state.get("best_epoch"),
        "steps_per_epoch": state.get("steps_per_epoch"),
        "images_seen": (state.get("best_epoch") or 0) * state.get("steps_per_epoch", 0) * state.get("batch_size", 0),
        "validation": {
            "accuracy": after["accuracy"],
            "ece_before_calibration": before["ece"],
            "ece": after["ece"],
            "tumour_sensitivity": after["tumour_sensitivity"],
            "tumour_specificity": after["tumour_specificity"],
            "confusion": after["confusion"],
        },
        "calibration": {"method": "temperature scaling on the validation split", "temperature": temperature},
        "date": today,
        "brainscan_version": __version__,
    }
    (args.out / CLASSIFIER_CARD).write_text(json.dumps(card, indent=2))
    return card


def _labels(split: dict) -> np.ndarray:
    """Labels for every cached image, rebuilt from the class folder names recorded in the split."""
    from brainscan.models.training.dataset import list_class_folders

    return list_class_folders(Path(split["data"])).labels
