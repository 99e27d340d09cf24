"""Folder-per-class datasets: listing, duplicate-aware stratified split, and a decoded-pixel cache."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from brainscan.errors import SeriesLoadError
from brainscan.io.scan import IMAGE_SUFFIXES
from brainscan.runtime.preprocess import preprocess_gray
from brainscan.types import CLASS_NAMES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledImages:
    """Image paths with integer labels in CLASS_NAMES order."""

    paths: tuple[Path, ...]
    labels: np.ndarray


def list_class_folders(root: Path) -> LabelledImages:
    """List ``root/<class>/*`` for the four classes, sorted by name within each class.

    Raises:
        SeriesLoadError: if a class folder is missing or the set is empty.
    """
    paths: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(CLASS_NAMES):
        folder = root / name
        if not folder.is_dir():
            raise SeriesLoadError(f"The dataset folder {root} has no '{name}' subfolder.")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        paths.extend(files)
        labels.extend([index] * len(files))
    if not paths:
        raise SeriesLoadError(f"No images found under {root}.")
    return LabelledImages(tuple(paths), np.asarray(labels, dtype=np.int64))


def file_md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def duplicate_aware_split(
    data: LabelledImages, val_fraction: float = 0.15, seed: int = 1337
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/validation split that keeps byte-identical files on one side.

    Files are grouped by MD5 of their bytes (the definition used by duplicates_md5.csv); whole groups
    are shuffled with ``seed`` per class and moved to validation until the class quota is met.
    Returns index arrays (train, val), each sorted.
    """
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, path in enumerate(data.paths):
        groups[(int(data.labels[i]), file_md5(path))].append(i)
    rng = random.Random(seed)
    val: list[int] = []
    for label in range(len(CLASS_NAMES)):
        class_groups = sorted((g for (lab, _), g in groups.items() if lab == label), key=lambda g: g[0])
        rng.shuffle(class_groups)
        quota = round(val_fraction * sum(len(g) for g in class_groups))
        taken = 0
        for group in class_groups:
            if taken >= quota:
                break
            val.extend(group)
            taken += len(group)
    val_set = set(val)
    train = [i for i in range(len(data.paths)) if i not in val_set]
    return np.asarray(sorted(train)), np.asarray(sorted(val))


def read_image(path: Path) -> np.ndarray:
    """Decode any image file PIL knows (whatever its extension says) into a grey uint8 array."""
    with Image.open(path) as img:
        return np.asarray(img.convert("L"))


def build_cache(data: LabelledImages, size: int, cache_file: Path) -> np.ndarray:
    """Preprocess every image once (brainscan.runtime.preprocess) and keep it as float16 on disk."""
    key = {"n": len(data.paths), "size": size, "first": str(data.paths[0]), "last": str(data.paths[-1])}
    meta_file = cache_file.with_suffix(".json")
    if cache_file.exists() and meta_file.exists() and json.loads(meta_file.read_text()) == key:
        return np.load(cache_file)
    log.info("decoding %d images into %s", len(data.paths), cache_file)
    out = np.zeros((len(data.paths), size, size), dtype=np.float16)
    for i, path in enumerate(data.paths):
        out[i] = preprocess_gray(read_image(path), size)
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache_file, out)
    meta_file.write_text(json.dumps(key))
    return out
