"""`brainscan export segmenter`: best checkpoint of a run -> float16 weights + model card with validation Dice."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from brainscan import __version__
from brainscan.runtime.batching import SEGMENTER_VIEWS
from brainscan.runtime.integrity import sha256_of
from brainscan.runtime.keras.unet import SEGMENTER_SIZE
from brainscan.runtime.spec import SEGMENTER_CARD

WEIGHTS_FILE = "segmenter_unet.npz"
CARD_FILE = SEGMENTER_CARD
VALIDATION_LIST = "segmenter_unet_validation_files.json"


LOSS_WORDS = {
    "dice_bce": "BCE + soft Dice",
    "bce_tumour_dice": "BCE on every slice + soft Dice on the slices with tumour",
    "bce_tumour_dice_empty_peak": "BCE on every slice + soft Dice on the slices with tumour + on tumour-free slices "
    "the cross-entropy of the mean of the 64 most confident pixels against 0",
    "bce_tumour_dice_light_peak": "BCE on every slice + soft Dice on the slices with tumour + on tumour-free slices "
    "0.2 x the cross-entropy of the mean of the 64 most confident pixels against 0",
}
"""The card's words for each ``train segmenter --loss``."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import models_dir

    parser.add_argument("--run", type=Path, required=True, help="training run folder")
    parser.add_argument("--out", type=Path, default=models_dir())
    parser.add_argument("--version", default=None)
    parser.add_argument("--data", type=Path, default=None, help="segmentation set (default: the run's own)")
    parser.add_argument(
        "--views",
        type=int,
        choices=SEGMENTER_VIEWS,
        default=1,
        help="test-time views the card prescribes: 1 (the slice), 2 (+ left-right mirror), 8 (all flips and turns)",
    )
    parser.add_argument("--mask-threshold", type=float, default=0.5, help="probability threshold of the outline")
    parser.add_argument(
        "--start-note", default=None,
        help="what a fine-tuned run started from, in words, for the card (default: the weights file it names)",
    )  # fmt: skip


def export(args: argparse.Namespace) -> dict:
    from brainscan.runtime.keras.segmenter import KerasSegmenter
    from brainscan.runtime.keras.unet import build_segmenter
    from brainscan.runtime.keras.weights import load_float16_weights, write_weights_if_changed
    from brainscan.training.segmentation_data import read_segmentation_set
    from brainscan.training.segmentation_evaluation import evaluate_items

    run: Path = args.run
    state = json.loads((run / "state.json").read_text())
    split = json.loads((run / "split.json").read_text())
    base = int(state.get("base_filters", 16))
    size = int(state.get("size", SEGMENTER_SIZE))  # runs from before --size were 256 px
    model = build_segmenter(size, base=base)
    model.load_weights(run / "best.weights.h5")
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / WEIGHTS_FILE
    write_weights_if_changed(model, weights)
    load_float16_weights(model, weights)  # measure what ships
    items = read_segmentation_set(args.data or Path(split["data"]))
    val = np.asarray(split["val"])
    segmenter = KerasSegmenter(model, size=size)
    single_view = evaluate_items(segmenter, [items[i] for i in val])  # one view, threshold 0.5
    segmenter.views, segmenter.mask_threshold = args.views, args.mask_threshold
    metrics = evaluate_items(segmenter, [items[i] for i in val])
    no_tumour = no_tumour_check(segmenter)
    if no_tumour is not None:
        metrics["no_tumour_slices"] = no_tumour
    pack_file = state.get("volume_pack")
    held_out = None
    if pack_file and Path(pack_file).is_file():
        from brainscan.training.segmentation_volumes import pack_summary

        pack = dict(np.load(pack_file))
        held_out = held_out_volume_check(segmenter, pack)
        pack_info = pack_summary(pack)
    origin = (
        f"fine-tuned on {state.get('hardware', 'CPU')} from "
        f"{getattr(args, 'start_note', None) or Path(state['finetune_from']).name}"
        if state.get("finetune_from")
        else f"from scratch on {state.get('hardware', 'CPU')}"
    )
    data = "figshare brain tumour dataset (Cheng et al.), 2802 T1c slices with masks"
    if held_out is not None:
        data += (
            f"; plus BraTS 2018 post-contrast T1 volumes, all three planes, tumour core (labels 1 + 4) as the mask, "
            f"{pack_info['train']['images']} training slices from {len(pack_info['train']['sources'])} volumes "
            f"(brainscan train segmenter-pack, scanner-like augmentation), {state.get('pack_weight')} of each batch"
        )
        if pack_info["train"].get("tumour_free"):
            data += (
                f"; {pack_info['train']['tumour_free']} of the pack's training slices are tumour-free with an empty "
                "mask (BraTS slices far from any label, the normal people's series, notumor Training slices outside "
                "the classifier's validation); normal people held out: "
                + ", ".join(pack_info["tumour_free_held_out_people"])
            )
    today = dt.date.today().isoformat()
    card = {
        "name": "BrainScan U-Net tumour segmenter",
        "version": args.version or today,
        "file": WEIGHTS_FILE,
        "sha256": sha256_of(weights),
        "storage": "float16 numpy .npz of model.get_weights(), no optimizer state",
        "architecture": f"U-Net, VGG-style encoder blocks (2x conv3x3+BN+ReLU), depth 4, base {base} filters",
        "base_filters": base,
        "how_trained": f"{origin}; Adam with warmup and cosine decay; "
        f"loss {LOSS_WORDS[state.get('loss', 'dice_bce')]}; "
        "augmentation: flips, 90-degree turns, gamma 0.8-1.25; "
        f"{state.get('epochs_planned')} epochs planned, weights from epoch {state.get('best_epoch')} "
        f"({state.get('weights_taken', 'best validation Dice')})",
        "input_shape": [size, size, 1],
        "labels": ["tumour"],
        "preprocessing": "brainscan.runtime.preprocess.preprocess_gray (percentile scaling, pad to square, "
        f"resize {size}); probabilities resized back to the slice's own grid",
        "inference": {
            "views": args.views,
            "why": "trained with flips and 90-degree turns; the mean over the views smooths view-specific misses",
        },
        "postprocessing": {
            "threshold": args.mask_threshold,
            "steps": "threshold, components under 10 mm2 (20 px without spacing) removed, holes filled",
        },
        "data": data,
        "split": {
            "method": "whole blocks of consecutive figshare file numbers (patients are contiguous) to validation",
            "block": split.get("block"),
            "seed": split["seed"],
            "n_train": len(split["train"]),
            "n_validation": len(val),
            "validation_files": VALIDATION_LIST,
            **({"held_out_volumes": pack_info["val"]["sources"]} if held_out is not None else {}),
        },
        "seed": state.get("seed"),
        "epochs": state.get("best_epoch"),
        "steps_per_epoch": state.get("steps_per_epoch"),
        "validation": {
            **{key: metrics[key] for key in ("n", "dice_mean", "dice_median", "iou_mean", "dice_by_label")},
            **({"no_tumour_slices": metrics["no_tumour_slices"]} if "no_tumour_slices" in metrics else {}),
            **({"held_out_volumes": held_out} if held_out is not None else {}),
            "single_view_threshold_0.5": {
                key: single_view[key] for key in ("dice_mean", "dice_median", "iou_mean", "dice_by_label")
            },
            "measured": "per slice at the mask's own resolution, after post-processing (as evaluate segmenter), "
            "with the views and threshold above",
        },
        "date": today,
        "brainscan_version": __version__,
    }
    (args.out / VALIDATION_LIST).write_text(json.dumps({"files": split.get("val_files", [])}, indent=1))
    (args.out / CARD_FILE).write_text(json.dumps(card, indent=2))
    return card


def no_tumour_check(segmenter) -> dict | None:
    """The card's ``validation.no_tumour_slices``: how often it outlines the classifier's notumor validation
    slices (None when the data or the list is absent)."""
    from brainscan.training.segmentation_evaluation import outlined_fraction

    empty_files = notumor_validation_files()
    if not empty_files:
        return None
    return {
        **outlined_fraction(segmenter, empty_files),
        "data": "the notumor slices of the shipped classifier's validation split (never trained on)",
    }


def held_out_volume_check(segmenter, pack: dict) -> dict:
    """The card's ``validation.held_out_volumes``: the volume pack's held-out slices."""
    from brainscan.training.segmentation_evaluation import evaluate_pack_slices

    return {
        **evaluate_pack_slices(segmenter, pack, "val"),
        "measured": "per slice at the pack's grid, after post-processing, with the views and threshold above; "
        "slices of the held-out volumes whose tumour core covers at least the pack's min_core_mm2",
    }


def notumor_validation_files() -> list[Path]:
    """The classification set's notumor slices in the shipped classifier's validation split (empty when the
    data or the list is absent): tumour-free slices no shipped model was trained on."""
    from brainscan.config import data_dir, models_dir
    from brainscan.training.export_classifier import SPLIT_FILE

    listing = models_dir() / SPLIT_FILE
    root = data_dir() / "classification" / "Training"
    if not listing.exists() or not root.is_dir():
        return []
    files = json.loads(listing.read_text()).get("files", [])
    return [root / name for name in files if name.startswith("notumor/") and (root / name).exists()]
