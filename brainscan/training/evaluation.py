"""`brainscan evaluate classifier DIR`: deterministic evaluation on a folder-per-class image set."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from brainscan.training.metrics import classification_report


def evaluate_classifier(classifier, root: Path, batch_size: int = 32) -> dict:
    """Run the (calibrated) classifier over ``root/<class>/*`` with no augmentation.

    Raises:
        SeriesLoadError: when the folder is not laid out as one subfolder per class.
    """
    from brainscan.rules import tumour_threshold_of
    from brainscan.runtime.calibration import apply_temperature
    from brainscan.runtime.preprocess import preprocess_batch
    from brainscan.training.dataset import list_class_folders, read_image

    data = list_class_folders(Path(root))
    raw = []
    compute_seconds = 0.0
    for start in range(0, len(data.paths), batch_size):
        batch = preprocess_batch([read_image(p) for p in data.paths[start : start + batch_size]])
        began = time.perf_counter()
        raw.append(classifier.raw_probabilities(batch))
        compute_seconds += time.perf_counter() - began
    probabilities = apply_temperature(np.concatenate(raw), classifier.temperature)
    report = classification_report(data.labels, probabilities, tumour_threshold_of(classifier))
    report["ms_per_image"] = 1000.0 * compute_seconds / max(len(data.paths), 1)
    report["temperature"] = classifier.temperature
    report["inference"] = {  # what the card asked for, so a reader knows how the numbers were read
        "left_right_flip_average": bool(getattr(classifier, "flip_average", False)),
        "input_smoothing_sigma": float(getattr(classifier, "input_smoothing", 0.0)),
    }
    if classifier.spec is not None:
        report["model"] = {
            "name": classifier.spec.name,
            "version": classifier.spec.version,
            "sha256": classifier.spec.sha256,
        }
    return report
