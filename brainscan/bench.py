"""Benchmarks (`brainscan bench ...`): wall-clock timings printed as a table and JSON."""

from __future__ import annotations

import argparse
import json
import statistics
import time


def bench_io(path, repeat: int) -> dict:
    from brainscan.io import load, scan

    scan_times, load_times = [], []
    slices = 0
    for _ in range(repeat):
        start = time.perf_counter()
        found = scan([path])
        scan_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        volume = load(found[0])
        load_times.append(time.perf_counter() - start)
        slices = volume.n_slices
    return {
        "path": str(path),
        "slices": slices,
        "repeat": repeat,
        "scan_s_median": round(statistics.median(scan_times), 3),
        "scan_s_min": round(min(scan_times), 3),
        "load_s_median": round(statistics.median(load_times), 3),
        "load_s_min": round(min(load_times), 3),
    }


def bench_classifier(card, repeat: int, runtime: str = "keras") -> dict:
    """Model load time, ms per slice batched (32) and one by one, peak resident memory.

    ``runtime`` is "keras" or "litert" (the .tflite named in the card's "litert" entry).
    """
    import resource

    import numpy as np

    from brainscan.runtime.loading import load_classifier
    from brainscan.runtime.preprocess import preprocess_batch
    from brainscan.runtime.spec import read_spec, shipped_classifier_spec

    start = time.perf_counter()
    spec = read_spec(card) if card else shipped_classifier_spec()
    classifier = load_classifier(spec, runtime)
    batch = preprocess_batch(np.random.default_rng(0).integers(0, 255, (32, 256, 256)).astype(np.float32))
    classifier.raw_probabilities(batch)  # trace the tf.function
    classifier.raw_probabilities(batch[:1])
    load_s = time.perf_counter() - start
    batched, single = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        classifier.raw_probabilities(batch)
        batched.append((time.perf_counter() - began) * 1000 / len(batch))
        began = time.perf_counter()
        for item in batch[:8]:
            classifier.raw_probabilities(item[None])
        single.append((time.perf_counter() - began) * 1000 / 8)
    return {
        "model": spec.name,
        "runtime": runtime,
        "sha256": spec.sha256_prefix,
        "load_and_warm_s": round(load_s, 2),
        "ms_per_slice_batched_32": round(statistics.median(batched), 1),
        "ms_per_slice_single": round(statistics.median(single), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def bench_segmenter(card, repeat: int, runtime: str = "keras") -> dict:
    """Segmenter load time and ms per slice batched (16) and one by one, on 512x512 inputs."""
    import resource

    import numpy as np

    from brainscan.runtime.loading import load_segmenter
    from brainscan.runtime.spec import read_spec, shipped_segmenter_spec

    start = time.perf_counter()
    spec = read_spec(card) if card else shipped_segmenter_spec()
    segmenter = load_segmenter(spec, runtime)
    slices = list(np.random.default_rng(0).integers(0, 255, (16, 512, 512)).astype(np.float32))
    segmenter.predict(slices, batch_size=16)
    load_s = time.perf_counter() - start
    batched, single = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        segmenter.predict(slices, batch_size=16)
        batched.append((time.perf_counter() - began) * 1000 / len(slices))
        began = time.perf_counter()
        for item in slices[:4]:
            segmenter.predict([item], batch_size=1)
        single.append((time.perf_counter() - began) * 1000 / 4)
    return {
        "model": spec.name,
        "runtime": runtime,
        "sha256": spec.sha256_prefix,
        "load_and_warm_s": round(load_s, 2),
        "ms_per_slice_batched_16": round(statistics.median(batched), 1),
        "ms_per_slice_single": round(statistics.median(single), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def bench_analysis(path, slices: int, repeat: int, runtime: str | None = None) -> dict:
    """The whole path for a series of ``slices`` slices (the middle ones of PATH): load, classify, segment,
    heat maps and overlay rendering, after the models are loaded (model load is timed separately)."""
    import dataclasses

    from brainscan.io import load, scan
    from brainscan.pipeline.analyze import analyze
    from brainscan.presentation import render_slice
    from brainscan.runtime.loading import load_shipped_models

    start = time.perf_counter()
    models = load_shipped_models(runtime)
    models_s = time.perf_counter() - start
    totals, steps, firsts, first_outlines = [], [], [], []
    for _ in range(repeat):
        began = time.perf_counter()
        volume = load(scan([path])[0])
        first = max(0, volume.n_slices // 2 - slices // 2)
        volume = dataclasses.replace(
            volume,
            pixels=volume.pixels[first : first + slices],
            positions_mm=None if volume.positions_mm is None else volume.positions_mm[first : first + slices],
            slice_files=volume.slice_files[first : first + slices],
        )
        loaded = time.perf_counter()
        verdict_at: list[float] = []
        outlines_at: list[float] = []
        result = analyze(
            volume,
            models.classifier,
            models.segmenter,
            on_verdict=lambda _, mark=verdict_at.append: mark(time.perf_counter()),
            on_outlines=lambda _, mark=outlines_at.append: mark(time.perf_counter()),
        )
        analysed = time.perf_counter()
        for index in range(volume.n_slices):
            render_slice(result, index, heat=index in result.heatmaps)
        rendered = time.perf_counter()
        totals.append(rendered - began)
        firsts.append(verdict_at[0] - began)
        if outlines_at:
            first_outlines.append(outlines_at[0] - began)
        steps.append({"load": loaded - began, **result.timings_s, "render": rendered - analysed})
    median_steps = {k: round(statistics.median(s[k] for s in steps), 3) for k in steps[0]}
    return {
        "path": str(path),
        "slices": volume.n_slices,
        "runtime": getattr(models, "runtime", "?"),
        "segmenter": models.segmenter is not None,
        "models_load_s": round(models_s, 2),
        "first_result_s_median": round(statistics.median(firsts), 3),  # load + classify: the verdict shows
        # ... + the first outline batch (key slice first): the key slice shows its outline
        "first_outline_s_median": round(statistics.median(first_outlines), 3) if first_outlines else None,
        "total_s_median": round(statistics.median(totals), 3),
        "steps_s_median": median_steps,
        "tumour_slices_outlined": len(result.segmentations),
        "heatmaps": len(result.heatmaps),
    }


def run(args: argparse.Namespace) -> int:
    if args.target == "io":
        result = bench_io(args.path, args.repeat)
        print(
            f"scan: median {result['scan_s_median']} s, load: median {result['load_s_median']} s "
            f"({result['slices']} slices, {result['repeat']} runs)"
        )
        print(json.dumps(result))
        return 0
    if args.target == "classifier":
        print(json.dumps(bench_classifier(args.card, args.repeat, getattr(args, "runtime", "keras")), indent=2))
        return 0
    if args.target == "segmenter":
        print(json.dumps(bench_segmenter(args.card, args.repeat, args.runtime), indent=2))
        return 0
    if args.target == "analysis":
        print(json.dumps(bench_analysis(args.path, args.slices, args.repeat, args.runtime), indent=2))
        return 0
    if args.target == "runtimes":
        from brainscan.training.bench_runtimes import run as run_runtimes

        return run_runtimes(args)
    if args.target == "gui":
        from brainscan.app import measure_startup

        print(json.dumps(measure_startup(args.repeat), indent=2))
        return 0
    return 2
