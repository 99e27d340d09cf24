"""`brainscan train segmenter-gate`: fit the segmenter's slice gate (brainscan.runtime.slice_gate) and write it
beside the card, then re-measure the card's validation numbers with it and re-export the LiteRT file.

How it is chosen, so that no validation slice decides anything:
- data: the segmenter's own training slices (figshare slices outside its validation list, all with tumour; the
  volume pack's training part: BraTS slices with and without tumour core, the normal people's slices and notumor
  slices); every tumour slice is a positive, every tumour-free slice a negative;
- the L2 strength by grouped cross-validation: whole groups (a figshare block of file numbers, one BraTS or
  normal person, a block of notumor files) are left out together; the strongest L2 whose balanced log-loss on
  the left-out slices is within one standard error (over folds) of the best is taken (the usual one-standard-
  error rule: as good as the best within noise, and simpler);
- the threshold from the same out-of-fold logits: the highest logit that keeps ``--keep-area`` of the training
  tumour area (a slice the gate drops loses its whole outline, so area, not slice count, is what Dice and volume
  lose).
The shipped segmenter saw these slices in training, so out-of-fold rates here are optimistic; the card's
validation numbers (held-out figshare blocks, held-out volumes and people, the classifier's notumor validation
slices) are the honest ones.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import random
from pathlib import Path

import numpy as np

from brainscan.runtime.slice_gate import FEATURE_LAYERS, MAP_FEATURES, SliceGate, map_features

log = logging.getLogger(__name__)

GATE_FILE = "segmenter_unet_gate.npz"
LAMBDAS = (3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
NOTUMOR_BLOCK = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import data_dir, models_dir
    from brainscan.runtime.spec import SEGMENTER_CARD

    parser.add_argument("--card", type=Path, default=models_dir() / SEGMENTER_CARD, help="segmenter card to gate")
    parser.add_argument("--data", type=Path, default=data_dir() / "segmentation", help="the figshare set")
    parser.add_argument(
        "--volume-pack", type=Path, required=True, help="the segmenter's volume pack (train segmenter-pack)"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--keep-area", type=float, default=0.995, help="share of training tumour area to keep")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--version", default=None, help="the card's new version (default: unchanged)")
    parser.add_argument("--no-export", action="store_true", help="leave the LiteRT file as it is")


def gate_inputs(segmenter, slices, batch_size: int = 16) -> np.ndarray:
    """(n, F + 4) gate inputs: network features averaged over the card's views, then ``MAP_FEATURES``."""
    from brainscan.runtime.preprocess import preprocess_gray

    rows = []
    for start in range(0, len(slices), batch_size):
        chunk = slices[start : start + batch_size]
        batch = np.stack([preprocess_gray(np.asarray(s, np.float32), segmenter.size) for s in chunk])[..., None]
        squares, features = segmenter.averaged_maps_and_features(batch)
        rows.append(np.concatenate([features, map_features(squares, segmenter.mask_threshold)], axis=1))
    return np.concatenate(rows)


def fit_logistic(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Class-balanced L2 logistic regression on standardised ``x``: (mean, scale, weights, bias)."""
    from scipy.optimize import minimize

    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = (x - mean) / scale
    y = y.astype(np.float64)
    weight = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1.0 - y.mean()))
    n = len(y)

    def loss(beta):
        logit = z @ beta[:-1] + beta[-1]
        nll = np.logaddexp(0, -logit) * y + np.logaddexp(0, logit) * (1 - y)
        residual = (1.0 / (1.0 + np.exp(-logit)) - y) * weight
        value = (weight * nll).mean() + lam * (beta[:-1] ** 2).sum() / n
        grad = np.concatenate([z.T @ residual / n + 2 * lam * beta[:-1] / n, [residual.mean()]])
        return value, grad

    result = minimize(loss, np.zeros(z.shape[1] + 1), jac=True, method="L-BFGS-B", options={"maxiter": 3000})
    return mean, scale, result.x[:-1], float(result.x[-1])


def balanced_log_loss(logits: np.ndarray, y: np.ndarray) -> float:
    weight = np.where(y > 0, 0.5 / y.mean(), 0.5 / (1.0 - y.mean()))
    return float((weight * (np.logaddexp(0, -logits) * y + np.logaddexp(0, logits) * (1 - y))).mean())


def group_folds(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index per row: whole groups, shuffled with ``seed``, dealt round-robin."""
    names = sorted(set(groups.tolist()))
    random.Random(seed).shuffle(names)
    fold_of = {name: i % folds for i, name in enumerate(names)}
    return np.asarray([fold_of[g] for g in groups])


def one_standard_error_choice(losses_by_fold: dict[float, np.ndarray]) -> float:
    """The largest L2 whose mean fold loss is within one standard error of the best mean."""
    means = {lam: float(np.mean(v)) for lam, v in losses_by_fold.items()}
    best = min(means, key=means.get)
    folds = losses_by_fold[best]
    limit = means[best] + float(np.std(folds, ddof=1) / np.sqrt(len(folds))) if len(folds) > 1 else means[best]
    return max(lam for lam, mean in means.items() if mean <= limit)


def out_of_fold(x, y, folds: np.ndarray, lam: float) -> np.ndarray:
    logits = np.zeros(len(y))
    for k in np.unique(folds):
        held = folds == k
        mean, scale, weights, bias = fit_logistic(x[~held], y[~held], lam)
        logits[held] = ((x[held] - mean) / scale) @ weights + bias
    return logits


def area_threshold(logits: np.ndarray, area: np.ndarray, keep: float) -> float:
    """The highest logit that keeps ``keep`` of the total tumour ``area`` of the positive rows."""
    order = np.argsort(logits)
    dropped = np.cumsum(area[order]) / area.sum()
    return float(logits[order][np.searchsorted(dropped, 1.0 - keep, side="right")])


def figshare_rows(data: Path, card: dict):
    """(train items, val items, train groups) of the figshare set, split by the card's validation list."""
    from brainscan.training.segmentation_data import read_segmentation_set

    items = read_segmentation_set(data)
    listing = Path(card["_folder"]) / card["split"]["validation_files"]
    listed = set(json.loads(listing.read_text())["files"])
    block = int(card["split"].get("block") or 60)
    train = [i for i in items if i.image.name not in listed]
    val = [i for i in items if i.image.name in listed]
    return train, val, np.asarray([f"figshare-{i.number // block}" for i in train])


def pack_groups(sources: np.ndarray) -> np.ndarray:
    """One group per person (``<person>/<sequence>``), notumor files in blocks of file numbers."""
    out = []
    for source in sources:
        person = str(source).split("/")[0]
        if person == "notumor":
            digits = "".join(c for c in str(source) if c.isdigit())
            person = f"notumor-{int(digits or 0) // NOTUMOR_BLOCK}"
        out.append(person)
    return np.asarray(out)


def fit(args: argparse.Namespace) -> dict:
    """Fit, write the gate and the card entry, re-measure the card's validation with the gate, re-export LiteRT."""
    from brainscan.runtime.integrity import sha256_of
    from brainscan.runtime.keras.segmenter import KerasSegmenter
    from brainscan.runtime.spec import read_spec
    from brainscan.training.segmentation_evaluation import _grey

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    card_path: Path = args.card
    spec = read_spec(card_path)
    card = json.loads(card_path.read_text())
    segmenter = KerasSegmenter.from_spec(spec)
    segmenter.gate = None  # fit on the ungated network
    train_items, val_items, figshare_groups = figshare_rows(args.data, {**card, "_folder": card_path.parent})
    pack = dict(np.load(args.volume_pack))
    in_train = pack["split"] == "train"
    log.info("gate inputs: %d figshare, %d pack training slices", len(train_items), int(in_train.sum()))
    x_fig = gate_inputs(segmenter, [_grey(i.image) for i in train_items])
    area_fig = np.asarray([(_grey(i.mask) > 127).mean() for i in train_items])
    x_pack = gate_inputs(segmenter, [pack["images"][i].astype(np.float32) for i in np.flatnonzero(in_train)])
    area_pack = (pack["masks"][in_train] > 0).reshape(int(in_train.sum()), -1).mean(1)
    x = np.concatenate([x_fig, x_pack])
    area = np.concatenate([area_fig, area_pack])
    y = (area > 0).astype(np.float64)
    groups = np.concatenate([figshare_groups, pack_groups(pack["source"][in_train])])
    folds = group_folds(groups, args.folds, args.seed)

    cv, fold_losses = {}, {}
    for lam in LAMBDAS:
        cv[lam] = out_of_fold(x, y, folds, lam)
        fold_losses[lam] = np.asarray([balanced_log_loss(cv[lam][folds == k], y[folds == k]) for k in np.unique(folds)])
        log.info("lambda %g: out-of-fold balanced log-loss %.4f", lam, balanced_log_loss(cv[lam], y))
    best = one_standard_error_choice(fold_losses)
    oof = cv[best]
    positive = y > 0
    threshold = area_threshold(oof[positive], area[positive], args.keep_area)
    mean, scale, weights, bias = fit_logistic(x, y, best)
    gate = SliceGate(mean, scale, weights, bias, threshold, spec.views)
    gate_path = card_path.parent / GATE_FILE
    np.savez(gate_path, **gate.as_arrays())

    before = _validation(segmenter, val_items, pack)
    segmenter.gate = SliceGate.from_arrays(dict(np.load(gate_path)), threshold, spec.views)
    after = _validation(segmenter, val_items, pack)
    card["slice_gate"] = {
        "file": GATE_FILE,
        "sha256": sha256_of(gate_path),
        "what": "logistic regression on the global mean and max of " + ", ".join(FEATURE_LAYERS) + " and on the "
        "averaged map's " + "; ".join(MAP_FEATURES) + "; a slice whose logit is under threshold_logit gets an "
        "empty map",
        "views": spec.views,
        "threshold_logit": threshold,
        "n_features": int(x.shape[1]),
        "fitted_on": {
            "tumour_slices": int(positive.sum()),
            "tumour_free_slices": int((~positive).sum()),
            "data": "the segmenter's training slices: figshare outside the validation list, the volume pack's "
            f"training part ({Path(args.volume_pack).name})",
        },
        "chosen_by": {
            "method": f"{args.folds}-fold cross-validation with whole groups left out ({len(set(groups))} groups: "
            "figshare blocks of file numbers, BraTS and normal people, blocks of notumor files)",
            "l2_out_of_fold_log_loss": {f"{lam:g}": balanced_log_loss(cv[lam], y) for lam in LAMBDAS},
            "l2_fold_log_loss_standard_error": {
                f"{lam:g}": float(np.std(v, ddof=1) / np.sqrt(len(v))) if len(v) > 1 else None
                for lam, v in fold_losses.items()
            },
            "l2": best,
            "l2_rule": "the strongest L2 within one standard error (over folds) of the lowest out-of-fold loss",
            "threshold": f"highest out-of-fold logit keeping {args.keep_area:g} of the training tumour area",
            "out_of_fold_at_threshold": {
                "tumour_area_kept": float(area[positive][oof[positive] >= threshold].sum() / area[positive].sum()),
                "tumour_slices_kept": float((oof[positive] >= threshold).mean()),
                "tumour_free_slices_passed": float((oof[~positive] >= threshold).mean()),
            },
            "note": "the segmenter was trained on these slices, so out-of-fold rates are optimistic; the "
            "validation block is measured on held-out slices, volumes and people",
        },
        "validation_without_gate": before,
        "date": dt.date.today().isoformat(),
    }
    card["validation"] = {**card["validation"], **after}
    if getattr(args, "version", None):
        card["version"] = args.version
    card_path.write_text(json.dumps(card, indent=2))
    if not args.no_export:
        from brainscan.training.export_litert import export_segmenter

        export_segmenter(card_path)
    return card["slice_gate"]


def _validation(segmenter, val_items, pack: dict) -> dict:
    """The card's validation numbers that a gate can change, measured as `brainscan export segmenter` does."""
    from brainscan.training.export_segmenter import held_out_volume_check, no_tumour_check
    from brainscan.training.segmentation_evaluation import evaluate_items

    metrics = evaluate_items(segmenter, val_items)
    out = {key: metrics[key] for key in ("n", "dice_mean", "dice_median", "iou_mean", "dice_by_label")}
    no_tumour = no_tumour_check(segmenter)
    if no_tumour is not None:
        out["no_tumour_slices"] = no_tumour
    out["held_out_volumes"] = held_out_volume_check(segmenter, pack)
    return out
