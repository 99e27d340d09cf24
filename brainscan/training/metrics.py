"""Classification metrics from labels and probabilities (numpy only)."""

from __future__ import annotations

import numpy as np

from brainscan.rules import predicted_classes
from brainscan.training.calibration import expected_calibration_error
from brainscan.training.operating_point import tumour_rates
from brainscan.types import CLASS_NAMES


def classification_report(labels: np.ndarray, probabilities: np.ndarray, tumour_threshold: float | None = None) -> dict:
    """n, accuracy, per-class precision/recall/F1, confusion (rows = truth), tumour sens./spec., ECE.

    Each slice is called by brainscan.rules (``tumour_threshold`` None: the most probable class);
    ECE measures the probabilities themselves, so the threshold does not change it.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = predicted_classes(probabilities, tumour_threshold)
    k = len(CLASS_NAMES)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {}
    for i, name in enumerate(CLASS_NAMES):
        tp = confusion[i, i]
        precision = tp / confusion[:, i].sum() if confusion[:, i].sum() else 0.0
        recall = tp / confusion[i].sum() if confusion[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": float(precision),
            "recall": float(recall),
            "f1": float(f1),
            "support": int(confusion[i].sum()),
        }
    sensitivity, specificity = tumour_rates(labels, predicted)
    return {
        "n": int(len(labels)),
        "classes": list(CLASS_NAMES),
        "accuracy": float((predicted == labels).mean()) if len(labels) else float("nan"),
        "per_class": per_class,
        "confusion": confusion.tolist(),
        "tumour_sensitivity": float(sensitivity),
        "tumour_specificity": float(specificity),
        "ece": expected_calibration_error(probabilities, labels, bins=15),
        "tumour_threshold": tumour_threshold,
    }


def format_report(report: dict) -> str:
    """A readable table of a classification_report."""
    rule = report.get("tumour_threshold")
    lines = [
        f"decision: {'most probable class' if rule is None else f'tumour when P(tumour) >= {rule:.3f}'}",
        f"n = {report['n']}   accuracy = {report['accuracy']:.4f}   ECE(15 bins) = {report['ece']:.4f}",
        f"tumour sensitivity = {report['tumour_sensitivity']:.4f}   "
        f"tumour specificity = {report['tumour_specificity']:.4f}",
        "",
        f"{'class':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'n':>8}",
    ]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<12}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>8}")
    lines += ["", "confusion (rows = truth, columns = predicted): " + " ".join(report["classes"])]
    for name, row in zip(report["classes"], report["confusion"], strict=True):
        lines.append(f"{name:<12}" + "".join(f"{v:>8}" for v in row))
    if "ms_per_image" in report:
        lines.append(f"\n{report['ms_per_image']:.1f} ms per image (batched)")
    return "\n".join(lines)
