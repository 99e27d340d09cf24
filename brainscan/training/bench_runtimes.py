"""`brainscan bench runtimes`: LiteRT storage variants side by side, on the same slices, on this CPU.

For each shipped model (classifier, segmenter) and each variant of ``litert_variants.VARIANTS`` this converts the
SHA-verified Keras weights in memory (nothing is written to resources/models) and measures:

- speed: ms per forward pass of one view (the minimum and median over ``--repeat`` timed batches of validation
  slices, 32 for the classifier, 16 for the segmenter, taken round robin over the variants so a changing load
  slows them alike) and ms per slice as the card reads it (x 2 for the classifier's mirror average, x views for
  the segmenter);
- size of the .tflite;
- quality on the validation split the card lists (``*_validation_files.json`` under the shared data): the
  classifier's accuracy and tumour sensitivity/specificity at the card's operating point, with and without the
  mirror average; the segmenter's mean Dice per number of test-time views (1, 2, 8) at the card's mask threshold
  and at 0.5, and how often it outlines anything on tumour-free slices;
- verdicts on whole series (DICOM folders and NIfTI volumes under the shared data): the full analysis with the
  variant must give the same verdict, the same per-slice labels and the same outlined slices as float32.

A variant *passes* when, against float32, the classifier's accuracy and tumour sensitivity are within 0.003, the
segmenter's Dice (at the card's views) within 0.005, and every series verdict is unchanged. Results go to a JSON
file and a markdown table. Needs TensorFlow (the converter) and the shared data.

Timings are wall clock: run it on an otherwise idle machine, or compare variants only relative to each other.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from brainscan.training.litert_variants import VARIANTS

log = logging.getLogger(__name__)

#: Largest accepted loss against float32 for a variant to ship (issue 18).
MAX_ACCURACY_LOSS = 0.003
MAX_DICE_LOSS = 0.005
#: A variant that keeps its numbers is worth shipping only when at least this much faster than float32.
MIN_SPEEDUP = 1.1
CLASSIFIER_BATCH = 32
SEGMENTER_BATCH = 16
SEGMENTER_VIEWS = (1, 2, 8)
#: Mask thresholds the segmenter's Dice is also reported at (fewer views give less smoothed maps).
MASK_THRESHOLDS = (0.3, 0.4, 0.5)
#: Training slices that calibrate an int8 model's activation ranges.
CALIBRATION_SLICES = 200


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import data_dir, models_dir

    parser.add_argument("--model", choices=("classifier", "segmenter", "both"), default="both")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated, from " + ", ".join(VARIANTS))
    parser.add_argument("--models-dir", type=Path, default=models_dir(), help="folder with the model cards")
    parser.add_argument("--data", type=Path, default=data_dir(), help="shared data root (BRAINSCAN_DATA)")
    parser.add_argument("--limit", type=int, default=0, help="use the first N validation slices (0: all)")
    parser.add_argument(
        "--views", default="1,2,8", help="segmenter test-time views to score (each costs as many passes)"
    )
    parser.add_argument(
        "--calibration", type=int, default=CALIBRATION_SLICES, help="training slices that calibrate int8"
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed batches per variant")
    parser.add_argument(
        "--series",
        type=Path,
        nargs="*",
        help="series for the verdict check (default: the DICOM folders and two BraTS NIfTI volumes of the data)",
    )
    parser.add_argument("--no-series", action="store_true", help="skip the verdict check on whole series")
    parser.add_argument("--out", type=Path, default=Path("runtime-bench.json"), help="JSON results")
    parser.add_argument("--markdown", type=Path, help="also write the tables here (default: OUT with .md)")


def run(args: argparse.Namespace) -> int:
    from brainscan.errors import BrainScanError

    if not logging.getLogger().handlers:  # progress on stderr: a whole run takes tens of minutes on 2 cores
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        print(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
        return 2
    if "float32" not in variants:
        variants.insert(0, "float32")  # the reference every other variant is compared with
    try:
        report = bench(args, variants)
    except BrainScanError as exc:
        print(str(exc))
        return 2
    args.out.write_text(json.dumps(report, indent=2))
    markdown = args.markdown or args.out.with_suffix(".md")
    markdown.write_text(to_markdown(report))
    print(to_markdown(report))
    print(f"\nwritten: {args.out}, {markdown}")
    return 0


def bench(args: argparse.Namespace, variants: list[str]) -> dict:
    """Every measurement, as one JSON-able dict."""
    report: dict = {
        "command": "brainscan bench runtimes " + _describe_args(args),
        "machine": {"cpu": _cpu_name(), "cores": os.cpu_count(), "python": platform.python_version()},
        "load_average_at_start": _load_average(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "thresholds": {"accuracy_and_sensitivity": MAX_ACCURACY_LOSS, "dice": MAX_DICE_LOSS},
    }
    series = [] if args.no_series else _load_series(args.series if args.series else default_series(args.data))
    if args.model in ("classifier", "both"):
        report["classifier"] = bench_classifier(args, variants, series)
    if args.model in ("segmenter", "both"):
        report["segmenter"] = bench_segmenter(args, variants, series)
    report["load_average_at_end"] = _load_average()
    return report


# --- the classifier -----------------------------------------------------------------------------------------


def bench_classifier(args: argparse.Namespace, variants: list[str], series: list) -> dict:
    from brainscan.rules import tumour_threshold_of
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.litert_classifier import LiteRTClassifier
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.runtime.spec import CLASSIFIER_CARD, read_spec
    from brainscan.training.litert_convert import classifier_with_activations, head_weights

    spec = read_spec(args.models_dir / CLASSIFIER_CARD)
    keras_classifier = KerasClassifier.from_spec(spec)
    for_tflite = classifier_with_activations(keras_classifier.model)
    head = head_weights(keras_classifier.model)
    root = args.data / "classification" / "Training"
    listed, inputs, labels = classifier_validation(args.models_dir, spec, root, keras_classifier, args.limit)
    validation = listed[: args.limit] if args.limit else listed
    calibration = _classifier_calibration(root, set(listed), args.calibration, keras_classifier)
    threshold = tumour_threshold_of(keras_classifier)

    rows, reference, forwards = {}, None, {}
    for variant in variants:
        log.info("classifier: converting and measuring %s", variant)
        content = _convert(for_tflite, variant, calibration)
        model = LiteRTClassifier(LiteRTRunner(content=content), head, spec)
        forwards[variant] = model.forward
        timing = _time_forward(model.forward, inputs[:CLASSIFIER_BATCH], args.repeat)
        with_mirror, without_mirror, both = classifier_scores(model, inputs, labels, threshold)
        row = {
            "bytes": len(content),
            "ms_per_view_min": timing["min"],
            "ms_per_view_median": timing["median"],
            "ms_per_slice_as_carded": timing["min"] * (2 if spec.flip_average else 1),
            "accuracy": with_mirror["accuracy"],
            "tumour_sensitivity": with_mirror["tumour_sensitivity"],
            "tumour_specificity": with_mirror["tumour_specificity"],
            "without_mirror": {k: without_mirror[k] for k in ("accuracy", "tumour_sensitivity", "tumour_specificity")},
        }
        if reference is None:
            reference = {"probs": both, "model": model, "row": row}
        else:
            row["max_abs_diff_probability_vs_float32"] = float(np.max(np.abs(both - reference["probs"])))
            row["same_class_as_float32"] = float(np.mean(both.argmax(1) == reference["probs"].argmax(1)))
            row["max_abs_diff_gradcam_vs_float32"] = _gradcam_drift(model, reference["model"], inputs)
        if series:
            row["series"] = [_analyse(volume, model, None) for volume in series]
        rows[variant] = row
        _save_partial(args, "classifier", rows)
    _retime(rows, forwards, inputs[:CLASSIFIER_BATCH], args.repeat, 2 if spec.flip_average else 1)
    _judge(rows, ("accuracy", "tumour_sensitivity"), MAX_ACCURACY_LOSS)
    return {
        "model": {"name": spec.name, "version": spec.version, "sha256": spec.sha256},
        "validation_slices": len(validation),
        "calibration_slices": len(calibration),
        "mirror_average_in_card": spec.flip_average,
        "tumour_threshold": threshold,
        "variants": rows,
    }


def classifier_validation(models_dir: Path, spec, root: Path, classifier, limit: int = 0):
    """(all listed validation files, model inputs of the first ``limit`` (0: all), their class indices)."""
    from brainscan.runtime.preprocess import preprocess_batch
    from brainscan.training.dataset import read_image
    from brainscan.types import CLASS_NAMES

    listed = json.loads((models_dir / spec.card["split"]["validation_files"]).read_text())["files"]
    validation = listed[:limit] if limit else listed
    log.info("classifier: reading %d validation slices", len(validation))
    labels = np.array([CLASS_NAMES.index(name.split("/")[0]) for name in validation])
    inputs = classifier.model_input(preprocess_batch([read_image(root / name) for name in validation]))
    return listed, inputs, labels


def classifier_scores(model, inputs: np.ndarray, labels: np.ndarray, threshold):
    """(report with the mirror average, report without it, calibrated probabilities with it) for model inputs."""
    from brainscan.runtime.calibration import apply_temperature
    from brainscan.training.metrics import classification_report

    single = _in_batches(model.forward, inputs, CLASSIFIER_BATCH)
    mirrored = _in_batches(model.forward, np.ascontiguousarray(inputs[:, :, ::-1]), CLASSIFIER_BATCH)
    both = apply_temperature((single + mirrored) / 2, model.temperature)
    one = apply_temperature(single, model.temperature)
    return classification_report(labels, both, threshold), classification_report(labels, one, threshold), both


def _classifier_calibration(root: Path, validation: set[str], n: int, classifier) -> np.ndarray:
    """``n`` model inputs: ``n / 2`` training slices (seeded, none from the validation list) and their mirrors, as
    the model reads them."""
    from brainscan.runtime.preprocess import preprocess_batch
    from brainscan.training.dataset import read_image

    files = sorted(
        f"{p.parent.name}/{p.name}" for p in root.glob("*/*") if f"{p.parent.name}/{p.name}" not in validation
    )
    half = max(1, min((n + 1) // 2, len(files)))
    picked = [files[i] for i in np.random.default_rng(0).choice(len(files), half, replace=False)]
    batch = classifier.model_input(preprocess_batch([read_image(root / name) for name in picked]))
    return np.concatenate([batch, batch[:, :, ::-1]])[: max(n, 1)]  # each slice as read, then its mirror


def _gradcam_drift(model, reference, inputs: np.ndarray, n: int = 8) -> float:
    """Largest |heat map - float32 heat map| over the first ``n`` validation inputs (predicted class)."""
    from brainscan.runtime.gradcam import grad_cam_from_activations

    worst = 0.0
    for row in inputs[:n]:
        conv, probs = model.outputs(row[None])
        ref_conv, ref_probs = reference.outputs(row[None])
        k = int(np.argmax(ref_probs[0]))
        cam = grad_cam_from_activations(conv[0], model.head, (128, 128), k)
        ref_cam = grad_cam_from_activations(ref_conv[0], reference.head, (128, 128), k)
        worst = max(worst, float(np.max(np.abs(cam - ref_cam))))
    return worst


# --- the segmenter ------------------------------------------------------------------------------------------


@dataclass
class _SegmentationSet:
    images: list[np.ndarray]
    truths: list[np.ndarray]
    labels: list[str]
    empty: list[np.ndarray]  # tumour-free slices (the classifier's notumor validation slices)


def bench_segmenter(args: argparse.Namespace, variants: list[str], series: list) -> dict:
    from brainscan.runtime.keras.segmenter import KerasSegmenter
    from brainscan.runtime.keras.unet import with_gate_features
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.runtime.litert_segmenter import LiteRTSegmenter
    from brainscan.runtime.preprocess import preprocess_gray
    from brainscan.runtime.spec import SEGMENTER_CARD, read_spec

    spec = read_spec(args.models_dir / SEGMENTER_CARD)
    keras_segmenter = KerasSegmenter.from_spec(spec)
    views = sorted({int(v) for v in args.views.split(",")})
    # the pass rule compares Dice at the card's views, or at the most views scored when those are not among them
    judged_views = spec.views if spec.views in views else max(views)
    if any(v not in SEGMENTER_VIEWS for v in views):
        raise SystemExit(f"--views takes 1, 2 or 8, not {args.views}")
    data = _segmentation_set(args, spec)
    size = keras_segmenter.size
    calibration = _segmenter_calibration(args, spec, size)

    rows, reference_row, forwards = {}, None, {}
    sample = np.stack([preprocess_gray(image, size) for image in data.images[:SEGMENTER_BATCH]])[..., None]
    for variant in variants:
        log.info("segmenter: converting and measuring %s", variant)
        content = _convert(with_gate_features(keras_segmenter.model), variant, calibration)  # as export converts
        model = LiteRTSegmenter(LiteRTRunner(content=content), spec)
        forwards[variant] = model.raw_maps
        timing = _time_forward(model.raw_maps, sample, args.repeat)
        row = {
            "bytes": len(content),
            "ms_per_view_min": timing["min"],
            "ms_per_view_median": timing["median"],
            "ms_per_slice_as_carded": timing["min"] * spec.views,
            "by_views": _score_views(model, data, views),
        }
        row["dice"] = row["by_views"][str(judged_views)]["dice_mean_at_card_threshold"]
        if reference_row is not None:
            row["dice_loss_vs_float32"] = reference_row["dice"] - row["dice"]
        else:
            reference_row = row
        if series:
            # outlines only exist where the classifier says tumour: after float32, only those series are analysed
            row["series"] = [_analyse(volume, None, model) for volume in series]
            series = [v for v, r in zip(series, row["series"], strict=True) if r["tumour"]] if not rows else series
        rows[variant] = row
        _save_partial(args, "segmenter", rows)
    _retime(rows, forwards, sample, args.repeat, spec.views)
    _judge(rows, ("dice",), MAX_DICE_LOSS)
    return {
        "model": {"name": spec.name, "version": spec.version, "sha256": spec.sha256},
        "validation_slices": len(data.images),
        "tumour_free_slices": len(data.empty),
        "calibration_slices": len(calibration),
        "views_in_card": spec.views,
        "views_judged": judged_views,
        "mask_threshold": spec.mask_threshold,
        "variants": rows,
    }


def _segmentation_set(args: argparse.Namespace, spec) -> _SegmentationSet:
    from PIL import Image

    from brainscan.runtime.spec import CLASSIFIER_CARD
    from brainscan.training.dataset import read_image
    from brainscan.training.segmentation_data import read_segmentation_set

    root = args.data / "segmentation"
    listed = json.loads((args.models_dir / spec.card["split"]["validation_files"]).read_text())["files"]
    wanted = set(listed[: args.limit] if args.limit else listed)
    items = [item for item in read_segmentation_set(root) if item.image.name in wanted]
    images = [np.asarray(Image.open(item.image).convert("L")) for item in items]
    truths = [np.asarray(Image.open(item.mask).convert("L")) > 127 for item in items]
    clf_card = args.models_dir / CLASSIFIER_CARD
    empty_names = []
    if clf_card.is_file():  # tumour-free slices: the notumor slices of the classifier's validation list
        clf_list = args.models_dir / json.loads(clf_card.read_text())["split"]["validation_files"]
        empty_names = [n for n in json.loads(clf_list.read_text())["files"] if n.startswith("notumor/")]
    empty_names = empty_names[: args.limit] if args.limit else empty_names
    empty = [read_image(args.data / "classification" / "Training" / name) for name in empty_names]
    return _SegmentationSet(images, truths, [item.label_name for item in items], empty)


def _segmenter_calibration(args: argparse.Namespace, spec, size: int) -> np.ndarray:
    """``--calibration`` training slices of the segmentation set (none from its validation list), in all
    orientations the test-time views show them."""
    from PIL import Image

    from brainscan.runtime.preprocess import preprocess_gray
    from brainscan.training.segmentation_data import read_segmentation_set

    listed = set(json.loads((args.models_dir / spec.card["split"]["validation_files"]).read_text())["files"])
    items = [item for item in read_segmentation_set(args.data / "segmentation") if item.image.name not in listed]
    n = min(args.calibration, len(items))
    picked = [items[i] for i in np.random.default_rng(0).choice(len(items), n, replace=False)]
    batch = np.stack([preprocess_gray(np.asarray(Image.open(i.image).convert("L")), size) for i in picked])
    turned = [np.rot90(row, i % 4) if i % 2 == 0 else np.rot90(row, i % 4)[:, ::-1] for i, row in enumerate(batch)]
    return np.ascontiguousarray(np.stack(turned)[..., None], dtype=np.float32)


def view_maps(model, batch: np.ndarray, views: list[int]) -> dict[int, np.ndarray]:
    """The averaged probability maps for each number of views in ``views``, from one pass over the most views.

    Same order and arithmetic as ``BatchedSegmenter.averaged_maps``: views 1 is the slice, 2 adds its mirror,
    8 adds the three 90-degree turns of both.
    """
    out: dict[int, np.ndarray] = {}
    total = np.zeros(batch.shape[:3], dtype=np.float64)
    done = 0
    for k in range(4 if max(views) == 8 else 1):
        turned = np.rot90(batch, k, axes=(1, 2))
        for mirrored in (False, True):
            if done >= max(views):
                break
            view = np.ascontiguousarray(turned[:, :, ::-1] if mirrored else turned)
            maps = np.asarray(model.raw_maps(view), dtype=np.float64)
            maps = maps[:, :, ::-1] if mirrored else maps
            total += np.rot90(maps, -k, axes=(1, 2))
            done += 1
            if done in views:
                out[done] = (total / done).astype(np.float32)
    return out


def _score_views(model, data: _SegmentationSet, views: list[int]) -> dict:
    from PIL import Image

    from brainscan.pipeline.masks import clean_mask, dice
    from brainscan.runtime.preprocess import preprocess_gray, square_to_source

    thresholds = sorted({float(model.mask_threshold), *MASK_THRESHOLDS})
    dices = {(v, t): [] for v in views for t in thresholds}
    outlined = {v: 0 for v in views}
    for images, truths in ((data.images, data.truths), (data.empty, None)):
        for start in range(0, len(images), SEGMENTER_BATCH):
            chunk = images[start : start + SEGMENTER_BATCH]
            batch = np.stack([preprocess_gray(image, model.size) for image in chunk])[..., None]
            for v, maps in view_maps(model, batch, views).items():
                for offset, (image, square) in enumerate(zip(chunk, maps, strict=True)):
                    prob = square_to_source(square, image.shape[:2])
                    if truths is None:
                        outlined[v] += bool(clean_mask(prob, model.mask_threshold).any())
                        continue
                    truth = truths[start + offset]
                    if prob.shape != truth.shape:
                        prob = np.asarray(Image.fromarray(prob).resize(truth.shape[::-1], Image.Resampling.BILINEAR))
                    for t in thresholds:
                        dices[(v, t)].append(dice(clean_mask(prob, t), truth))
    result = {}
    for v in views:
        entry = {
            "dice_mean_at_card_threshold": float(np.mean(dices[(v, float(model.mask_threshold))])),
            "dice_mean_by_threshold": {f"{t:g}": float(np.mean(dices[(v, t)])) for t in thresholds},
        }
        if data.empty:
            entry["tumour_free_outlined_fraction"] = outlined[v] / len(data.empty)
        result[str(v)] = entry
    return result


# --- shared pieces ------------------------------------------------------------------------------------------


def _convert(model, variant: str, calibration: np.ndarray) -> bytes:
    from brainscan.training.litert_variants import convert_variant

    return convert_variant(model, variant, calibration if variant == "int8" else None)


def _save_partial(args: argparse.Namespace, section: str, rows: dict) -> None:
    """The variants measured so far, so a long run that is stopped still leaves its numbers."""
    path = args.out.with_suffix(".partial.json")
    done = json.loads(path.read_text()) if path.is_file() else {}
    done[section] = rows
    path.write_text(json.dumps(done, indent=2))
    log.info("%s: %s measured (%s)", section, ", ".join(rows), path)


def _retime(rows: dict, forwards: dict, batch: np.ndarray, repeat: int, views: int) -> None:
    """Time every variant again, in turn on the same batch (round robin), so a machine whose load changes during
    the run slows all variants alike; these times replace the ones taken while each variant was measured."""
    for forward in forwards.values():
        forward(batch)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in forwards}
    for _ in range(max(repeat, 1)):
        for name, forward in forwards.items():
            began = time.perf_counter()
            forward(batch)
            times[name].append((time.perf_counter() - began) * 1000 / len(batch))
    for name, samples in times.items():
        rows[name]["ms_per_view_min"] = round(min(samples), 2)
        rows[name]["ms_per_view_median"] = round(statistics.median(samples), 2)
        rows[name]["ms_per_slice_as_carded"] = round(min(samples) * views, 2)
        rows[name]["timing"] = "round robin over the variants after all were measured"


def _time_forward(forward, batch: np.ndarray, repeat: int) -> dict:
    """ms per item of one forward pass over ``batch``: minimum and median of ``repeat`` timed runs (one warm-up)."""
    forward(batch)
    times = []
    for _ in range(max(repeat, 1)):
        began = time.perf_counter()
        forward(batch)
        times.append((time.perf_counter() - began) * 1000 / len(batch))
    return {"min": round(min(times), 2), "median": round(statistics.median(times), 2)}


def _in_batches(forward, inputs: np.ndarray, step: int) -> np.ndarray:
    return np.concatenate([np.asarray(forward(inputs[i : i + step]), np.float64) for i in range(0, len(inputs), step)])


def default_series(data: Path) -> list[Path]:
    """The DICOM folders of the shared data (normal brains) and the first two BraTS volumes (glioma)."""
    found = sorted(p for p in (data / "dicom").glob("*") if p.is_dir())
    found += sorted(p for p in (data / "volumes" / "normal").glob("*") if p.is_dir())
    found += sorted((data / "volumes" / "tumour" / "brats2018").glob("*/t1ce.nii.gz"))[:2]
    return found


def _load_series(paths: list[Path]) -> list:
    from brainscan.io import load, scan

    volumes = []
    for path in paths:
        for info in scan([path]):
            volumes.append(load(info))
    return volumes


def _analyse(volume, classifier, segmenter) -> dict:
    """The verdict (and outlines) of one series; ``None`` stands for the shipped model on LiteRT float32."""
    from brainscan.pipeline.analyze import analyze
    from brainscan.runtime.loading import load_shipped_models

    global _SHIPPED
    if classifier is None or segmenter is None:
        if _SHIPPED is None:
            _SHIPPED = load_shipped_models()
        classifier = classifier or _SHIPPED.classifier
        segmenter = segmenter or _SHIPPED.segmenter
    result = analyze(volume, classifier, segmenter)
    return {
        "series": f"{volume.info.source.parent.name}/{volume.info.source.name}: {volume.info.description}",
        "verdict": result.verdict.label,
        "tumour": result.verdict.tumour,
        "slice_labels": [p.label for p in result.predictions],
        "outlined": sorted(result.segmentations),
        "volume_ml": result.volume_ml,
    }


_SHIPPED = None


def _judge(rows: dict, keys: tuple[str, ...], bound: float) -> None:
    """Mark each variant ``passes`` (numbers within ``bound`` of float32, verdicts unchanged) and say why not."""
    reference = rows["float32"]
    for row in rows.values():
        reasons = [
            f"{key} {row[key]:.4f} vs {reference[key]:.4f}" for key in keys if reference[key] - row[key] > bound + 1e-12
        ]
        theirs_by_name = {r["series"]: r for r in reference.get("series", [])}
        for mine in row.get("series", []):
            theirs = theirs_by_name[mine["series"]]
            for key in ("verdict", "tumour", "slice_labels", "outlined"):
                if mine[key] != theirs[key]:
                    reasons.append(f"{mine['series']}: {key} differs")
        row["passes"] = not reasons
        row["fails_because"] = reasons
        row["speed_vs_float32"] = round(reference["ms_per_view_min"] / row["ms_per_view_min"], 2)


def to_markdown(report: dict) -> str:
    lines = [
        f"Command: `{report['command']}`  ",
        f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores; load average "
        f"{report['load_average_at_start']} at start, {report['load_average_at_end']} at end; {report['date']}",
        "",
    ]
    clf = report.get("classifier")
    if clf:
        lines += [
            f"### Classifier {clf['model']['version']} ({clf['validation_slices']} validation slices, "
            f"int8 calibrated on {clf['calibration_slices']} training slices)",
            "",
            "| variant | MB | ms/view (min, median) | speed vs float32 | accuracy | tumour sens. | tumour spec. | "
            "accuracy without mirror | max diff P vs float32 | Grad-CAM max diff | verdicts same | ships? |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in clf["variants"].items():
            lines.append(
                f"| {name} | {row['bytes'] / 2**20:.1f} | {row['ms_per_view_min']:.1f}, "
                f"{row['ms_per_view_median']:.1f} "
                f"| {row['speed_vs_float32']:.2f}x | {row['accuracy']:.4f} | {row['tumour_sensitivity']:.4f} "
                f"| {row['tumour_specificity']:.4f} | {row['without_mirror']['accuracy']:.4f} "
                f"| {_fmt(row.get('max_abs_diff_probability_vs_float32'))} "
                f"| {_fmt(row.get('max_abs_diff_gradcam_vs_float32'))} | {_series_same(row, clf)} "
                f"| {_ships(name, row)} |"
            )
        lines.append("")
    seg = report.get("segmenter")
    if seg:
        views = list(next(iter(seg["variants"].values()))["by_views"])
        lines += [
            f"### Segmenter {seg['model']['version']} ({seg['validation_slices']} validation slices, "
            f"{seg['tumour_free_slices']} tumour-free; card: {seg['views_in_card']} views, threshold "
            f"{seg['mask_threshold']:g}; pass rule at {seg.get('views_judged', seg['views_in_card'])} views)",
            "",
            "| variant | MB | ms/view (min, median) | speed vs float32 | "
            + " | ".join(f"Dice {v} view{'s' if v != '1' else ''}" for v in views)
            + " | "
            + " | ".join(f"tumour-free outlined {v}" for v in views)
            + " | verdicts same | ships? |",
            "|---|---|---|---|" + "---|" * (2 * len(views)) + "---|---|",
        ]
        for name, row in seg["variants"].items():
            by = row["by_views"]
            lines.append(
                f"| {name} | {row['bytes'] / 2**20:.1f} | {row['ms_per_view_min']:.1f}, "
                f"{row['ms_per_view_median']:.1f} "
                f"| {row['speed_vs_float32']:.2f}x | "
                + " | ".join(f"{by[v]['dice_mean_at_card_threshold']:.4f}" for v in views)
                + " | "
                + " | ".join(f"{_fmt(by[v].get('tumour_free_outlined_fraction'), '.3f')}" for v in views)
                + f" | {_series_same(row, seg)} | "
                + f"{_ships(name, row)} |"
            )
        ref = seg["variants"]["float32"]["by_views"]
        thresholds = list(ref[views[0]]["dice_mean_by_threshold"])
        lines += [
            "",
            "float32 Dice by mask threshold (selected on the same validation slices):",
            "",
            "| views | " + " | ".join(f"threshold {t}" for t in thresholds) + " |",
            "|---|" + "---|" * len(thresholds),
        ]
        for v in views:
            by_threshold = ref[v]["dice_mean_by_threshold"]
            lines.append(f"| {v} | " + " | ".join(f"{by_threshold[t]:.4f}" for t in thresholds) + " |")
    return "\n".join(lines) + "\n"


def _ships(name: str, row: dict) -> str:
    """The table's verdict: a variant ships when it keeps its numbers and is at least 10 % faster."""
    if name == "float32":
        return "reference"
    if not row["passes"]:
        return "no: " + "; ".join(row["fails_because"][:2])
    if row["speed_vs_float32"] < MIN_SPEEDUP:
        return "no: keeps its numbers, not faster"
    return "yes"


def _series_same(row: dict, section: dict) -> str:
    if "series" not in row:
        return "not checked"
    bad = [r for r in row["fails_because"] if "differs" in r]
    return f"{len(row['series']) - len(bad)}/{len(row['series'])}" if bad else f"all {len(row['series'])}"


def _fmt(value, spec: str = ".2g") -> str:
    return "" if value is None else format(value, spec)


def _describe_args(args: argparse.Namespace) -> str:
    parts = [f"--model {args.model}", f"--variants {args.variants}", f"--views {args.views}"]
    if args.limit:
        parts.append(f"--limit {args.limit}")
    if args.no_series:
        parts.append("--no-series")
    return " ".join(parts)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None
