"""Outlined tumour volume against the expert tumour core, with and without the segmenter's slice gate.

Reads the series cache that `brainscan evaluate folds --cache DIR` fills with the shipped models (ungated maps of
every positive slice and whether the gate passed each one) and, for every series with an expert label (the BraTS
volumes), outlines the slices the app would outline for a tumour verdict (P(tumour) at the classifier's operating
point, the card's mask threshold and clean-up): the volume in mL, its error against the tumour core (labels 1 + 4)
and the 3D Dice, ungated and gated. The slice models saw the BraTS training volumes; the four held-out volumes of
the segmenter card are marked.

    python docs/gate_volumes.py --cache DIR      (needs ../shared/data or BRAINSCAN_DATA, and the filled cache)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from brainscan.config import data_dir
from brainscan.pipeline.masks import clean_mask
from brainscan.rules import tumour_probability
from brainscan.runtime.loading import load_shipped_models
from brainscan.training.series_cache import cache_path, load_case_volume
from brainscan.training.series_cases import reference_core, series_cases


def outlined(case, cache: Path, threshold: float, mask_threshold: float):
    volume = load_case_volume(case)
    with np.load(cache_path(cache, case)) as cached:
        if "candidate_gate_passed" not in cached:
            raise SystemExit(f"{cache} was filled before the slice gate; fill a new cache with evaluate folds")
        tumour_p = tumour_probability(cached["probabilities"].astype(np.float64))
        candidates, maps, passed = cached["candidates"], cached["candidate_maps"], cached["candidate_gate_passed"]
    ungated = np.zeros(volume.pixels.shape, bool)
    gated = np.zeros(volume.pixels.shape, bool)
    for index, prob, ok in zip(candidates, maps, passed, strict=True):
        if tumour_p[index] >= threshold:
            mask = clean_mask(prob.astype(np.float32) / 255.0, mask_threshold, pixel_spacing_mm=volume.pixel_spacing_mm)
            ungated[index] = mask
            gated[index] = mask if ok else False
    voxel_ml = volume.pixel_spacing_mm[0] * volume.pixel_spacing_mm[1] * volume.slice_spacing_mm / 1000.0
    return volume, ungated, gated, voxel_ml


def dice3d(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * (a & b).sum() / total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=data_dir())
    args = parser.parse_args()
    models = load_shipped_models()
    threshold = models.classifier.spec.tumour_threshold or 0.5
    mask_threshold = models.segmenter.spec.mask_threshold
    held_out = set(models.segmenter.spec.card["split"].get("held_out_volumes", []))
    print(f"{'series':34s} {'core mL':>8s} | {'ungated mL':>10s} {'error':>7s} {'Dice':>5s} | "
          f"{'gated mL':>8s} {'error':>7s} {'Dice':>5s}")  # fmt: skip
    errors = {"ungated": [], "gated": []}
    sequences = []
    for case in series_cases(args.data):
        if case.reference is None:
            continue
        volume, ungated, gated, voxel_ml = outlined(case, args.cache, threshold, mask_threshold)
        core = reference_core(case, volume.pixels.shape)
        if core is None:
            continue
        core_ml = core.sum() * voxel_ml
        name = f"{case.person}/{case.sequence}"
        row = f"{name + (' *' if name in held_out else ''):34s}"
        row += f" {core_ml:8.1f}"
        for name, mask in (("ungated", ungated), ("gated", gated)):
            ml = mask.sum() * voxel_ml
            error = (ml - core_ml) / core_ml
            errors[name].append(abs(error))
            row += f" | {ml:10.1f} {100 * error:+6.0f}% {dice3d(mask, core):5.2f}"
        sequences.append(case.sequence)
        print(row)
    sequences = np.asarray(sequences)
    for sequence in sorted(set(sequences)):
        for name, values in errors.items():
            v = np.asarray(values)[sequences == sequence]
            print(f"{sequence} {name}: median |error| {100 * np.median(v):.0f} %, worst {100 * v.max():.0f} %, "
                  f"over {len(v)} series")  # fmt: skip
    print("* held out from the segmenter's training")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
