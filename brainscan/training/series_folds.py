"""`brainscan evaluate folds`: series-level cross-validation across people (issue 31).

Each fold leaves one person out (all their series), refits only the series decision (a small logistic model
over brainscan.pipeline.evidence features) on everyone else, and judges the left-out person's series. The slice
models stay fixed; their outputs come from brainscan.training.series_cache. Reported: series false alarms
(normal series called tumour), lesion series called tumour, missed tumours, and whether the key slices hold the
reference tumour, person by person, before (the slice rule alone) and after (the series model).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from brainscan.pipeline.evidence import FEATURES, SeriesEvidence, volume_evidence
from brainscan.pipeline.masks import clean_mask
from brainscan.rules import run_length, strongest_window, tumour_probability
from brainscan.training.series_cache import cache_path, load_case_volume
from brainscan.training.series_cases import SeriesCase, reference_core

L2 = 1.0
"""Ridge penalty on the standardised weights: with about 40 series, a strong prior keeps weights small."""


@dataclasses.dataclass
class CaseEvidence:
    case: SeriesCase
    evidence: SeriesEvidence
    key_on_tumour: float | None  # share of the key slices (largest outlines) that hold reference tumour core
    region_on_tumour: float | None  # share of the largest region's voxels inside the reference tumour core


THICK_MM = 5.0
"""Thin-slice volumes are also judged as a clinical 2D series would show them: every k-th slice, k * spacing
about this many mm apart (the slice models read each slice alone, so their cached outputs still hold)."""


def case_evidence(
    case: SeriesCase, cache_dir: Path, threshold: float, mask_threshold: float, stride: int = 1
) -> CaseEvidence:
    """Evidence of one cached series, as the app would measure it at this slice and mask threshold; with
    ``stride`` k, of every k-th slice only (a thick-slice series of the same person)."""
    volume = load_case_volume(case)
    with np.load(cache_path(cache_dir, case)) as cached:
        probs = cached["probabilities"].astype(np.float64)
        assessed = cached["assessed"]
        candidates = cached["candidates"]
        maps = cached["candidate_maps"]
    full_slices = volume.n_slices
    if stride > 1:
        keep = np.arange(stride // 2, volume.n_slices, stride)
        position = {int(old): new for new, old in enumerate(keep)}
        chosen = [k for k, index in enumerate(candidates) if int(index) in position]
        candidates = np.asarray([position[int(candidates[k])] for k in chosen], dtype=np.int64)
        maps = maps[chosen]
        probs, assessed = probs[keep], assessed[keep]
        volume = dataclasses.replace(
            volume, pixels=volume.pixels[keep], slice_spacing_mm=(volume.slice_spacing_mm or 1.0) * stride
        )
        case = dataclasses.replace(case, sequence=f"{case.sequence}@{volume.slice_spacing_mm:g}mm")
    tumour_p = np.asarray(tumour_probability(probs))
    run_p, _ = strongest_window(tumour_p, assessed, run_length(len(tumour_p), volume.slice_spacing_mm))
    masks = {}
    for index, prob in zip(candidates, maps, strict=True):
        if tumour_p[index] >= threshold:
            mask = clean_mask(prob.astype(np.float32) / 255.0, mask_threshold, pixel_spacing_mm=volume.pixel_spacing_mm)
            if mask.any():
                masks[int(index)] = mask
    evidence = volume_evidence(volume, tumour_p, assessed, masks, threshold, run_p)
    key_on, region_on = None, None
    core = reference_core(case, (full_slices, *volume.shape[1:]))
    if core is not None and stride > 1:
        core = core[keep]
    if core is not None and evidence.region_slices:
        key = evidence.region_slices[:6]
        key_on = float(np.mean([core[i].any() for i in key]))
        outlined = np.zeros(volume.shape, dtype=bool)
        for index, mask in masks.items():
            outlined[index] = mask
        from brainscan.pipeline.evidence import largest_region

        region, _, _ = largest_region(outlined, 1.0)
        region_on = float(core[region].mean()) if region.any() else None
    return CaseEvidence(case, evidence, key_on, region_on)


# ------------------------------------------------------------------ the series model: ridge logistic regression


@dataclasses.dataclass(frozen=True)
class SeriesModelFit:
    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def probability(self, x: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(x) - self.mean) / self.scale
        return 1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias)))

    def as_dict(self) -> dict:
        return {
            "features": list(self.features),
            "mean": [float(v) for v in self.mean],
            "scale": [float(v) for v in self.scale],
            "weights": [float(v) for v in self.weights],
            "bias": float(self.bias),
        }


def fit_series_model(x: np.ndarray, y: np.ndarray, features: tuple[str, ...], l2: float = L2) -> SeriesModelFit:
    """Ridge logistic regression on standardised features, classes weighted to count equally."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    weight = np.where(y == 1, 0.5 / max(1, (y == 1).sum()), 0.5 / max(1, (y == 0).sum()))

    def loss(params):
        w, b = params[:-1], params[-1]
        logits = z @ w + b
        nll = np.sum(weight * (np.logaddexp(0.0, logits) - y * logits))
        grad_logits = weight * (1.0 / (1.0 + np.exp(-logits)) - y)
        penalty = 0.5 * l2 * np.sum(w**2) / len(y)
        return nll + penalty, np.concatenate([z.T @ grad_logits + l2 * w / len(y), [grad_logits.sum()]])

    result = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B")
    return SeriesModelFit(features, mean, scale, result.x[:-1], float(result.x[-1]))


def feature_matrix(rows: list[CaseEvidence], features: tuple[str, ...]) -> np.ndarray:
    index = [FEATURES.index(name) for name in features]
    return np.asarray([row.evidence.vector()[index] for row in rows])


def leave_one_person_out(rows: list[CaseEvidence], features: tuple[str, ...], l2: float = L2) -> np.ndarray:
    """Out-of-fold series-model P(tumour) of every series: each person's series judged by a model fitted on
    everyone else."""
    x = feature_matrix(rows, features)
    y = np.asarray([row.case.group == "tumour" for row in rows], dtype=np.float64)
    persons = np.asarray([row.case.person for row in rows])
    out = np.zeros(len(rows))
    for person in np.unique(persons):
        held = persons == person
        fit = fit_series_model(x[~held], y[~held], features, l2)
        out[held] = fit.probability(x[held])
    return out


def summarise(rows: list[CaseEvidence], scores: np.ndarray, threshold: float) -> dict:
    """Series-level counts at ``threshold``, and person-level ones (a person is called tumour when any of their
    series is)."""
    called = scores >= threshold
    groups = np.asarray([row.case.group for row in rows])
    persons = np.asarray([row.case.person for row in rows])
    out = {}
    for group in ("normal", "lesion", "tumour"):
        chosen = groups == group
        people = np.unique(persons[chosen])
        out[group] = {
            "series": int(chosen.sum()),
            "series_called_tumour": int(called[chosen].sum()),
            "people": int(len(people)),
            "people_called_tumour": int(sum(called[chosen & (persons == p)].any() for p in people)),
        }
    return out


def thick_stride(slice_spacing_mm: float | None) -> int:
    """k for the thick-slice view of a volume (1: it is thick already)."""
    if not slice_spacing_mm or slice_spacing_mm * 2 > THICK_MM:
        return 1
    return int(round(THICK_MM / slice_spacing_mm))


def all_evidence(
    cases: list[SeriesCase], cache_dir: Path, threshold: float, mask_threshold: float, thick: bool = True
) -> list[CaseEvidence]:
    """Evidence of every case, and with ``thick`` also of each thin-slice volume's thick-slice view."""
    rows = []
    for case in cases:
        row = case_evidence(case, cache_dir, threshold, mask_threshold)
        rows.append(row)
        if thick:
            with np.load(cache_path(cache_dir, case)) as cached:
                stride = thick_stride(float(cached["slice_spacing_mm"]))
            if stride > 1:
                rows.append(case_evidence(case, cache_dir, threshold, mask_threshold, stride))
    return rows


TUMOUR_FEATURES = (
    "run_p", "log_region_ml", "region_share", "region_consistency", "region_edge", "region_asymmetry",
    "region_depth",
)  # fmt: skip
ABNORMAL_FEATURES = ("positive_fraction", "region_share", "region_edge", "region_consistency")
CANDIDATE_SETS = {
    "chosen": TUMOUR_FEATURES,
    "without size": tuple(f for f in TUMOUR_FEATURES if f != "log_region_ml"),
    "shape only": ("region_share", "region_consistency", "region_asymmetry"),
}
"""Tumour-part feature sets compared by the folds (docs/real-scans.md); "chosen" ships."""
L2_CHOSEN = 5.0
TUMOUR_DECISION = 0.5
ABNORMAL_DECISION = 0.6


def leave_one_person_out_abnormal(rows: list[CaseEvidence], l2: float = L2_CHOSEN) -> np.ndarray:
    """Out-of-fold P(abnormal) of every non-tumour series (lesion vs normal; tumour rows get NaN)."""
    x = feature_matrix(rows, ABNORMAL_FEATURES)
    groups = np.asarray([row.case.group for row in rows])
    persons = np.asarray([row.case.person for row in rows])
    out = np.full(len(rows), np.nan)
    usable = groups != "tumour"
    y = (groups == "lesion").astype(np.float64)
    for person in np.unique(persons[usable]):
        held = usable & (persons == person)
        train = usable & (persons != person)
        out[held] = fit_series_model(x[train], y[train], ABNORMAL_FEATURES, l2).probability(x[held])
    return out


def verdicts(p_tumour: np.ndarray, p_abnormal: np.ndarray) -> list[str]:
    return [
        "tumour" if t >= TUMOUR_DECISION else ("abnormal" if np.isfinite(a) and a >= ABNORMAL_DECISION else "no tumour")
        for t, a in zip(p_tumour, p_abnormal, strict=True)
    ]


def run_folds(rows: list[CaseEvidence], threshold: float, mask_threshold: float) -> dict:
    """The folds: the slice rule alone ("before"), each candidate feature set, and the shipped pair of parts
    (tumour + abnormal) with its three-way verdict ("after")."""
    baseline = np.asarray([row.evidence.run_p for row in rows])
    report = {
        "slice_threshold": threshold,
        "mask_threshold": mask_threshold,
        "decision": {"tumour_threshold": TUMOUR_DECISION, "abnormal_threshold": ABNORMAL_DECISION, "l2": L2_CHOSEN},
        "folds": "leave one person out (all their series, and the thick-slice views of their volumes)",
        "before": summarise(rows, baseline, threshold),
        "feature_sets": {},
        "rows": [],
    }
    oof = {name: leave_one_person_out(rows, features, L2_CHOSEN) for name, features in CANDIDATE_SETS.items()}
    for name, features in CANDIDATE_SETS.items():
        report["feature_sets"][name] = {"features": list(features), **summarise(rows, oof[name], TUMOUR_DECISION)}
    p_abnormal = leave_one_person_out_abnormal(rows)
    after = verdicts(oof["chosen"], p_abnormal)
    report["after"] = three_way_summary(rows, after)
    for i, row in enumerate(rows):
        report["rows"].append({
            "person": row.case.person,
            "group": row.case.group,
            "sequence": row.case.sequence,
            "before_p": round(float(baseline[i]), 3),
            "before": "tumour" if baseline[i] >= threshold else "no tumour",
            "p_tumour": round(float(oof["chosen"][i]), 3),
            "p_abnormal": None if not np.isfinite(p_abnormal[i]) else round(float(p_abnormal[i]), 3),
            "after": after[i],
            "region_ml": round(row.evidence.region_ml, 1),
            "key_on_tumour": row.key_on_tumour,
            "region_on_tumour": None if row.region_on_tumour is None else round(row.region_on_tumour, 3),
            "evidence": {k: round(float(v), 3) for k, v in row.evidence.values().items()},
        })  # fmt: skip
    return report


def three_way_summary(rows: list[CaseEvidence], calls: list[str]) -> dict:
    out = {}
    for group in ("normal", "lesion", "tumour"):
        chosen = [c for row, c in zip(rows, calls, strict=True) if row.case.group == group]
        out[group] = {"series": len(chosen), **{c: chosen.count(c) for c in ("tumour", "abnormal", "no tumour")}}
    keys = [
        row.key_on_tumour for row, c in zip(rows, calls, strict=True) if c == "tumour" and row.key_on_tumour is not None
    ]
    out["tumour"]["key_slices_on_tumour"] = round(float(np.mean(keys)), 3) if keys else None
    out["tumour"]["series_all_key_slices_on_tumour"] = int(sum(k == 1.0 for k in keys))
    return out


def fit_shipped(rows: list[CaseEvidence]) -> dict:
    """Both parts fitted on every person (what ships), as the weights file holds them."""
    groups = np.asarray([row.case.group for row in rows])
    y = (groups == "tumour").astype(np.float64)
    tumour = fit_series_model(feature_matrix(rows, TUMOUR_FEATURES), y, TUMOUR_FEATURES, L2_CHOSEN)
    usable = groups != "tumour"
    x_ab = feature_matrix([r for r, u in zip(rows, usable, strict=True) if u], ABNORMAL_FEATURES)
    abnormal = fit_series_model(x_ab, (groups[usable] == "lesion").astype(np.float64), ABNORMAL_FEATURES, L2_CHOSEN)
    return {"tumour": tumour.as_dict(), "abnormal": abnormal.as_dict()}


def print_report(report: dict) -> None:
    def line(label, s):
        n, le, t = s["normal"], s["lesion"], s["tumour"]
        print(
            f"{label:22s} normal series called tumour {n['series_called_tumour']}/{n['series']} "
            f"(people {n['people_called_tumour']}/{n['people']}); lesion {le['series_called_tumour']}/{le['series']}; "
            f"tumour series missed {t['series'] - t['series_called_tumour']}/{t['series']}"
        )

    line("before (slice rule)", report["before"])
    for name, s in report["feature_sets"].items():
        line(name, s)
    a = report["after"]
    print(
        f"after (shipped)        normal: tumour {a['normal']['tumour']}, abnormal {a['normal']['abnormal']}, "
        f"no tumour {a['normal']['no tumour']} of {a['normal']['series']}; lesion: tumour {a['lesion']['tumour']}, "
        f"abnormal {a['lesion']['abnormal']} of {a['lesion']['series']}; tumour missed "
        f"{a['tumour']['series'] - a['tumour']['tumour']}/{a['tumour']['series']}, key slices on the tumour "
        f"{a['tumour']['key_slices_on_tumour']}"
    )
    print(f"{'person':32s} {'group':7s} {'series':12s} before  P(tum) P(abn) after      mL   key")
    for r in report["rows"]:
        ab = "" if r["p_abnormal"] is None else f"{r['p_abnormal']:.2f}"
        key = "" if r["key_on_tumour"] is None else f"{r['key_on_tumour']:.2f}"
        print(
            f"{r['person'][:32]:32s} {r['group']:7s} {r['sequence'][:12]:12s} {r['before_p']:5.2f}  "
            f"{r['p_tumour']:5.2f}  {ab:5s}  {r['after']:9s} {r['region_ml']:6.1f} {key}"
        )


def write_report(report: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(report, indent=1, default=float))


def export_series_model(rows: list[CaseEvidence], report: dict, out_dir: Path, slice_models: dict) -> Path:
    """Write the weights (fitted on every person) and the card with the folds' numbers; returns the card path."""
    import datetime as dt

    from brainscan.runtime.integrity import sha256_of

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = out_dir / "series_model_weights.json"
    weights.write_text(json.dumps(fit_shipped(rows), indent=1) + "\n")
    people = sorted({row.case.person for row in rows})
    card = {
        "name": "BrainScan series model",
        "version": "1.0",
        "file": weights.name,
        "sha256": sha256_of(weights),
        "what": "two ridge logistic regressions over per-series evidence (brainscan.pipeline.evidence): "
        "tumour vs not tumour, and for series not called tumour, a non-tumour abnormality (multiple sclerosis) "
        "vs a normal brain",
        "features": {"tumour": list(TUMOUR_FEATURES), "abnormal": list(ABNORMAL_FEATURES)},
        "decision": {
            "tumour_threshold": TUMOUR_DECISION,
            "abnormal_threshold": ABNORMAL_DECISION,
            "min_slices": MIN_SLICES,
            "slice_threshold": report["slice_threshold"],
            "mask_threshold": report["mask_threshold"],
        },
        "slice_models": slice_models,
        "data": "../shared/data/volumes: normal people (DICOM and NIfTI, T1 and FLAIR), multiple sclerosis (lesion), "
        "BraTS 2018 gliomas (t1ce, flair); each thin-slice volume also as a thick-slice series (every k-th slice, "
        f"about {THICK_MM:g} mm)",
        "people": {
            g: sorted({r.case.person for r in rows if r.case.group == g}) for g in ("normal", "lesion", "tumour")
        },
        "split": "leave one person out (all of their series together); the slice models are fixed, only the two "
        "logistic parts are refitted in each fold; the shipped weights are fitted on all "
        f"{len(people)} people",
        "how_chosen": "feature set, ridge penalty and thresholds chosen on the folds' out-of-fold results "
        "(docs/real-scans.md); the region volume is capped at 10 mL because every tumour here is a large glioma",
        "init": "zeros; L-BFGS-B on the class-balanced ridge logistic loss (scipy)",
        "epochs": None,
        "seed": None,
        "validation": {
            "method": "leave one person out",
            "before": report["before"],
            "after": report["after"],
            "feature_sets": report["feature_sets"],
        },
        "limits": "every tumour the folds contain is a BraTS glioma (skull-stripped, 1 mm, large); only two people "
        "with multiple sclerosis; the slice models saw some of these people in training (BraTS training "
        "volumes, SAG-anon, the Siemens 2D series), so their slice evidence is better than on new people",
        "date": dt.date.today().isoformat(),
    }
    path = out_dir / "series_model.json"
    path.write_text(json.dumps(card, indent=1) + "\n")
    return path


MIN_SLICES = 8
"""Series with fewer slices (and image folders without spacing) keep the slice rule."""


def candidate_segmenter(card: Path):
    """A segmenter that is not shipped yet (an exported candidate's card), to judge it by the folds.

    Raises:
        ModelError: when its files are missing or do not match the card.
    """
    from brainscan.runtime.loading import choose_runtime, load_segmenter, requested_runtime
    from brainscan.runtime.spec import read_spec

    spec = read_spec(Path(card))
    return load_segmenter(spec, choose_runtime(requested_runtime(), spec))


def run(args) -> int:
    """`brainscan evaluate folds`: fill the cache (resumable), measure the evidence, run the folds, print the
    table; with ``--export DIR`` also write the shipped series model fitted on everyone."""
    from brainscan.runtime.loading import load_shipped_models
    from brainscan.training.series_cache import fill_cache, models_key
    from brainscan.training.series_cases import series_cases

    cases = series_cases(args.data)
    if not cases:
        print(f"No series found under {args.data}/volumes.")
        return 2
    models = load_shipped_models()
    segmenter = candidate_segmenter(args.segmenter_card) if args.segmenter_card else models.segmenter
    if segmenter is None:
        print("The folds need the segmenter; it is not installed.")
        return 2
    fill_cache(cases, args.cache, models.classifier, segmenter, models_key(models.classifier, segmenter))
    threshold = models.classifier.spec.tumour_threshold or 0.5
    rows = all_evidence(cases, args.cache, threshold, segmenter.spec.mask_threshold)
    report = run_folds(rows, threshold, segmenter.spec.mask_threshold)
    print_report(report)
    if args.json:
        write_report(report, args.json)
    if args.export:
        slice_models = {"classifier": models.classifier.spec.version, "segmenter": segmenter.spec.version}
        print(f"wrote {export_series_model(rows, report, args.export, slice_models)}")
    return 0


def add_arguments(parser) -> None:
    from brainscan.config import data_dir

    parser.add_argument("--data", type=Path, default=data_dir(), help="shared data root (BRAINSCAN_DATA)")
    parser.add_argument("--cache", type=Path, default=Path("runs/series_cache"), help="model outputs per series")
    parser.add_argument("--json", type=Path, help="write the folds, person by person, as JSON here")
    parser.add_argument("--export", type=Path, help="write series_model.json and its weights into this folder")
    parser.add_argument(
        "--segmenter-card", type=Path, help="judge this exported segmenter (its card) instead of the shipped one"
    )
