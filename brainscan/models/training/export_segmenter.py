"""`brainscan export segmenter`: best checkpoint of a run -> float16 weights + model card with validation Dice."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from brainscan import __version__
from brainscan.models.integrity import sha256_of
from brainscan.models.segmenter import SEGMENTER_SIZE
from brainscan.models.spec import SEGMENTER_CARD
from brainscan.pipeline.masks import clean_mask, dice

WEIGHTS_FILE = "segmenter_unet.npz"
CARD_FILE = SEGMENTER_CARD
VALIDATION_LIST = "segmenter_unet_validation_files.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import models_dir

    parser.add_argument("--run", type=Path, required=True, help="training run folder")
    parser.add_argument("--out", type=Path, default=models_dir())
    parser.add_argument("--version", default=None)


def export(args: argparse.Namespace) -> dict:
    from brainscan.models.keras_segmenter import KerasSegmenter
    from brainscan.models.segmenter import build_segmenter
    from brainscan.models.weights import load_float16_weights, save_float16_weights

    run: Path = args.run
    state = json.loads((run / "state.json").read_text())
    split = json.loads((run / "split.json").read_text())
    base = int(state.get("base_filters", 16))
    model = build_segmenter(SEGMENTER_SIZE, base=base)
    model.load_weights(run / "best.weights.h5")
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / WEIGHTS_FILE
    save_float16_weights(model, weights)
    load_float16_weights(model, weights)  # measure what ships
    images = np.load(run / "cache" / "images.npy")
    masks = np.load(run / "cache" / "masks.npy")
    val = np.asarray(split["val"])
    segmenter = KerasSegmenter(model)
    scores = []
    for start in range(0, len(val), 16):
        idx = val[start : start + 16]
        maps = segmenter.raw_maps(images[idx].astype(np.float32)[..., None])
        scores += [dice(clean_mask(p), m > 0) for p, m in zip(maps, masks[idx], strict=True)]
    today = dt.date.today().isoformat()
    card = {
        "name": "BrainScan U-Net tumour segmenter",
        "version": args.version or today,
        "file": WEIGHTS_FILE,
        "sha256": sha256_of(weights),
        "storage": "float16 numpy .npz of model.get_weights(), no optimizer state",
        "architecture": f"U-Net, VGG-style encoder blocks (2x conv3x3+BN+ReLU), depth 4, base {base} filters",
        "base_filters": base,
        "how_trained": "from scratch on CPU; Adam with warmup and cosine decay; loss BCE + soft Dice; "
        "augmentation: flips, 90-degree turns, gamma 0.8-1.25",
        "input_shape": [SEGMENTER_SIZE, SEGMENTER_SIZE, 1],
        "labels": ["tumour"],
        "preprocessing": "brainscan.models.preprocess.preprocess_gray (percentile scaling, pad to square, resize 256)",
        "data": "figshare brain tumour dataset (Cheng et al.), 2802 T1c slices with masks",
        "split": {
            "method": "whole blocks of consecutive figshare file numbers (patients are contiguous) to validation",
            "block": split.get("block"),
            "seed": split["seed"],
            "n_train": len(split["train"]),
            "n_validation": len(val),
            "validation_files": VALIDATION_LIST,
        },
        "seed": state.get("seed"),
        "epochs": state.get("best_epoch"),
        "steps_per_epoch": state.get("steps_per_epoch"),
        "validation": {"dice_mean_256px_postprocessed": float(np.mean(scores)), "n": len(scores)},
        "date": today,
        "brainscan_version": __version__,
    }
    (args.out / VALIDATION_LIST).write_text(json.dumps({"files": split.get("val_files", [])}, indent=1))
    (args.out / CARD_FILE).write_text(json.dumps(card, indent=2))
    return card
