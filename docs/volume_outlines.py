"""Outlined tumour volume against the expert tumour core: ungated, gated, and gated as one followed region.

Reads the series cache that `brainscan evaluate folds --cache DIR` fills with the shipped models (ungated maps of
every assessed slice with P(tumour) >= 0.3 and whether the segmenter's slice gate passed each one) and, for every
series with an expert label (the BraTS volumes), outlines what the app would outline for a tumour verdict:

* ungated: every outline of the slices at the classifier's operating point (the card's mask threshold and
  clean-up);
* gated: only the outlines the slice gate passes (segmenter 0.5 as shipped on 2026-12-04);
* region: brainscan.pipeline.extent: the gated outlines' largest region across slices, followed into
  neighbouring slices with P(tumour) >= FOLLOW_MIN_P whose gated outline connects to it;
* planes (with ``--three-planes``): the app for thin-slice volumes (brainscan.pipeline.multiplanar): the region
  read again in all three planes, the mean of the three maps; it runs the shipped segmenter on the reslices
  (about 12 s per volume here).

It prints the volume in mL, its error against the tumour core (labels 1 + 4) and the 3D Dice, per series and as
medians, and in how many series the largest outlined region (connected across slices) touches the core;
``--thick`` adds each volume's thick-slice view (every 5th slice, as the series folds do). The slice
models saw the BraTS training volumes; the four held-out volumes of the segmenter card are marked.

``--choose`` is how the app's rule was chosen: on the post-contrast T1 series (and their thick views) it scores
the candidate rules in ``CANDIDATES`` and picks, leaving one person out at a time, the rule with the best mean 3D
Dice on the other people; it prints the picks and the out-of-fold results.

    python docs/volume_outlines.py --cache DIR [--thick] [--choose] [--three-planes]
    (needs ../shared/data or BRAINSCAN_DATA, and the filled cache)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from brainscan.config import data_dir
from brainscan.pipeline.extent import FOLLOW_MIN_P, largest_region, tumour_region
from brainscan.pipeline.masks import clean_mask
from brainscan.rules import tumour_probability
from brainscan.runtime.loading import load_shipped_models
from brainscan.training.series_cache import cache_path, load_case_volume
from brainscan.training.series_cases import reference_core, series_cases
from brainscan.training.series_folds import thick_stride

WAYS = ("ungated", "gated", "region")
CANDIDATES = {  # rule name: (regions kept: share of the largest, or None for all; follow into neighbours)
    "gated": (None, False),
    "largest": (1.0, False),
    "largest+follow": (1.0, True),
    "share 0.5+follow": (0.5, True),
    "share 0.2+follow": (0.2, True),
    "share 0.1+follow": (0.1, True),
    "all+follow": (0.0, True),
}
"""Rules ``--choose`` compares; "largest+follow" is what the app does (brainscan.pipeline.extent)."""


def cached_outlines(case, cache: Path, mask_threshold: float, pixel_spacing_mm):
    """P(tumour) and assessed per slice; cleaned outlines and gate passes of the cached slices."""
    with np.load(cache_path(cache, case)) as cached:
        if "candidate_gate_passed" not in cached:
            raise SystemExit(f"{cache} was filled before the slice gate; fill a new cache with evaluate folds")
        tumour_p = tumour_probability(cached["probabilities"].astype(np.float64))
        assessed = cached["assessed"].astype(bool)
        masks, passed = {}, {}
        slices = zip(cached["candidates"], cached["candidate_maps"], cached["candidate_gate_passed"], strict=True)
        for index, prob, ok in slices:
            masks[int(index)] = clean_mask(prob.astype(np.float32) / 255.0, mask_threshold, pixel_spacing_mm)
            passed[int(index)] = bool(ok)
    return tumour_p, assessed, masks, passed


def outlined(tumour_p, assessed, masks, passed, threshold: float, shape, rules=None) -> dict[str, np.ndarray]:
    """Outline volumes of one series (slices indexed 0..len(tumour_p)-1): ``WAYS``, or the named ``rules`` of
    ``CANDIDATES``."""
    positive = [i for i in masks if assessed[i] and tumour_p[i] >= threshold]
    gated = {i: masks[i] for i in positive if passed[i]}
    followable = assessed & (tumour_p >= FOLLOW_MIN_P)

    def outline_more(indices):
        missing = [i for i in indices if i not in masks]
        if missing:
            raise SystemExit(f"slices {missing} are not in the cache (P(tumour) below the cache's threshold)")
        return {i: masks[i] for i in indices if passed[i]}

    def stacked(per_slice):
        out = np.zeros(shape, bool)
        for i, mask in per_slice.items():
            out[i] = mask
        return out

    if rules is None:
        region = tumour_region(gated, followable, outline_more, tried=set(positive))
        ungated = {i: masks[i] for i in positive}
        return {"ungated": stacked(ungated), "gated": stacked(gated), "region": stacked(region.kept)}
    out = {}
    for name in rules:
        share, follow = CANDIDATES[name]
        if share is None:
            out[name] = stacked(gated)
            continue
        region = tumour_region(gated, followable if follow else np.zeros_like(followable), outline_more,
                               tried=set(positive), keep_share=share)  # fmt: skip
        out[name] = stacked(region.kept)
    return out


def cached_maps(case, cache: Path) -> dict[int, np.ndarray]:
    """Ungated probability maps of the cached slices (P(tumour) >= 0.3), by slice index."""
    with np.load(cache_path(cache, case)) as cached:
        pairs = zip(cached["candidates"], cached["candidate_maps"], strict=True)
        return {int(i): m.astype(np.float32) / 255.0 for i, m in pairs}


def three_plane_outlines(volume, stride: int, region: np.ndarray, maps: dict, assessed, segmenter) -> np.ndarray:
    """The app's three-plane reading (brainscan.pipeline.analyze.three_planes) of a thin-slice volume's region;
    the region itself where the volume (or its thick view) is not thin."""
    from types import SimpleNamespace

    from brainscan.pipeline.analyze import measured_outline, outline_maps, three_planes
    from brainscan.pipeline.multiplanar import is_thin_volume

    thin = is_thin_volume(volume.pixel_spacing_mm, volume.slice_spacing_mm, volume.n_slices)
    if stride != 1 or not thin or not region.any():
        return region
    outlines = {i: measured_outline(volume, i, m) for i, m in enumerate(region) if m.any()}
    predictions = [SimpleNamespace(assessed=bool(a)) for a in assessed]
    kept, _ = three_planes(volume, predictions, segmenter, outlines, {}, dict(maps),
                           lambda images: outline_maps(segmenter, list(images))[0])  # fmt: skip
    out = np.zeros_like(region)
    for i, s in kept.items():
        out[i] = s.mask
    return out


def largest_on_core(outlined_volume: np.ndarray, core: np.ndarray) -> bool:
    """Whether the largest region of the outlines (connected across slices) touches the tumour core."""
    kept, _ = largest_region({i: m for i, m in enumerate(outlined_volume) if m.any()})
    return any((mask & core[i]).any() for i, mask in kept.items())


def dice3d(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * (a & b).sum() / total)


def views(case, cache: Path, thick: bool):
    """(label, slice stride) of the views to score: the volume and, with ``thick``, its thick-slice view."""
    yield "", 1
    if thick:
        with np.load(cache_path(cache, case)) as cached:
            stride = thick_stride(float(cached["slice_spacing_mm"])) if "slice_spacing_mm" in cached else 1
        if stride > 1:
            yield f" @{stride}", stride


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=data_dir())
    parser.add_argument("--thick", action="store_true", help="also score every volume's thick-slice view")
    parser.add_argument("--choose", action="store_true", help="choose among CANDIDATES, leaving one person out")
    parser.add_argument("--three-planes", action="store_true", help="add the app's three-plane reading (slow)")
    args = parser.parse_args()
    ways = WAYS + (("planes",) if args.three_planes else ())
    models = load_shipped_models()
    threshold = models.classifier.spec.tumour_threshold or 0.5
    mask_threshold = models.segmenter.spec.mask_threshold
    held_out = set(models.segmenter.spec.card["split"].get("held_out_volumes", []))
    header = f"{'series':38s} {'core mL':>8s}"
    for way in ways:
        header += f" | {way + ' mL':>10s} {'error':>6s} {'Dice':>5s}"
    print(header)
    rows, scores = [], []
    for case in series_cases(args.data):
        if case.reference is None:
            continue
        volume = load_case_volume(case)
        core_all = reference_core(case, volume.pixels.shape)
        if core_all is None:
            continue
        tumour_p, assessed, masks, passed = cached_outlines(case, args.cache, mask_threshold, volume.pixel_spacing_mm)
        for label, stride in views(case, args.cache, args.thick):
            keep = np.arange(0, volume.n_slices, stride)
            renumber = {int(old): new for new, old in enumerate(keep)}
            sub = {renumber[i]: m for i, m in masks.items() if i in renumber}
            sub_passed = {renumber[i]: ok for i, ok in passed.items() if i in renumber}
            shape = (len(keep), *volume.pixels.shape[1:])
            outlines = outlined(tumour_p[keep], assessed[keep], sub, sub_passed, threshold, shape)
            core = core_all[keep]
            if args.three_planes:
                maps = cached_maps(case, args.cache)
                outlines["planes"] = three_plane_outlines(
                    volume, stride, outlines["region"], maps, assessed, models.segmenter
                )
            if args.choose and case.sequence == "t1ce":
                rules = outlined(tumour_p[keep], assessed[keep], sub, sub_passed, threshold, shape, CANDIDATES)
                scored = {rule: (dice3d(m, core), m.sum(), core.sum()) for rule, m in rules.items()}
                scores.append((case.person, stride, scored))
            voxel_ml = volume.pixel_spacing_mm[0] * volume.pixel_spacing_mm[1] * volume.slice_spacing_mm * stride / 1e3
            name = f"{case.person}/{case.sequence}"
            core_ml = core.sum() * voxel_ml
            line = f"{name + label + (' *' if name in held_out else ''):38s} {core_ml:8.1f}"
            row = {"sequence": case.sequence, "stride": stride}
            for way in ways:
                ml = outlines[way].sum() * voxel_ml
                error, d = (ml - core_ml) / core_ml, dice3d(outlines[way], core)
                row[way] = (abs(error), d, largest_on_core(outlines[way], core))
                line += f" | {ml:10.1f} {100 * error:+5.0f}% {d:5.2f}"
            rows.append(row)
            print(line, flush=True)
    for sequence in sorted({r["sequence"] for r in rows}):
        for stride in sorted({r["stride"] for r in rows}):
            chosen = [r for r in rows if r["sequence"] == sequence and r["stride"] == stride]
            if not chosen:
                continue
            print(f"{sequence}{' every ' + str(stride) + 'th slice' if stride > 1 else ''}, {len(chosen)} series:")
            for way in ways:
                errors = np.asarray([r[way][0] for r in chosen])
                dices = np.asarray([r[way][1] for r in chosen])
                print(
                    f"  {way:8s} median |error| {100 * np.median(errors):4.0f} %, within 20 %: "
                    f"{(errors <= 0.2).sum():2d}; median Dice {np.median(dices):.3f}, Dice >= 0.80: "
                    f"{(dices >= 0.8).sum():2d}, lowest {dices.min():.2f}; largest region on the core: "
                    f"{sum(r[way][2] for r in chosen)}"
                )
    print("* held out from the segmenter's training")
    if args.choose:
        choose(scores)
    return 0


def choose(scores) -> None:
    """Leave one person out: the rule with the best mean 3D Dice over the others' series, scored on the person."""
    people = sorted({person for person, _, _ in scores})
    picks, out_of_fold = {}, []
    for person in people:
        others = [s for p, _, s in scores if p != person]
        best = max(CANDIDATES, key=lambda rule: np.mean([s[rule][0] for s in others]))
        picks[best] = picks.get(best, 0) + 1
        out_of_fold += [(stride, s[best], s["gated"]) for p, stride, s in scores if p == person]
    print(f"\nleave-one-person-out picks over {len(people)} people: {picks}")
    for stride in sorted({stride for stride, _, _ in out_of_fold}):
        chosen = [(b, g) for st, b, g in out_of_fold if st == stride]
        for label, k in (("chosen rule", 0), ("gated", 1)):
            dices = np.asarray([c[k][0] for c in chosen])
            errors = np.asarray([abs(c[k][1] - c[k][2]) / c[k][2] for c in chosen])
            print(
                f"  {'every ' + str(stride) + 'th slice' if stride > 1 else 'volume'}, {label:11s}: median 3D Dice "
                f"{np.median(dices):.3f}, Dice >= 0.80 {(dices >= 0.8).sum()} of {len(dices)}; median |volume error| "
                f"{100 * np.median(errors):.0f} %, within 20 % {(errors <= 0.2).sum()}"
            )


if __name__ == "__main__":
    raise SystemExit(main())
