"""What `brainscan export classifier` adds to the card of a classifier trained with a volume pack.

- ``applicability``: the thresholds of brainscan.pipeline.assessability, measured on training slices only:
  ``min_head_fraction`` (the 1st percentile of head coverage over the tumour slices the model learned from),
  and the feature-distance check (brainscan.runtime.familiarity): class means and shared covariance of the
  ``dense_1`` features of training slices in a sidecar .npz, and ``max_distance`` = the ``DISTANCE_QUANTILE``
  of the distances of the Training validation split (unseen, but like the training data).
- ``validation.held_out_volumes``: slice-level results on the volumes kept out of training (by volume).
- ``split.volumes`` and ``data``: which volumes trained the model and which were held out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainscan.pipeline.assessability import head_fraction
from brainscan.rules import CLASS_NAMES, NOTUMOR_INDEX, predicted_classes
from brainscan.runtime.familiarity import fit_feature_distance
from brainscan.runtime.integrity import sha256_of

APPLICABILITY_FILE = "classifier_vgg16_applicability.npz"
DISTANCE_QUANTILE = 99.5
HEAD_QUANTILE = 1.0
FIT_SAMPLE = 2500
"""Training slices per source (Training folder, volume pack) used to fit the feature statistics."""
NOTUMOR = NOTUMOR_INDEX


def _features(classifier, images: np.ndarray, batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """(raw probabilities, dense_1 features) of (n, 128, 128) preprocessed grey images, as the app reads them."""
    probs, feats = [], []
    for i in range(0, len(images), batch):
        rgb = np.repeat(images[i : i + batch].astype(np.float32)[..., None], 3, axis=-1)
        p, f = classifier.raw_probabilities_and_features(rgb)
        probs.append(p)
        feats.append(f)
    return np.concatenate(probs), np.concatenate(feats)


def _sample(n: int, k: int, seed: int) -> np.ndarray:
    return np.sort(np.random.default_rng(seed).choice(n, size=min(n, k), replace=False))


def volume_card_fields(
    classifier, pack: dict, train_pixels: np.ndarray, train_labels: np.ndarray, val_pixels: np.ndarray, out: Path,
    temperature: float, tumour_threshold: float | None, seed: int = 1337,
) -> dict:  # fmt: skip
    """Fit and measure everything above; writes the sidecar into ``out`` and returns the card fields."""
    from brainscan.runtime.calibration import apply_temperature

    clean_train = (pack["split"] == "train") & ~pack["augmented"]
    pack_idx = np.flatnonzero(clean_train)[_sample(int(clean_train.sum()), FIT_SAMPLE, seed)]
    kaggle_idx = _sample(len(train_pixels), FIT_SAMPLE, seed)
    fit_images = np.concatenate([train_pixels[kaggle_idx], pack["images"][pack_idx]])
    fit_labels = np.concatenate([train_labels[kaggle_idx], pack["labels"][pack_idx]])
    _, fit_features = _features(classifier, fit_images)
    distance = fit_feature_distance(fit_features, fit_labels)
    np.savez(out / APPLICABILITY_FILE, means=distance.means.astype(np.float32),
             precision=distance.precision.astype(np.float32))  # fmt: skip
    _, val_features = _features(classifier, val_pixels)
    max_distance = float(np.percentile(distance(val_features), DISTANCE_QUANTILE))

    tumour_fit = fit_images[fit_labels != NOTUMOR]
    fractions = np.array([head_fraction(x.astype(np.float32)) for x in tumour_fit])
    min_head = float(np.percentile(fractions, HEAD_QUANTILE))

    held = pack["split"] == "val"
    raw, held_features = _features(classifier, pack["images"][held])
    held_distance = distance(held_features)
    held_fraction = np.array([head_fraction(x.astype(np.float32)) for x in pack["images"][held]])
    assessed = (held_distance <= max_distance) & (held_fraction >= min_head)
    predicted = predicted_classes(apply_temperature(raw, temperature), tumour_threshold)
    labels = pack["labels"][held]
    tumour_true, tumour_called = labels != NOTUMOR, predicted != NOTUMOR

    def rates(mask: np.ndarray) -> dict:
        t, n = tumour_true & mask, ~tumour_true & mask
        return {
            "slices": int(mask.sum()),
            "tumour_sensitivity": float((tumour_called & t).sum() / max(1, t.sum())),
            "tumour_specificity": float((~tumour_called & n).sum() / max(1, n.sum())),
            "glioma_typed_glioma": float((predicted[t] == CLASS_NAMES.index("glioma")).mean()) if t.any() else None,
        }

    sources = sorted(set(pack["source"][held].tolist()))
    return {
        "applicability": {
            "file": APPLICABILITY_FILE,
            "sha256": sha256_of(out / APPLICABILITY_FILE),
            "feature": "dense_1 (penultimate layer, ReLU), mean over the slice and its mirror, input smoothed as "
            "the card says",
            "distance": "Mahalanobis distance to the nearest class mean, class-shared covariance (Lee et al. 2018)",
            "fitted_on": f"{len(kaggle_idx)} Training slices and {len(pack_idx)} unaugmented volume-pack "
            "training slices",
            "max_distance": max_distance,
            "max_distance_rule": f"{DISTANCE_QUANTILE}th percentile of the distances of the {len(val_pixels)} "
            "Training validation slices",
            "min_head_fraction": min_head,
            "min_head_fraction_rule": f"{HEAD_QUANTILE}th percentile of head coverage over the {len(tumour_fit)} "
            "tumour slices of that fitting set",
        },
        "held_out_volumes": {
            "sources": sources,
            "all_slices": rates(np.ones(len(labels), dtype=bool)),
            "assessed_slices": rates(assessed),
            "not_assessed_fraction": float(1.0 - assessed.mean()),
            "note": "slice level, labels from the expert masks (glioma: tumour core >= the pack's min_core_mm2; "
            "no tumour: no label within its clear_margin_mm); the series level is `brainscan evaluate series`",
        },
    }
