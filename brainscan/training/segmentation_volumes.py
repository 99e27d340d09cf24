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


HELD_OUT_NORMALS = ("philips_elition_3d_mprage_sag", "ixi274_hh", "older_subj3", "older_subj11")
"""Normal people whose slices only validate (the classifier pack's held-out normal, an IXI adult, two older
adults), so 'quiet on healthy tissue' is measured on people the segmenter never saw."""
EMPTY_STRIDE = 4


def tumour_free_slices(data: Path, seed: int, size: int, held_out: tuple[str, ...]) -> list[dict]:
    """Empty-mask slices, so the U-Net learns to outline nothing (issue 26): BraTS slices with no label at all in
    every plane, every slice of the normal people's series (their own plane; every EMPTY_STRIDE-th), and the
    classification set's notumor training slices (never its validation ones). Split by person like the rest."""
    from brainscan.training.export_segmenter import notumor_validation_files
    from brainscan.training.series_cache import load_case_volume
    from brainscan.training.series_cases import series_cases

    out = []
    for case in brats_cases(data):
        image, zooms = nifti_to_ras(case / f"{SEQUENCE}.nii.gz")
        labels, _ = nifti_to_ras(case / "seg.nii.gz")
        for axis in usable_planes(zooms):
            slices, marks = display_slices(image, axis), display_slices(labels > 0, axis)
            for i in range(0, len(slices), EMPTY_STRIDE * 2):
                near = marks[max(0, i - 5) : i + 6].any()  # no label on this slice or 5 neighbours either side
                if not near and np.percentile(slices[i], 99) > 0:
                    out.append({"image": slices[i], "source": f"{case.name}/{SEQUENCE}", "plane": PLANES[axis],
                                "index": i, "held": case.name in held_out})  # fmt: skip
    for case in series_cases(data):
        if case.group != "normal":
            continue
        volume = load_case_volume(case)
        for i in range(0, volume.n_slices, EMPTY_STRIDE):
            if np.percentile(volume.pixels[i], 99) > 0:
                out.append({"image": volume.pixels[i], "source": case.name, "plane": "acquisition", "index": i,
                            "held": case.person in HELD_OUT_NORMALS})  # fmt: skip
    validation = {p.name for p in notumor_validation_files()}
    folder = data / "classification" / "Training" / "notumor"
    if folder.is_dir():
        from PIL import Image

        files = sorted(p for p in folder.glob("*.jpg") if p.name not in validation)
        rng = np.random.default_rng(seed)
        for path in rng.permutation(files)[: len(files) // 2]:
            with Image.open(path) as img:
                out.append({"image": np.asarray(img.convert("L"), dtype=np.float32), "source": f"notumor/{path.name}",
                            "plane": "2d", "index": 0, "held": False})  # fmt: skip
    return out


def build_segmentation_pack(data: Path, seed: int = 1337, stride: int = 2, variants: int = 2,
                            size: int = SEGMENTER_SIZE, held_out: tuple[str, ...] = HELD_OUT,
                            tumour_free: bool = False) -> dict:  # fmt: skip
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
    if tumour_free:
        empties = tumour_free_slices(data, seed, size, held_out)
        for item in empties:
            parts["images"].append(preprocess_gray(item["image"], size).astype(np.float16))
            parts["masks"].append(np.zeros((size, size), np.uint8))
            parts["source"].append(item["source"])
            parts["plane"].append(item["plane"])
            parts["slice_index"].append(item["index"])
            parts["split"].append("val" if item["held"] else "train")
            parts["augmented"].append(False)
        log.info("tumour-free slices: %d", len(empties))
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
    empty = pack["masks"].reshape(len(pack["masks"]), -1).max(axis=1) == 0
    out["tumour_free_held_out_people"] = list(HELD_OUT_NORMALS)
    for part in ("train", "val"):
        chosen = pack["split"] == part
        out[part] = {"images": int(chosen.sum()), "tumour_free": int((chosen & empty).sum()),
                     "sources": sorted(set(pack["source"][chosen & ~empty].tolist()))}  # fmt: skip
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import data_dir

    parser.add_argument("--data", type=Path, default=data_dir(), help="the shared data root (holds volumes/)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz pack to write")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--stride", type=int, default=2)
    parser.add_argument("--variants", type=int, default=2, help="copies per training slice (first unaugmented)")
    parser.add_argument("--size", type=int, default=SEGMENTER_SIZE)
    parser.add_argument(
        "--tumour-free", action="store_true",
        help="also empty-mask slices: BraTS slices far from any label, the normal people's series, notumor JPEGs",
    )  # fmt: skip


def write_pack(args: argparse.Namespace) -> Path:
    """``brainscan train segmenter-pack``: build the pack and its summary JSON."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    out: Path = args.out
    pack = build_segmentation_pack(
        args.data, args.seed, args.stride, args.variants, args.size, tumour_free=getattr(args, "tumour_free", False)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **pack)
    summary = pack_summary(pack)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2))
    log.info("wrote %s: %s", out, json.dumps(summary))
    return out
