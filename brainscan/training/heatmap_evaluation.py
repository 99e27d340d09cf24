"""`brainscan evaluate heatmaps DIR`: do the classifier's heat maps point at the tumour?

Measured on slices with an expert tumour mask (the figshare segmentation set, by default the segmenter's
validation slices), for the slices the classifier calls tumour and the class it calls them, as the app does:

* **pointing game** (Zhang et al., 2016): the fraction of slices where the heat map's peak lies inside the mask;
* **mass inside**: the share of the heat map's total mass that lies inside the mask, averaged over slices.

Both are compared with what a map that knows nothing about the tumour gets: a uniform map puts the mask's area
fraction of its mass inside the mask, and a peak placed at random in the head hits the mask about as often.
A second baseline uses no model at all: the slice's own brightness, blurred (tumours on post-contrast T1 are
often the brightest tissue, so a heat map must at least beat this to earn its place on screen).

Variants are cheap to compare because one forward and backward pass gives the gradients at every VGG16 block:
the layer (block3/4/5_conv3: 32, 16, 8 cells across a 128 px input), the method (Grad-CAM: channel weights from
the spatially averaged gradient; HiResCAM: the element-wise product, no averaging), the mirror view (the
classifier reads the slice and its left-right mirror, so the map can too) and a Gaussian blur of the final map.

Needs TensorFlow (Keras gradients at any layer); results depend on the classifier weights, so rerun it
whenever they change (docs/heatmaps.md names the command). The app's heat map (LiteRT, numpy head gradient)
is the "shipped" variant here, up to float rounding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from brainscan.runtime.gradcam import resize_bilinear
from brainscan.runtime.preprocess import CLASSIFIER_SIZE, preprocess_slice, square_to_source
from brainscan.types import CLASS_NAMES, NO_TUMOUR

LAYERS = ("block3_conv3", "block4_conv3", "block5_conv3")
BRIGHTNESS = "brightness"


@dataclass(frozen=True)
class Variant:
    """One way of making a heat map. ``layer`` BRIGHTNESS is the model-free baseline."""

    name: str
    layer: str
    method: str = "gradcam"  # "gradcam" or "hirescam"
    mirror: bool = False
    blur_sigma: float = 0.0  # Gaussian blur of the final map, in pixels of the 128 px model grid
    score: str = "class"  # "class": the class logit; "contrast": class logit minus the no-tumour logit


SHIPPED = Variant("Grad-CAM block5 (shipped)", "block5_conv3")
VARIANTS: tuple[Variant, ...] = (
    SHIPPED,
    Variant("Grad-CAM block5 + mirror", "block5_conv3", mirror=True),
    Variant("Grad-CAM block5 + blur 8", "block5_conv3", blur_sigma=8.0),
    Variant("HiResCAM block5", "block5_conv3", method="hirescam"),
    Variant("Grad-CAM block4", "block4_conv3"),
    Variant("Grad-CAM block4 + mirror", "block4_conv3", mirror=True),
    Variant("Grad-CAM block4 + blur 4", "block4_conv3", blur_sigma=4.0),
    Variant("HiResCAM block4", "block4_conv3", method="hirescam"),
    Variant("HiResCAM block4 + blur 4", "block4_conv3", method="hirescam", blur_sigma=4.0),
    Variant("Grad-CAM block3 + blur 4", "block3_conv3", blur_sigma=4.0),
    Variant("Grad-CAM block5, tumour vs none", "block5_conv3", score="contrast"),
    Variant("HiResCAM block4, tumour vs none", "block4_conv3", method="hirescam", score="contrast"),
    Variant("Brightness, blur 4 (no model)", BRIGHTNESS, blur_sigma=4.0),
)


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray) -> bool:
    """True when the heat map's maximum lies inside ``mask`` (ties: any maximal pixel inside counts)."""
    heatmap = np.asarray(heatmap, dtype=np.float64)
    peak = heatmap.max()
    if peak <= 0:
        return False
    return bool(np.any(mask & (heatmap >= peak)))


def mass_inside(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Share of the heat map's mass inside ``mask`` (0 for an all-zero map)."""
    heatmap = np.clip(np.asarray(heatmap, dtype=np.float64), 0.0, None)
    total = heatmap.sum()
    return float(heatmap[mask].sum() / total) if total > 0 else 0.0


def cam(activations: np.ndarray, gradients: np.ndarray, method: str) -> np.ndarray:
    """Class activation map on the layer's grid, ReLU'd and peak-normalised (zeros when nothing supports it)."""
    if method == "gradcam":
        weights = gradients.mean(axis=(0, 1))
        raw = (activations * weights[None, None, :]).sum(axis=-1)
    elif method == "hirescam":
        raw = (activations * gradients).sum(axis=-1)
    else:
        raise ValueError(f"unknown method {method}")
    raw = np.maximum(raw, 0.0)
    peak = raw.max()
    return (raw / peak if peak > 0 else np.zeros_like(raw)).astype(np.float32)


def finish(square: np.ndarray, blur_sigma: float, source_shape: tuple[int, int]) -> np.ndarray:
    """A model-grid map, optionally blurred, mapped onto the slice grid in [0, 1]."""
    if blur_sigma:
        from scipy.ndimage import gaussian_filter

        square = gaussian_filter(square, blur_sigma, mode="constant")
    peak = square.max()
    square = square / peak if peak > 0 else square
    return np.clip(square_to_source(square.astype(np.float32), source_shape), 0.0, 1.0)


class KerasGradients:
    """Target-layer activations and the gradient of a class logit at every layer in LAYERS, for a batch."""

    def __init__(self, model):
        import keras

        vgg = model.get_layer("vgg16")
        self._features = keras.Model(vgg.input, [*(vgg.get_layer(name).output for name in LAYERS), vgg.output])
        *self._hidden, self._last = model.layers[model.layers.index(vgg) + 1 :]

    def __call__(
        self, batch: np.ndarray, class_indices: Sequence[int], score: str = "class"
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{layer: (activations (n, h, w, c), gradients (n, h, w, c))} of each row's score (see Variant)."""
        import tensorflow as tf

        x = tf.convert_to_tensor(batch, dtype=tf.float32)
        weights = np.eye(len(CLASS_NAMES), dtype=np.float32)[list(class_indices)]
        if score == "contrast":
            weights[:, CLASS_NAMES.index(NO_TUMOUR)] -= 1.0
        chosen = tf.convert_to_tensor(weights)
        with tf.GradientTape() as tape:
            *convs, out = self._features(x, training=False)
            for part in self._hidden:
                out = part(out, training=False)
            logits = tf.matmul(out, self._last.kernel) + self._last.bias
            total = tf.reduce_sum(logits * chosen)  # rows are independent: each row's gradient is its own
        grads = tape.gradient(total, convs)
        return {name: (c.numpy(), g.numpy()) for name, c, g in zip(LAYERS, convs, grads, strict=True)}


def variant_maps(
    gradients: KerasGradients, model_input: np.ndarray, class_indices: Sequence[int], source_shapes, variants
) -> list[dict[str, np.ndarray]]:
    """Per slice, {variant name: heat map on the slice grid}."""
    flipped = np.ascontiguousarray(model_input[:, :, ::-1])
    cache: dict[tuple[str, bool], dict] = {}

    def grads_for(score: str, mirror: bool) -> dict:
        if (score, mirror) not in cache:
            cache[(score, mirror)] = gradients(flipped if mirror else model_input, class_indices, score)
        return cache[(score, mirror)]

    out: list[dict[str, np.ndarray]] = []
    for row, shape in enumerate(source_shapes):
        maps = {}
        for v in variants:
            if v.layer == BRIGHTNESS:
                square = model_input[row, :, :, 0].astype(np.float32)
            else:
                acts, grads = grads_for(v.score, False)[v.layer]
                square = resize_bilinear(cam(acts[row], grads[row], v.method), CLASSIFIER_SIZE)
                if v.mirror:
                    acts_m, grads_m = grads_for(v.score, True)[v.layer]
                    square_m = resize_bilinear(cam(acts_m[row], grads_m[row], v.method), CLASSIFIER_SIZE)
                    square = (square + square_m[:, ::-1]) / 2.0
            maps[v.name] = finish(square, v.blur_sigma, shape)
        out.append(maps)
    return out


def evenly_spaced(items: list, limit: int | None) -> list:
    """``limit`` items spread evenly over ``items`` (all of them when limit is None or large enough)."""
    if limit is None or limit >= len(items):
        return list(items)
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in dict.fromkeys(picks.tolist())]


def evaluate_heatmaps(
    classifier, root: Path, files: Sequence[str] | None = None, limit: int | None = 300, batch_size: int = 16,
    variants: Sequence[Variant] = VARIANTS, examples: Path | None = None,
) -> dict:  # fmt: skip
    """Score every variant on the slices of ``root`` (images/, masks/, labels.csv) the classifier calls tumour.

    Args:
        classifier: a KerasClassifier (its calibration, mirror reading, input smoothing and operating point
            decide which slices count and which class is explained, as in the app).
        root: the segmentation set.
        files: image file names to use (e.g. the segmenter's validation list); all slices when None.
        limit: use at most this many, evenly spread over the list.
        examples: a folder to write example panels into (slice, outline, maps; for looking, not for git).

    Returns:
        The report: counts, baselines, and per variant the pointing-game rate and the mean mass inside.

    Raises:
        SeriesLoadError: when ``root`` does not have the segmentation set's layout.
    """
    from brainscan.rules import predicted_classes
    from brainscan.training.segmentation_data import read_segmentation_set

    items = read_segmentation_set(Path(root))
    if files is not None:
        wanted = set(files)
        items = [item for item in items if item.image.name in wanted]
    items = evenly_spaced(items, limit)
    gradients = KerasGradients(classifier.model)
    threshold = classifier.spec.tumour_threshold if classifier.spec else None
    notumor = CLASS_NAMES.index(NO_TUMOUR)
    hits = {v.name: [] for v in variants}
    masses = {v.name: [] for v in variants}
    area_fractions: list[float] = []
    called = 0
    example_rows = []
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        images = [np.asarray(Image.open(item.image).convert("L"), dtype=np.float32) for item in chunk]
        masks = [np.asarray(Image.open(item.mask).convert("L")) > 127 for item in chunk]
        classes = predicted_classes(classifier.predict(images), threshold)
        keep = [i for i, c in enumerate(classes) if c != notumor]
        called += len(keep)
        if not keep:
            continue
        model_input = classifier.model_input(np.stack([preprocess_slice(images[i]) for i in keep]))
        shapes = [images[i].shape for i in keep]
        maps = variant_maps(gradients, model_input, [int(classes[i]) for i in keep], shapes, variants)
        for i, slice_maps in zip(keep, maps, strict=True):
            mask = masks[i]
            if mask.shape != images[i].shape:
                continue
            area_fractions.append(float(mask.mean()))
            for name, heatmap in slice_maps.items():
                hits[name].append(pointing_hit(heatmap, mask))
                masses[name].append(mass_inside(heatmap, mask))
            if examples is not None and len(example_rows) < 12 and (start // batch_size) % 2 == 0:
                example_rows.append((chunk[i].image.name, images[i], mask, slice_maps))
    if examples is not None:
        write_examples(examples, example_rows)
    n = len(area_fractions)
    return {
        "slices": len(items),
        "called_tumour": called,
        "scored": n,
        "class_explained": "the class the classifier calls the slice (its operating point), as in the app",
        "uniform_map_mass_inside": float(np.mean(area_fractions)) if n else float("nan"),
        "variants": {
            v.name: {
                "layer": v.layer,
                "method": v.method if v.layer != BRIGHTNESS else "none",
                "mirror": v.mirror,
                "blur_sigma": v.blur_sigma,
                "score": v.score,
                "pointing_game": float(np.mean(hits[v.name])) if n else float("nan"),
                "mass_inside_mean": float(np.mean(masses[v.name])) if n else float("nan"),
                "mass_inside_median": float(np.median(masses[v.name])) if n else float("nan"),
            }
            for v in variants
        },
    }


def format_report(report: dict) -> str:
    lines = [
        f"{report['scored']} slices scored ({report['called_tumour']} of {report['slices']} called tumour); "
        f"a uniform map puts {report['uniform_map_mass_inside']:.1%} of its mass inside the mask",
        f"{'variant':34s} {'pointing':>9s} {'mass in':>8s} {'median':>7s}",
    ]
    for name, row in report["variants"].items():
        lines.append(
            f"{name:34s} {row['pointing_game']:9.1%} {row['mass_inside_mean']:8.1%} {row['mass_inside_median']:7.1%}"
        )
    return "\n".join(lines)


def write_examples(folder: Path, rows) -> None:
    """PNG panels (slice with outline | each variant's map) for looking at; derived from the data, not for git."""
    from brainscan.render import compose, window_to_uint8

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, image, mask, maps in rows:
        grey = window_to_uint8(image, float(image.max()) / 2, float(image.max()) or 1.0)
        tiles = [compose(grey, mask, None, 0.35)] + [compose(grey, mask, m, 0.0) for m in maps.values()]
        Image.fromarray(np.concatenate(tiles, axis=1)).save(folder / f"{Path(name).stem}.png")
    (folder / "columns.json").write_text(json.dumps(["outline", *rows[0][3].keys()] if rows else []))


# ---- command line and figure ------------------------------------------------------------------------------------

DEFAULT_FILES = "segmenter_unet_validation_files.json"


def add_arguments(parser) -> None:
    from brainscan.config import data_dir

    parser.add_argument(
        "dir", nargs="?", type=Path, default=data_dir() / "segmentation", help="images/, masks/, labels.csv"
    )
    parser.add_argument(
        "--files", type=Path, help=f"JSON with the image names to use (default: resources/models/{DEFAULT_FILES})"
    )
    parser.add_argument("--all", action="store_true", help="use every slice of DIR, not the validation list")
    parser.add_argument("--limit", type=int, default=300, help="at most this many slices, evenly spread (300)")
    parser.add_argument("--card", type=Path, help="classifier model card (default: the shipped one)")
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--figure", type=Path, help="write the bar chart (PNG) here, e.g. docs/heatmaps.png")
    parser.add_argument("--examples", type=Path, help="write example panels here (derived from the data: not for git)")


def run(args) -> int:
    """``brainscan evaluate heatmaps``: print the table, write the JSON and the figure on request."""
    from brainscan.config import models_dir
    from brainscan.errors import BrainScanError
    from brainscan.runtime.keras.classifier import KerasClassifier
    from brainscan.runtime.spec import read_spec, shipped_classifier_spec

    try:
        files = None
        if not args.all:
            listing = args.files or models_dir() / DEFAULT_FILES
            files = json.loads(Path(listing).read_text())["files"]
        spec = read_spec(args.card) if args.card else shipped_classifier_spec()
        report = evaluate_heatmaps(KerasClassifier.from_spec(spec), args.dir, files, args.limit, examples=args.examples)
    except (BrainScanError, OSError, ValueError, KeyError) as exc:
        print(f"Heat maps could not be evaluated: {exc}")
        return 2
    report["classifier"] = {"name": spec.name, "version": spec.version, "sha256": spec.sha256}
    report["data"] = {"dir": str(args.dir), "files": None if args.all else str(args.files or DEFAULT_FILES)}
    print(format_report(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.figure:
        draw_figure(report).save(args.figure, optimize=True)
        print(f"figure written to {args.figure}")
    return 0


def draw_figure(report: dict) -> Image.Image:
    """Two bar charts side by side (pointing game, mass inside the mask), one row per variant, with the
    uniform-map level as a dashed line: a picture of the numbers only, no patient images."""
    from PIL import ImageDraw, ImageFont

    rows = list(report["variants"].items())
    label_w, chart_w, bar_h, gap, top, margin = 290, 330, 22, 8, 80, 16
    width = margin + label_w + 2 * (chart_w + margin) + margin
    height = top + len(rows) * (bar_h + gap) + 56
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font, small, bold = (ImageFont.load_default(size=s) for s in (14, 12, 16))
    classifier = report.get("classifier", {})
    draw.text((margin, 8), "Do the heat maps point at the tumour?", fill="black", font=bold)
    draw.text(
        (margin, 28),
        f"{report['scored']} expert-outlined validation slices (figshare) the classifier calls tumour; classifier "
        f"{classifier.get('name', '')} {classifier.get('version', '')}",
        fill=(60, 60, 60),
        font=small,
    )
    panels = (("pointing_game", "Heat-map peak inside the tumour"), ("mass_inside_mean", "Heat-map mass inside"))
    chance = report["uniform_map_mass_inside"]
    for k, (key, title) in enumerate(panels):
        x0 = margin + label_w + k * (chart_w + margin)
        draw.text((x0, 54), title, fill="black", font=font)
        scale = chart_w / 1.0 if key == "pointing_game" else chart_w / 0.25
        for i, (name, row) in enumerate(rows):
            y = top + i * (bar_h + gap)
            if k == 0:
                draw.text((margin, y + 3), name, fill="black", font=font)
            value = row[key]
            colour = (
                (120, 120, 120)
                if row["layer"] == BRIGHTNESS
                else ((200, 60, 40) if name == SHIPPED.name else (60, 110, 190))
            )
            draw.rectangle([x0, y, x0 + max(1, int(value * scale)), y + bar_h], fill=colour)
            shown = f"{value:.0%}" if key == "pointing_game" else f"{value:.1%}"
            draw.text((x0 + int(value * scale) + 4, y + 4), shown, fill="black", font=small)
        axis_y = top + len(rows) * (bar_h + gap)
        draw.line([x0, top - 4, x0, axis_y], fill="black")
        limit = 1.0 if key == "pointing_game" else 0.25
        draw.text((x0 + chart_w - 30, axis_y + 2), f"{limit:.0%}", fill="black", font=small)
        draw.text((x0, axis_y + 2), "0", fill="black", font=small)
        if key == "mass_inside_mean":
            cx = x0 + int(chance * scale)
            for y in range(top - 4, axis_y, 8):
                draw.line([cx, y, cx, y + 4], fill="black")
            draw.text((cx + 3, axis_y + 18), f"uniform map {chance:.1%}", fill="black", font=small)
    draw.text(
        (margin, height - 22),
        "Red: the app's heat map. Grey: the slice's own brightness, no model. Rerun: brainscan evaluate heatmaps "
        "--figure docs/heatmaps.png",
        fill=(80, 80, 80),
        font=small,
    )
    return image
