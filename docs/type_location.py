"""Where each tumour type lies relative to the head's centre line, on the figshare slices with expert masks.

Calibrates ``PITUITARY_MAX_OFFSET`` (brainscan.pipeline.type_plausibility) with the same head mask and offset the
app uses; with ``--segmenter`` it also reports how often the shipped segmenter's outline of a pituitary slice of the
segmenter's validation split lies beyond it (what the app would wrongly call "type not recognised"). With
``--features`` it tries the other way of spotting a type the classifier never learned, and shows why it was not
used: leave one tumour type out of the classifier's feature-distance check (its class means, shared precision) and
count how many of that type's validation slices lie beyond the 99th percentile of the other two types' distances.

    python docs/type_location.py [--segmenter] [--features]      (needs ../shared/data or BRAINSCAN_DATA)
"""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
from PIL import Image

from brainscan.config import data_dir, models_dir
from brainscan.pipeline.evidence import head_masks
from brainscan.pipeline.masks import clean_mask
from brainscan.pipeline.type_plausibility import PITUITARY_MAX_OFFSET, main_lesion, midline_offset


def offsets(rows, root, segmenter=None) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {}
    for row in rows:
        image = np.asarray(Image.open(root / row["image"]).convert("L"), dtype=np.float32)
        if segmenter is None:
            lesion = np.asarray(Image.open(root / row["mask"]).convert("L")) > 127
        else:
            lesion = main_lesion(clean_mask(segmenter.predict([image])[0], segmenter.mask_threshold))
        offset = midline_offset(head_masks(image[None])[0], lesion, 1)
        if offset is not None:
            found.setdefault(row["label_name"], []).append(offset)
    return found


def left_out_type_flags() -> None:
    from brainscan.rules import CLASS_NAMES
    from brainscan.runtime.loading import load_shipped_models
    from brainscan.runtime.preprocess import preprocess_batch

    classifier = load_shipped_models().classifier
    distance = classifier.feature_distance
    files = json.loads((models_dir() / "classifier_vgg16_validation_files.json").read_text())["files"]
    root = data_dir() / "classification" / "Training"
    features, labels = [], []
    for i in range(0, len(files), 32):
        chunk = files[i : i + 32]
        images = [np.asarray(Image.open(root / f).convert("L"), dtype=np.float32) for f in chunk]
        features.append(classifier.raw_probabilities_and_features(preprocess_batch(images))[1])
        labels += [f.split("/")[0] for f in chunk]
    features, labels = np.concatenate(features), np.asarray(labels)

    def nearest(rows, classes):
        diff = rows[:, None, :] - distance.means[None, [CLASS_NAMES.index(c) for c in classes], :]
        return np.sqrt(np.einsum("nkd,de,nke->nk", diff, distance.precision, diff)).min(axis=1)

    types = [c for c in CLASS_NAMES if c != "notumor"]
    print("feature distance, one tumour type left out (classifier validation slices):")
    for left_out in types:
        known = [t for t in types if t != left_out]
        limit = np.percentile(nearest(features[np.isin(labels, known)], known), 99)
        flagged = np.mean(nearest(features[labels == left_out], known) > limit)
        print(f"  {left_out:10s} left out: {flagged:.2f} of its {int((labels == left_out).sum())} slices unfamiliar")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segmenter", action="store_true", help="also the shipped segmenter's outlines")
    parser.add_argument("--features", action="store_true", help="also the left-out-type feature-distance check")
    args = parser.parse_args()
    root = data_dir() / "segmentation"
    rows = list(csv.DictReader(open(root / "labels.csv")))
    truth = offsets(rows, root)
    print(f"expert masks, all {len(rows)} slices (offset = share of the head's width; limit {PITUITARY_MAX_OFFSET}):")
    for label, values in sorted(truth.items()):
        v = np.asarray(values)
        pct = np.percentile(v, [50, 90, 99, 100]).round(3).tolist()
        print(f"  {label:10s} n={len(v):4d} median/p90/p99/max {pct}  beyond {np.mean(v > PITUITARY_MAX_OFFSET):.3f}")
    if args.segmenter:
        from brainscan.runtime.loading import load_shipped_models

        segmenter = load_shipped_models().segmenter
        names = set(json.loads((models_dir() / "segmenter_unet_validation_files.json").read_text())["files"])
        held = [r for r in rows if r["image"].split("/")[-1] in names and r["label_name"] == "pituitary"]
        outlined = offsets(held, root, segmenter).get("pituitary", [])
        v = np.asarray(outlined)
        print(
            f"segmenter outlines, validation pituitary slices: {len(v)} outlined of {len(held)}; "
            f"beyond the limit {int((v > PITUITARY_MAX_OFFSET).sum())} ({np.mean(v > PITUITARY_MAX_OFFSET):.3f})"
        )

    if args.features:
        left_out_type_flags()


if __name__ == "__main__":
    main()
