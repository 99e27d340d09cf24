"""`brainscan evaluate segmenter DIR`: Dice per slice at the mask's own resolution, after post-processing."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from brainscan.pipeline.masks import clean_mask, dice, iou

LABELS = ("meningioma", "glioma", "pituitary")


def postprocessing(segmenter) -> str:
    """What evaluation does to the maps, in words (the threshold is the segmenter card's)."""
    return f"threshold {segmenter.mask_threshold:g}, components < 20 px removed, holes filled"


def evaluate_segmenter(segmenter, root: Path, batch_size: int = 16) -> dict:
    """Run the segmenter over ``root`` (images/, masks/, labels.csv) at any resolution.

    Predictions are mapped back to each mask's grid, thresholded at the card's mask threshold, cleaned
    (brainscan.pipeline.masks), then scored. Raises SeriesLoadError when the layout is wrong.
    """
    from brainscan.training.segmentation_data import read_segmentation_set

    return evaluate_items(segmenter, read_segmentation_set(Path(root)), batch_size)


def evaluate_items(segmenter, items, batch_size: int = 16) -> dict:
    """The metrics of `evaluate_segmenter` over given SegmentationItems (export scores its validation split)."""
    dices, ious, labels = [], [], []
    compute = 0.0
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        images = [_grey(item.image) for item in chunk]
        began = time.perf_counter()
        maps = segmenter.predict(images, batch_size=batch_size)
        compute += time.perf_counter() - began
        for item, prob in zip(chunk, maps, strict=True):
            truth = _grey(item.mask) > 127
            if prob.shape != truth.shape:  # image and mask grids differ: resize prediction to the mask
                prob = np.asarray(Image.fromarray(prob).resize(truth.shape[::-1], Image.Resampling.BILINEAR))
            pred = clean_mask(prob, segmenter.mask_threshold)
            dices.append(dice(pred, truth))
            ious.append(iou(pred, truth))
            labels.append(item.label_name)
    dices_arr, labels_arr = np.asarray(dices), np.asarray(labels)
    return {
        "n": len(dices),
        "dice_mean": float(dices_arr.mean()) if len(dices) else float("nan"),
        "dice_median": float(np.median(dices_arr)) if len(dices) else float("nan"),
        "iou_mean": float(np.mean(ious)) if ious else float("nan"),
        "dice_by_label": {
            name: float(dices_arr[labels_arr == name].mean()) for name in LABELS if (labels_arr == name).any()
        },
        "ms_per_slice": 1000.0 * compute / max(len(dices), 1),
        "postprocessing": postprocessing(segmenter),
    }


def evaluate_pack_slices(segmenter, pack: dict, part: str = "val", batch_size: int = 16) -> dict:
    """Dice per slice, and outlined vs true tumour area, over one part of a segmenter volume pack
    (brainscan.training.segmentation_volumes), overall and per source volume.

    Why the area ratio: a tumour volume is the sum of slice areas, so an area ratio far from 1 is a volume
    error even when Dice looks fair.
    """
    chosen = np.flatnonzero(pack["split"] == part)
    dices, predicted, truth_area, sources = [], [], [], []
    for start in range(0, len(chosen), batch_size):
        idx = chosen[start : start + batch_size]
        maps = segmenter.predict([pack["images"][i].astype(np.float32) for i in idx], batch_size=batch_size)
        for i, prob in zip(idx, maps, strict=True):
            truth = pack["masks"][i] > 0
            pred = clean_mask(prob, segmenter.mask_threshold)
            dices.append(dice(pred, truth))
            predicted.append(int(pred.sum()))
            truth_area.append(int(truth.sum()))
            sources.append(str(pack["source"][i]))
    dices_arr, pred_arr, true_arr, src = (np.asarray(v) for v in (dices, predicted, truth_area, sources))

    def summary(sel: np.ndarray) -> dict:
        """Dice and area over the tumour slices of ``sel``; how often anything is outlined on its tumour-free
        slices (a pack built with --tumour-free holds both)."""
        tumour, empty = sel & (true_arr > 0), sel & (true_arr == 0)
        out: dict = {"slices": int(tumour.sum())}
        if tumour.any():
            out["dice_mean"] = float(dices_arr[tumour].mean())
            out["outlined_over_true_area"] = float(pred_arr[tumour].sum() / max(1, true_arr[tumour].sum()))
        if empty.any():
            out["tumour_free_slices"] = int(empty.sum())
            out["tumour_free_outlined_fraction"] = float((pred_arr[empty] > 0).mean())
        return out

    everything = np.ones(len(dices_arr), dtype=bool)
    return {
        **(summary(everything) if len(dices_arr) else {"slices": 0}),
        "by_source": {name: summary(src == name) for name in sorted(set(sources))},
        "postprocessing": postprocessing(segmenter),
    }


def outlined_fraction(segmenter, images, batch_size: int = 16) -> dict:
    """How often the segmenter outlines anything (after post-processing) on slices that hold no tumour.

    Why: Dice is measured on tumour slices only, so it says nothing about false outlines; the app relies on
    the classifier's gate to hide them, and this number says how much it has to.
    ``images`` are grey 2D arrays (or paths, read like evaluate_items reads slices).
    """
    outlined, area_fractions = 0, []
    for start in range(0, len(images), batch_size):
        chunk = [_grey(image) for image in images[start : start + batch_size]]
        for prob in segmenter.predict(chunk, batch_size=batch_size):
            mask = clean_mask(prob, segmenter.mask_threshold)
            outlined += bool(mask.any())
            area_fractions.append(float(mask.mean()))
    n = len(area_fractions)
    return {
        "n": n,
        "outlined_fraction": outlined / n if n else float("nan"),
        "mean_outlined_area_fraction": float(np.mean(area_fractions)) if n else float("nan"),
        "postprocessing": postprocessing(segmenter),
    }


def outlined_fraction_in_folder(segmenter, folder: Path) -> dict:
    """outlined_fraction over the image files directly in ``folder`` (sorted by name).

    Raises:
        SeriesLoadError: when ``folder`` is not a folder or holds no image files.
    """
    from brainscan.errors import SeriesLoadError
    from brainscan.io.scan import IMAGE_SUFFIXES

    if not Path(folder).is_dir():
        raise SeriesLoadError(f"{folder} is not a folder.")
    files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SeriesLoadError(f"No image files in {folder}.")
    return {"folder": str(folder), **outlined_fraction(segmenter, files)}


def _grey(image) -> np.ndarray:
    if isinstance(image, (str, Path)):
        with Image.open(image) as img:
            return np.asarray(img.convert("L"))
    return np.asarray(image)
