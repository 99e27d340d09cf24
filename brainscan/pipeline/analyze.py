"""analyze(volume, models) -> AnalysisResult: the one analysis path shared by the GUI worker, CLI and tests.

Steps, each reporting progress through ``on_progress(done, total, message)`` and checking
``should_cancel()`` between batches:

1. classify every slice (calibrated probabilities), in batches, and decide which slices can be assessed at all
   (brainscan.pipeline.assessability); slices that cannot are "not assessed", with the reason, and count
   for nothing;
2. series verdict over the assessed slices (brainscan.pipeline.verdict), possibly "cannot assess";
3. segmentation **gate**: a slice is segmented only when the series verdict is "tumour" and that slice's
   own tumour probability is at least the slice threshold (the model card's operating point, else 0.5; see
   brainscan.rules). Slices the classifier calls tumour-free
   never show an outline, so the mask and the verdict cannot contradict each other;
4. segment the gated slices, key slices first (see ``outline_order``), clean the masks
   (brainscan.pipeline.masks), measure area per slice, volume over the series (needs pixel and slice spacing)
   and the longest diameter; ``on_outlines`` hands each batch of outlines to a viewer as it arrives;
5. Grad-CAM heat maps for the key slices (up to 6), the slices a report shows.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from brainscan.errors import AnalysisCancelled, InferenceError
from brainscan.pipeline.applicability import applicability_warnings
from brainscan.pipeline.assessability import (
    DAMAGED,
    MIN_HEAD_FRACTION,
    Assessment,
    assess_slices,
    mark_unfamiliar,
    not_a_head_reason,
)
from brainscan.pipeline.evidence import volume_evidence
from brainscan.pipeline.extent import FOLLOW_MIN_P, tumour_region
from brainscan.pipeline.masks import clean_mask
from brainscan.pipeline.measure import area, longest_diameter, volume_ml
from brainscan.pipeline.multiplanar import fused_outlines, fused_probability, is_thin_volume, region_box
from brainscan.pipeline.type_plausibility import PITUITARY, series_midline_offset, type_doubt
from brainscan.pipeline.verdict import evidence_verdict, image_set_verdict, series_verdict
from brainscan.rules import describe_gate, outline_gate, slice_threshold, tumour_threshold_of
from brainscan.types import AnalysisResult, ModelInfo, SegmentationResult, SlicePrediction, Volume

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, str], None]
CancelCheck = Callable[[], bool]

CLASSIFY_BATCH = 8
SEGMENT_BATCH = 4


def model_info(model) -> ModelInfo:
    """ModelInfo from a model's spec; models without a spec (tests, ad-hoc) are named by their class."""
    spec = getattr(model, "spec", None)
    if spec is not None:
        return spec.info()
    return ModelInfo(type(model).__name__, "unversioned", "")


def outline_order(gated: list[int], key_slices: tuple[int, ...]) -> list[int]:
    """The order in which gated slices are outlined: the verdict's key slices first (most suspicious first),
    then the others from first to last.

    Why: with the card's test-time views an outline costs about half a second per slice on a laptop CPU, so a
    24-slice tumour takes seconds; the key slice is the one the viewer shows and the report leads with, so its
    outline should be on screen first.
    """
    gated_set = set(gated)
    first = [i for i in key_slices if i in gated_set]
    chosen = set(first)
    return first + [i for i in gated if i not in chosen]


def outline_batches(ordered: list[int]) -> list[list[int]]:
    """The key slice alone first (its outline shows after one slice's worth of work), then ``SEGMENT_BATCH``
    slices at a time."""
    if not ordered:
        return []
    rest = ordered[1:]
    return [ordered[:1]] + [rest[i : i + SEGMENT_BATCH] for i in range(0, len(rest), SEGMENT_BATCH)]


def classify_slices(volume: Volume, classifier, report: ProgressCallback, check: Callable[[], None]):
    """Step 1: calibrated probabilities for every slice and whether it can be assessed (with the reason).

    Raises:
        InferenceError: when the classifier returns output of the wrong shape.
    """
    slices = volume.pixels
    n = volume.n_slices
    applicability = getattr(classifier, "applicability", None) or {}
    assessments = assess_slices(slices, applicability.get("min_head_fraction", MIN_HEAD_FRACTION))
    not_a_head = not_a_head_reason(slices, is_volume=bool(volume.pixel_spacing_mm and volume.slice_spacing_mm))
    if not_a_head:  # never a verdict on a phantom, a pattern or a photo: nothing is assessed
        assessments = [Assessment(False, not_a_head, 0.0, readable=False) if a.readable else a for a in assessments]
    for index in volume.damaged_slices:
        if 0 <= index < len(assessments):
            assessments[index] = Assessment(False, DAMAGED, 0.0, readable=False)
    probabilities, distances = [], []
    for first in range(0, n, CLASSIFY_BATCH):
        check()
        batch = [slices[i] for i in range(first, min(n, first + CLASSIFY_BATCH))]
        readable = [i for i in range(first, first + len(batch)) if assessments[i].readable]
        out = np.full((len(batch), 4), np.nan)
        far = np.full(len(batch), np.nan)
        if readable:
            chunk = [slices[i] for i in readable]
            if hasattr(classifier, "predict_with_distance"):
                got, got_far = classifier.predict_with_distance(chunk, batch_size=CLASSIFY_BATCH)
                if got_far is not None:
                    far[[i - first for i in readable]] = np.asarray(got_far, dtype=np.float64)
            else:
                got = classifier.predict(chunk, batch_size=CLASSIFY_BATCH)
            got = np.asarray(got, dtype=np.float64)
            if got.shape != (len(chunk), 4):
                raise InferenceError(f"The classifier returned {got.shape} instead of ({len(chunk)}, 4).")
            out[[i - first for i in readable]] = got
        probabilities.append(out)
        distances.append(far)
        report(min(n, first + CLASSIFY_BATCH), n, f"Classified slice {min(n, first + CLASSIFY_BATCH)} of {n}")
    probs = np.concatenate(probabilities) if probabilities else np.zeros((0, 4))
    far = np.concatenate(distances) if distances else np.zeros(0)
    if getattr(classifier, "feature_distance", None) is not None:
        assessments = mark_unfamiliar(assessments, far, applicability.get("max_distance"))
    operating_point = tumour_threshold_of(classifier)
    return tuple(
        SlicePrediction(
            i,
            tuple(float(p) for p in np.nan_to_num(row, nan=0.0)),
            operating_point,
            assessed=assessments[i].assessed,
            reason=assessments[i].reason,
        )
        for i, row in enumerate(probs)
    )


def analyze(
    volume: Volume,
    classifier,
    segmenter=None,
    on_progress: ProgressCallback | None = None,
    should_cancel: CancelCheck | None = None,
    explain: bool = True,
    on_verdict: Callable[[AnalysisResult], None] | None = None,
    on_outlines: Callable[[dict[int, SegmentationResult]], None] | None = None,
) -> AnalysisResult:
    """Run the steps above on every slice of ``volume``.

    Args:
        volume: the loaded series.
        classifier: a brainscan.runtime.protocols.Classifier.
        segmenter: a brainscan.runtime.protocols.Segmenter, or None to skip outlines.
        on_progress: called with (done, total, message) after each batch.
        should_cancel: polled between batches; when it returns True the analysis stops.
        explain: compute Grad-CAM for the key slices.
        on_verdict: called once classification is done with a preliminary result (verdict and per-slice
            probabilities, no outlines, measurements or heat maps yet), so a viewer can show the verdict
            while the slower steps run.
        on_outlines: called after each segmentation batch that found tumour, with that batch's outlines by
            slice index (key slices come first), so a viewer can draw them before the whole series is done.

    Raises:
        AnalysisCancelled: when ``should_cancel`` returned True.
        InferenceError: when a model fails or returns output of the wrong shape.
    """
    report = on_progress or (lambda done, total, message: None)
    cancelled = should_cancel or (lambda: False)
    slices = volume.pixels
    n = volume.n_slices
    timings: dict[str, float] = {}
    # total grows once we know how many slices the gate lets through
    total = n

    def check() -> None:
        if cancelled():
            raise AnalysisCancelled("The analysis was cancelled; nothing was saved.")

    start = time.perf_counter()
    predictions = classify_slices(volume, classifier, report, check)
    threshold = slice_threshold(tumour_threshold_of(classifier))
    verdict = series_verdict(predictions, threshold=threshold, slice_spacing_mm=volume.slice_spacing_mm)
    if volume.image_set:  # unrelated images (brainscan.io.images): each judged on its own, no series verdict
        verdict = image_set_verdict(predictions, threshold=threshold)
    timings["classify"] = time.perf_counter() - start

    models = [model_info(classifier)] + ([model_info(segmenter)] if segmenter is not None else [])
    gate = describe_gate(threshold)
    unlike = applicability_warnings(volume)
    series_model = getattr(classifier, "series_model", None)
    by_evidence = decides_by_evidence(volume, verdict, segmenter, series_model)
    thin = by_evidence and is_thin_volume(volume.pixel_spacing_mm, volume.slice_spacing_mm, volume.n_slices)
    if by_evidence:
        models.append(series_model.info())
        gate = (
            f"{gate}; in a volume every positive slice is outlined first, as evidence for the series model, and for "
            f"a tumour the largest outlined region is kept and followed into neighbouring slices with P(tumour) >= "
            f"{FOLLOW_MIN_P:g}"
        )
        if thin:
            gate += "; in a thin-slice volume the tumour's outline is the mean of its readings in all three planes"

    def preliminary(verdict_now) -> None:
        if on_verdict is not None:
            on_verdict(
                AnalysisResult(
                    volume=volume,
                    predictions=predictions,
                    verdict=verdict_now,
                    segmentations={},
                    heatmaps={},
                    volume_ml=None,
                    longest_diameter=None,
                    area_unit="mm2" if volume.pixel_spacing_mm is not None else "px",
                    models=tuple(models),
                    gate=gate,
                    timings_s=dict(timings),
                    warnings=("Preliminary: outlines, measurements and heat maps are still being computed.",),
                    cautions=tuple(unlike),
                )
            )

    warnings: list[str] = []
    if segmenter is None:
        warnings.append("No segmentation model is installed: no tumour outlines or measurements.")
    if by_evidence:
        # every positive slice is outlined first: the outlines are evidence for the verdict, shown only for tumour
        candidates = [p.index for p in predictions if p.assessed and p.tumour_probability >= threshold]
        ordered = outline_order(candidates, verdict.key_slices)
    else:
        preliminary(verdict)
        ordered = outline_order(outline_gate(predictions, verdict.tumour, threshold), verdict.key_slices)
    explainable = explain and verdict.assessable and hasattr(classifier, "explain")
    total = n + (len(ordered) if segmenter is not None else 0) + (len(verdict.key_slices) if explainable else 0)
    progress = {"done": n}

    rejected: set[int] | None = set() if by_evidence else None  # outlines that are evidence, never shown
    axial_maps: dict[int, np.ndarray] | None = {} if thin else None  # for the three-plane reading

    def outline(chunk_indices: list[int]) -> dict[int, SegmentationResult]:
        check()
        report(progress["done"], total, f"Outlining slice {progress['done'] - n + 1} of {len(ordered)}")
        found = segment_slices(volume, segmenter, chunk_indices, rejected, axial_maps)
        progress["done"] += len(chunk_indices)
        report(progress["done"], total, f"Outlined {progress['done'] - n} of {len(ordered)} slices")
        return found

    def follow(indices: list[int]) -> dict[int, np.ndarray]:
        nonlocal total
        check()
        total += len(indices)
        report(progress["done"], total, "Following the tumour into the next slices")
        found = segment_slices(volume, segmenter, indices, maps_out=axial_maps)  # gated: must pass the gate
        progress["done"] += len(indices)
        return {i: s.mask for i, s in found.items()}

    def read_maps(images: list[np.ndarray]) -> list[np.ndarray]:
        nonlocal total
        total += len(images)
        maps: list[np.ndarray] = []
        for begin in range(0, len(images), 8):
            check()
            report(progress["done"], total, "Reading the tumour in all three planes")
            maps += outline_maps(segmenter, images[begin : begin + 8])[0]  # ungated: averaged, not judged per slice
            progress["done"] += len(images[begin : begin + 8])
        return maps

    segmentations: dict[int, SegmentationResult] = {}
    start = time.perf_counter()
    if segmenter is not None:
        for chunk in outline_batches(ordered):
            found = outline(chunk)
            segmentations.update(found)
            if found and on_outlines is not None and not by_evidence:
                on_outlines(found)
    timings["segment"] = time.perf_counter() - start
    gated = list(ordered)  # every slice outlined for a tumour verdict (none where outlines were hidden)
    detached: dict[int, np.ndarray] = {}
    if by_evidence:
        verdict = decide_by_evidence(volume, predictions, verdict, segmentations, threshold, series_model)
        segmentations = {i: s for i, s in segmentations.items() if i not in rejected}  # the gate's say on display
        if not verdict.tumour:
            segmentations, gated = {}, []  # no outline ever contradicts the verdict
        else:
            start = time.perf_counter()
            segmentations, detached, followed = one_tumour_region(
                volume, predictions, segmentations, set(ordered), follow
            )
            gated += sorted(followed)
            timings["segment"] += time.perf_counter() - start
        preliminary(verdict)
        if segmentations and on_outlines is not None:
            on_outlines(dict(segmentations))
        if segmentations and thin:  # refine what was just shown
            start = time.perf_counter()
            segmentations, detached = three_planes(
                volume, predictions, segmenter, segmentations, detached, axial_maps, read_maps
            )
            gated = sorted(set(gated) | set(segmentations))
            timings["segment"] += time.perf_counter() - start
            if on_outlines is not None:
                on_outlines(dict(segmentations))
    key = list(verdict.key_slices) if explainable else []
    done = progress["done"]
    if detached:
        warnings.append(detached_warning(volume, detached))

    heatmaps: dict[int, np.ndarray] = {}
    start = time.perf_counter()
    for index in key:
        check()
        class_index = predictions[index].class_index
        heatmaps[index] = np.asarray(classifier.explain(slices[index], class_index), dtype=np.float32)
        done += 1
        report(done, total, f"Heat map for key slice {index + 1}")
    timings["explain"] = time.perf_counter() - start

    segmentations = dict(sorted(segmentations.items()))  # slice order, whatever order they were outlined in
    verdict = with_type_doubt(volume, verdict, segmentations)
    masks = [s.mask for s in segmentations.values()]
    diameters = [s.longest_diameter for s in segmentations.values() if s.longest_diameter is not None]
    if volume.pixel_spacing_mm is None:
        warnings.append("Pixel spacing unknown (not DICOM): areas are in pixels, no volume in mL.")
    return AnalysisResult(
        volume=volume,
        predictions=predictions,
        verdict=verdict,
        segmentations=segmentations,
        heatmaps=heatmaps,
        volume_ml=volume_ml(masks, volume.pixel_spacing_mm, volume.slice_spacing_mm)
        if masks
        else (
            0.0
            if volume.pixel_spacing_mm and volume.slice_spacing_mm and segmenter is not None and verdict.assessable
            else None  # nothing measured: no spacing, no segmenter, or a series that could not be assessed
        ),
        longest_diameter=max(diameters) if diameters and not volume.image_set else None,  # never across people
        area_unit="mm2" if volume.pixel_spacing_mm is not None else "px",
        models=tuple(models),
        gate=gate,
        timings_s=timings,
        analysed_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        warnings=tuple(warnings),
        cautions=tuple(unlike),
        segmented=tuple(sorted(gated)) if segmenter is not None else None,
        set_apart=dict(sorted(detached.items())),
    )


def with_type_doubt(volume: Volume, verdict, segmentations: dict[int, SegmentationResult]):
    """The verdict, with ``type_doubt`` and its basis saying so when the named type does not fit where the
    outlined lesion lies (brainscan.pipeline.type_plausibility)."""
    if not verdict.tumour or verdict.label != PITUITARY or not segmentations:
        return verdict
    masks = {index: s.mask for index, s in segmentations.items()}
    doubt = type_doubt(verdict.label, series_midline_offset(volume, masks, verdict.key_slices))
    if not doubt:
        return verdict
    basis = f"{verdict.basis}; {doubt}" if verdict.basis else doubt
    return replace(verdict, type_doubt=doubt, basis=basis)


def outline_maps(segmenter, slices, batch_size: int = SEGMENT_BATCH) -> tuple[list[np.ndarray], list[bool]]:
    """Ungated probability maps and whether the segmenter's slice gate passed each slice (all True for a
    segmenter without one)."""
    with_gate = getattr(segmenter, "predict_with_gate", None)
    if with_gate is None:
        maps = segmenter.predict(slices, batch_size=batch_size)
        return maps, [True] * len(maps)
    return with_gate(slices, batch_size=batch_size)


def segment_slices(
    volume: Volume,
    segmenter,
    indices: list[int],
    rejected: set[int] | None = None,
    maps_out: dict[int, np.ndarray] | None = None,
) -> dict[int, SegmentationResult]:
    """Cleaned, measured outlines of ``indices`` (slices where nothing is outlined are left out).

    With ``maps_out`` (a dict to fill), every slice's ungated probability map is kept there as float16 (the
    three-plane reading of a thin-slice volume averages them).

    With ``rejected`` (a set to fill), slices the segmenter's gate rejects keep their outline here and their
    index goes into the set: the series model weighs every outline as evidence, and the caller drops the
    rejected ones before showing or measuring. Without it, rejected slices have no outline.

    Raises:
        InferenceError: when the segmenter returns the wrong number or shape of maps.
    """
    slices = volume.pixels
    maps, passed = outline_maps(segmenter, [slices[i] for i in indices])
    if len(maps) != len(indices) or len(passed) != len(indices):
        raise InferenceError(f"The segmenter returned {len(maps)} maps for {len(indices)} slices.")
    found: dict[int, SegmentationResult] = {}
    for index, prob_map, ok in zip(indices, maps, passed, strict=True):
        if np.shape(prob_map) != slices[index].shape:
            raise InferenceError(
                f"The segmenter returned a {np.shape(prob_map)} map for a {slices[index].shape} slice."
            )
        if maps_out is not None:
            maps_out[index] = np.asarray(prob_map, dtype=np.float16)
        if not ok and rejected is None:
            continue
        mask = clean_mask(prob_map, segmenter.mask_threshold, pixel_spacing_mm=volume.pixel_spacing_mm)
        if mask.any():
            found[index] = measured_outline(volume, index, mask)
            if not ok:
                rejected.add(index)
    return found


def measured_outline(volume: Volume, index: int, mask: np.ndarray) -> SegmentationResult:
    """A cleaned outline with its area and longest diameter."""
    a = area(mask, volume.pixel_spacing_mm)
    return SegmentationResult(index, mask, a.value, a.unit, longest_diameter(mask, volume.pixel_spacing_mm))


def one_tumour_region(
    volume: Volume,
    predictions,
    segmentations: dict[int, SegmentationResult],
    tried: set[int],
    outline_more: Callable[[list[int]], dict[int, np.ndarray]],
) -> tuple[dict[int, SegmentationResult], dict[int, np.ndarray], frozenset[int]]:
    """The outlines of a tumour volume as one region (brainscan.pipeline.extent): (outlines kept, re-measured where
    a part was set apart; outlines set apart; slices outlined because they continue the region)."""
    followable = np.asarray([p.assessed and p.tumour_probability >= FOLLOW_MIN_P for p in predictions], dtype=bool)
    region = tumour_region({i: s.mask for i, s in segmentations.items()}, followable, outline_more, tried)
    kept = {}
    for index, mask in sorted(region.kept.items()):
        before = segmentations.get(index)
        same = before is not None and np.array_equal(before.mask, mask)
        kept[index] = before if same else measured_outline(volume, index, mask)
    return kept, region.detached, region.followed


def three_planes(
    volume: Volume,
    predictions,
    segmenter,
    segmentations: dict[int, SegmentationResult],
    detached: dict[int, np.ndarray],
    axial_maps: dict[int, np.ndarray],
    read_maps: Callable[[list[np.ndarray]], list[np.ndarray]],
) -> tuple[dict[int, SegmentationResult], dict[int, np.ndarray]]:
    """A thin-slice volume's tumour outlines from its three planes (brainscan.pipeline.multiplanar): the region's
    box is read in the two perpendicular planes, and the acquired slices in the box that were not outlined yet
    are read too. Returns (outlines, what stays set apart); the axial outlines when the fused reading keeps
    nothing that connects to them."""
    shape = volume.pixels.shape
    box = region_box({i: s.mask for i, s in segmentations.items()}, shape)
    unread = [z for z in range(box[0].start, box[0].stop) if predictions[z].assessed and z not in axial_maps]
    for z, prob in zip(unread, read_maps([volume.pixels[z] for z in unread]), strict=True):
        axial_maps[z] = np.asarray(prob, dtype=np.float16)
    in_box = {z: axial_maps[z] for z in range(box[0].start, box[0].stop) if z in axial_maps}
    fused = fused_probability(volume.pixels, box, in_box, read_maps)
    outlines = fused_outlines(
        fused, box, segmenter.mask_threshold, {i: s.mask for i, s in segmentations.items()}, shape[1:]
    )
    spacing = volume.pixel_spacing_mm
    cleaned = {i: clean_mask(m.astype(np.float32), 0.5, pixel_spacing_mm=spacing) for i, m in outlines.items()}
    outlines = {i: m for i, m in cleaned.items() if m.any()}  # as every outline: no specks, no holes
    if not outlines:
        return segmentations, detached
    kept = {i: measured_outline(volume, i, m) for i, m in sorted(outlines.items())}
    apart = {i: m & ~outlines[i] if i in outlines else m for i, m in detached.items()}
    return kept, {i: m for i, m in apart.items() if m.any()}


def slice_ranges(indices: list[int]) -> str:
    """Slice numbers as a clinician reads them (1-based), runs joined: [0, 1, 2, 5] -> "1-3, 6"."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ", ".join(f"{r[0] + 1}-{r[-1] + 1}" if len(r) > 1 else f"{r[0] + 1}" for r in runs)


def detached_warning(volume: Volume, detached: dict[int, np.ndarray]) -> str:
    """What the clinician is told about outlines set apart from the tumour region (never silently lost)."""
    numbers = slice_ranges(sorted(detached))
    where = f"slice {numbers}" if len(detached) == 1 else f"slices {numbers}"
    size = ""
    if volume.pixel_spacing_mm and volume.slice_spacing_mm:
        ml = volume_ml(list(detached.values()), volume.pixel_spacing_mm, volume.slice_spacing_mm)
        size = f" ({ml:.1f} mL)" if ml >= 0.05 else " (under 0.1 mL)"
    return (
        f"Outlines on {where}{size} lie apart from the largest outlined region: drawn as a cyan line, not "
        "measured. A tumour is one connected region, and most such outlines are normal tissue; a second, "
        "separate lesion would look the same: look at these slices yourself."
    )


def decides_by_evidence(volume: Volume, verdict, segmenter, series_model) -> bool:
    """Whether the series model decides: a volume with known pixel and slice spacing and enough slices, a
    segmenter, and a verdict that can be given at all. Image folders and short series keep the slice rule."""
    return (
        series_model is not None
        and segmenter is not None
        and verdict.assessable
        and volume.pixel_spacing_mm is not None
        and bool(volume.slice_spacing_mm)
        and volume.n_slices >= series_model.min_slices
    )


def decide_by_evidence(volume: Volume, predictions, verdict, segmentations, threshold: float, series_model):
    """Measure the series evidence from the outlines and let the series model decide (brainscan.pipeline.evidence,
    brainscan.pipeline.verdict.evidence_verdict)."""
    tumour_p = np.asarray([p.tumour_probability for p in predictions], dtype=np.float64)
    assessed = np.asarray([p.assessed for p in predictions], dtype=bool)
    evidence = volume_evidence(
        volume, tumour_p, assessed, {i: s.mask for i, s in segmentations.items()}, threshold,
        float(verdict.tumour_probability),
    )  # fmt: skip
    values = evidence.values()
    return evidence_verdict(
        verdict,
        predictions,
        evidence,
        series_model.probability(values),
        series_model.abnormal_probability(values),
        series_model.tumour_threshold,
        series_model.abnormal_threshold,
    )
