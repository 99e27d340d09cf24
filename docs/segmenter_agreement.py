"""Do two LiteRT segmenters draw the same outlines? (e.g. float32 vs an int8 export of the same card)

Runs both cards' LiteRT files (each with its own views, threshold and slice gate) over the first card's figshare
validation slices and the classifier's notumor validation slices, post-processes like the app, and reports on how
many slices one outlines and the other does not, and where both outline, their agreement Dice and area ratio.
``--flips`` lists each slice outlined by one and not the other: whether it holds a tumour, both gate logits
against the threshold, both outlines' pixels and, on tumour slices, their Dice against the expert mask.

    python docs/segmenter_agreement.py CARD_A CARD_B [--flips]      (needs ../shared/data or BRAINSCAN_DATA)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from brainscan.config import data_dir
from brainscan.pipeline.masks import clean_mask, dice
from brainscan.runtime.litert_segmenter import LiteRTSegmenter
from brainscan.runtime.spec import read_spec
from brainscan.training.export_segmenter import notumor_validation_files
from brainscan.training.segmentation_data import read_segmentation_set


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("card_a", type=Path)
    parser.add_argument("card_b", type=Path)
    parser.add_argument("--flips", action="store_true", help="describe every slice outlined by only one of them")
    args = parser.parse_args()
    a = LiteRTSegmenter.from_spec(read_spec(args.card_a))
    b = LiteRTSegmenter.from_spec(read_spec(args.card_b))
    listing = a.spec.file.parent / a.spec.card["split"]["validation_files"]
    listed = set(json.loads(listing.read_text())["files"])
    items = [i for i in read_segmentation_set(data_dir() / "segmentation") if i.image.name in listed]
    truths = {i.image: i.mask for i in items}
    files = [i.image for i in items] + notumor_validation_files()
    flips, agreement, ratio = 0, [], []
    for start in range(0, len(files), 16):
        names = files[start : start + 16]
        chunk = [np.asarray(Image.open(f).convert("L")) for f in names]
        for name, map_a, map_b in zip(names, a.predict(chunk), b.predict(chunk), strict=True):
            mask_a, mask_b = clean_mask(map_a, a.mask_threshold), clean_mask(map_b, b.mask_threshold)
            if mask_a.any() != mask_b.any():
                flips += 1
                if args.flips:
                    describe_flip(name, truths.get(name), mask_a, mask_b, (a, b))
            elif mask_a.any():
                agreement.append(dice(mask_a, mask_b))
                ratio.append(mask_b.sum() / mask_a.sum())
    agreement_arr, ratio_arr = np.asarray(agreement), np.asarray(ratio)
    print(f"{len(files)} slices: outlined by one and not the other: {flips}; both outline {len(agreement)}")
    if len(agreement):
        print(
            f"agreement Dice median {np.median(agreement_arr):.3f}, 5th percentile "
            f"{np.percentile(agreement_arr, 5):.3f}, min {agreement_arr.min():.3f}; area B/A median "
            f"{np.median(ratio_arr):.3f}, 5-95 % {np.percentile(ratio_arr, 5):.3f}-{np.percentile(ratio_arr, 95):.3f}"
        )
    return 0


def describe_flip(name: Path, truth_file, mask_a, mask_b, segmenters) -> None:
    """One slice outlined by only one segmenter: gate logits (when gated), outline pixels, Dice against the truth."""
    from brainscan.runtime.preprocess import preprocess_gray

    pixels = np.asarray(Image.open(name).convert("L"))
    line = f"{name.name}: {'tumour' if truth_file else 'tumour-free'}"
    for label, segmenter, mask in zip("AB", segmenters, (mask_a, mask_b), strict=True):
        if segmenter.gate is not None:
            squares, features = segmenter.averaged_maps_and_features(
                preprocess_gray(pixels, segmenter.size)[None, ..., None]
            )
            logit = segmenter.gate.logits(features, squares, segmenter.mask_threshold)[0]
            line += f"; {label} gate logit {logit:+.2f} (threshold {segmenter.gate.threshold:+.2f})"
        line += f", {label} outline {int(mask.sum())} px"
        if truth_file:
            line += f" (Dice {dice(mask, np.asarray(Image.open(truth_file).convert('L')) > 127):.2f})"
    print(line)


if __name__ == "__main__":
    raise SystemExit(main())
