"""Model outputs per series, computed once and kept on disk, so the series-level folds refit in seconds.

The slice models (classifier, segmenter) are fixed during the folds; only the series decision is refitted. What
is cached is what the app computes: every slice's calibrated probabilities and whether it can be assessed
(brainscan.pipeline.analyze.classify_slices), and the segmenter's probability map of every assessed slice whose
P(tumour) reaches ``CANDIDATE_P`` (below any operating point, so the folds can move the slice threshold).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from brainscan.training.series_cases import SeriesCase

log = logging.getLogger(__name__)

CANDIDATE_P = 0.3
"""Slices segmented for the cache: assessed with P(tumour) at least this."""


def cache_path(cache_dir: Path, case: SeriesCase) -> Path:
    return Path(cache_dir) / f"{case.group}__{case.person}__{case.sequence}.npz"


def load_case_volume(case: SeriesCase):
    """The series as the app loads it.

    Raises:
        BrainScanError: when it cannot be read.
    """
    from brainscan.errors import SeriesLoadError
    from brainscan.io.batch import scan_and_load

    outcomes = [o for o in scan_and_load([case.path]) if o.volume is not None]
    if not outcomes:
        raise SeriesLoadError(f"{case.path} could not be loaded")
    return max(outcomes, key=lambda o: o.volume.n_slices).volume


def compute_case(case: SeriesCase, classifier, segmenter) -> dict:
    """Model outputs for one series (arrays ready for np.savez)."""
    from brainscan.pipeline.analyze import classify_slices, outline_maps
    from brainscan.rules import tumour_probability

    volume = load_case_volume(case)
    start = time.perf_counter()
    predictions = classify_slices(volume, classifier, lambda *a: None, lambda: None)
    classify_s = time.perf_counter() - start
    probs = np.asarray([p.probabilities for p in predictions], dtype=np.float32)
    assessed = np.asarray([p.assessed for p in predictions], dtype=bool)
    tumour_p = tumour_probability(probs)
    candidates = np.flatnonzero(assessed & (tumour_p >= CANDIDATE_P))
    start = time.perf_counter()
    # ungated maps: the series model weighs every outline (the app too); the gate's verdict is kept beside them
    maps, passed = outline_maps(segmenter, [volume.pixels[i] for i in candidates], 8) if len(candidates) else ([], [])
    segment_s = time.perf_counter() - start
    seg = np.zeros((len(candidates), *volume.pixels.shape[1:]), dtype=np.uint8)
    for k, prob in enumerate(maps):
        seg[k] = np.clip(np.rint(np.asarray(prob) * 255), 0, 255).astype(np.uint8)
    return {
        "probabilities": probs,
        "assessed": assessed,
        "reasons": np.asarray([p.reason for p in predictions]),
        "candidates": candidates.astype(np.int32),
        "candidate_maps": seg,
        "candidate_gate_passed": np.asarray(passed, dtype=bool),
        "pixel_spacing_mm": np.asarray(volume.pixel_spacing_mm or (np.nan, np.nan), dtype=np.float64),
        "slice_spacing_mm": np.float64(volume.slice_spacing_mm or np.nan),
        "orientation": np.asarray(volume.orientation or (np.nan,) * 6, dtype=np.float64),
        "shape": np.asarray(volume.pixels.shape),
        "seconds": np.asarray([classify_s, segment_s]),
    }


def fill_cache(cases: list[SeriesCase], cache_dir: Path, classifier, segmenter, models_key: str) -> None:
    """Compute every case missing from ``cache_dir`` (resumable: a killed run keeps what it finished).

    ``models_key`` (the models' SHA-256s) is stored with each entry; an entry of other models is recomputed.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for number, case in enumerate(cases, start=1):
        target = cache_path(cache_dir, case)
        if target.exists():
            with np.load(target) as old:
                if str(old["models_key"]) == models_key:
                    continue
        start = time.perf_counter()
        arrays = compute_case(case, classifier, segmenter)
        partial = target.with_suffix(".partial.npz")
        np.savez_compressed(partial, models_key=np.asarray(models_key), **arrays)
        partial.replace(target)
        log.info("%d/%d %s: %.1f s", number, len(cases), case.name, time.perf_counter() - start)
        print(f"{number}/{len(cases)} {case.name}: {time.perf_counter() - start:.1f} s", flush=True)


def models_key(classifier, segmenter) -> str:
    """What identifies the slice models a cache entry came from."""
    parts = []
    for model in (classifier, segmenter):
        info = model.spec.info() if getattr(model, "spec", None) is not None else None
        parts.append(f"{info.name}:{info.version}:{info.sha256[:16]}" if info else type(model).__name__)
    return "|".join(parts)
