"""Segmenter training slices cut from the BraTS volumes: post-contrast T1 with the tumour core as the mask.

Why: the U-Net learned from figshare slices only (skull on, one scanner family); on skull-stripped BraTS T1c
it outlines too little, so tumour volumes come out far too small. Whole volumes add other scanners, all three
planes and the tumour's whole extent, small edge slices included.

Mask: the BraTS tumour core (labels 1 + 4: what post-contrast T1 shows, what the figshare masks outline).
Slices: every ``stride``-th slice of each plane whose core covers at least ``MIN_SEG_CORE_MM2``; training
slices also get ``variants - 1`` scanner-like copies (brainscan.training.volume_slices.realistic_augment_pair:
field of view moves slice and mask together, intensity changes touch the slice only).

Split by volume like the classifier pack (``volume_slices.HELD_OUT``): held-out volumes only ever go to the
validation part. ``brainscan train segmenter-pack --out FILE`` writes one .npz (images float16 and masks uint8
at the segmenter size, source, plane, split) for ``brainscan train segmenter --volume-pack FILE``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from brainscan.io.nifti import PLANES, display_slices
from brainscan.runtime.keras.unet import SEGMENTER_SIZE
from brainscan.runtime.preprocess import preprocess_gray
from brainscan.training.train_segmenter import mask_to_grid
from brainscan.training.volume_slices import HELD_OUT, nifti_to_ras, realistic_augment_pair, usable_planes

log = logging.getLogger(__name__)

MIN_SEG_CORE_MM2 = 10.0
"""Smallest core area a training slice must show (the app drops outline parts below this, brainscan.rules)."""
CORE_LABELS = (1, 4)
SEQUENCE = "t1ce"


def brats_cases(data: Path) -> list[Path]:
    """Case folders under ``data/volumes/tumour/brats2018`` that hold a post-contrast T1 and its labels."""
    root = data / "volumes" / "tumour" / "brats2018"
    if not root.is_dir():
        raise SystemExit(f"error: {root} not found (set BRAINSCAN_DATA or --data to the shared data root)")
    return sorted(p for p in root.iterdir() if (p / f"{SEQUENCE}.nii.gz").is_file() and (p / "seg.nii.gz").is_file())


def case_slices(case: Path, seed: int, stride: int, variants: int, size: int, held: bool) -> dict[str, list]:
    """Preprocessed slices and masks of one case, in every usable plane (a ``held`` case: sparser, unaugmented)."""
    rng = np.random.default_rng([seed, sum(case.name.encode())])
    image, zooms = nifti_to_ras(case / f"{SEQUENCE}.nii.gz")
    labels, _ = nifti_to_ras(case / "seg.nii.gz")
    core = np.isin(np.rint(labels).astype(np.int16), CORE_LABELS)
    out: dict[str, list] = {"images": [], "masks": [], "plane": [], "slice_index": [], "augmented": []}
    for axis in usable_planes(zooms):
        pixel_mm2 = float(np.prod([zooms[a] for a in range(3) if a != axis]))
        slices, masks = display_slices(image, axis), display_slices(core, axis)
        step = stride + 1 if held else stride
        copies = 1 if held else variants
        for i in range(0, len(slices), step):
            if masks[i].sum() * pixel_mm2 < MIN_SEG_CORE_MM2:
                continue
            for copy in range(copies):
                raw, mask = (slices[i], masks[i]) if copy == 0 else realistic_augment_pair(slices[i], masks[i], rng)
                out["images"].append(preprocess_gray(raw, size).astype(np.float16))
                out["masks"].append(mask_to_grid(mask, size))
                out["plane"].append(PLANES[axis])
                out["slice_index"].append(i)
                out["augmented"].append(copy > 0)
    return out


def build_segmentation_pack(data: Path, seed: int = 1337, stride: int = 2, variants: int = 2,
                            size: int = SEGMENTER_SIZE, held_out: tuple[str, ...] = HELD_OUT) -> dict:  # fmt: skip
    """Cut, augment and preprocess the slices of every case; returns arrays ready for ``np.savez``."""
    parts: dict[str, list] = {"images": [], "masks": [], "source": [], "plane": [], "slice_index": [], "split": [],
                              "augmented": []}  # fmt: skip
    for case in brats_cases(data):
        held = case.name in held_out
        got = case_slices(case, seed, stride, variants, size, held)
        n = len(got["images"])
        for key, values in got.items():
            parts[key].extend(values)
        parts["source"].extend([f"{case.name}/{SEQUENCE}"] * n)
        parts["split"].extend(["val" if held else "train"] * n)
        log.info("%s: %d slices", case.name, n)
    if not parts["images"]:
        raise SystemExit("error: no BraTS slice with a tumour core was found")
    return {
        "images": np.stack(parts["images"]),
        "masks": np.stack(parts["masks"]).astype(np.uint8),
        "source": np.asarray(parts["source"]),
        "plane": np.asarray(parts["plane"]),
        "slice_index": np.asarray(parts["slice_index"], dtype=np.int64),
        "split": np.asarray(parts["split"]),
        "augmented": np.asarray(parts["augmented"], dtype=bool),
    }


def pack_summary(pack: dict) -> dict:
    """Counts per split and the sources, for the log and the model card."""
    out: dict = {"held_out": list(HELD_OUT), "mask": "tumour core (BraTS labels 1 + 4)",
                 "min_core_mm2": MIN_SEG_CORE_MM2, "sequence": SEQUENCE}  # fmt: skip
    for part in ("train", "val"):
        chosen = pack["split"] == part
        out[part] = {"images": int(chosen.sum()), "sources": sorted(set(pack["source"][chosen].tolist()))}
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import data_dir

    parser.add_argument("--data", type=Path, default=data_dir(), help="the shared data root (holds volumes/)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz pack to write")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--variants", type=int, default=2, help="copies per training slice (first unaugmented)")
    parser.add_argument("--size", type=int, default=SEGMENTER_SIZE)


def write_pack(args: argparse.Namespace) -> Path:
    """``brainscan train segmenter-pack``: build the pack and its summary JSON."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out: Path = args.out
    pack = build_segmentation_pack(args.data, args.seed, args.stride, args.variants, args.size)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **pack)
    summary = pack_summary(pack)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    log.info("wrote %s: %s", out, json.dumps(summary))
    return out
