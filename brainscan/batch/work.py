"""One series in a worker process: load, analyse with the app's own analysis, write its files, return its row.

Models are loaded once per worker (``models_for``): a per-process cache of loaded model sets keyed by the
factory that made them. A task borrows a set and gives it back, so a worker running one task at a time (the
process pool, a Dask worker with one thread) loads one set for its whole life; a Dask worker with several
threads loads one set per thread that runs concurrently (LiteRT interpreters are not shared between threads).

Whatever goes wrong with one series (unreadable files, a model error on its pixels, a report that cannot be
written, an unexpected exception) becomes that series' row with the reason: it never stops the others. A
failure to load the models at all is different (every series would fail the same way): the row says
``error_type`` ModelError and the runner stops.
"""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from brainscan.atomic import write_text_atomically
from brainscan.batch.discover import Task
from brainscan.errors import BrainScanError, ModelError

DEFAULT_MODELS = "brainscan.runtime.loading:load_shipped_models"
SERIES_FOLDER = "series"
DICOM_FOLDER = "dicom"


@dataclass(frozen=True)
class Options:
    """What every task is asked to write (plain data: it travels to workers by pickle)."""

    out: str
    pdf: bool = False
    dicom_out: bool = False
    deidentify: bool = False
    heatmaps: bool = False
    models: str = DEFAULT_MODELS  # "module:function" returning a brainscan.runtime.loading.LoadedModels
    threads: int | None = None  # LiteRT interpreter threads per model set (BRAINSCAN_THREADS), None: its default


_free_models: dict[str, list] = {}
_lock = threading.Lock()
LOADS: dict[str, int] = {}
"""How many model sets this process has loaded, per factory (for tests and the docs' overhead figures)."""


THREADS_ENV = "BRAINSCAN_THREADS"


def load_models(factory: str, threads: int | None = None):
    """Call the ``module:function`` factory; with ``threads``, the LiteRT interpreters get that many threads
    unless ``BRAINSCAN_THREADS`` is set in the worker's environment already.

    Raises:
        ModelError: when the factory cannot be found or the models cannot be loaded.
    """
    if threads and not os.environ.get(THREADS_ENV):
        os.environ[THREADS_ENV] = str(threads)
    module_name, _, function_name = factory.partition(":")
    try:
        make = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"The model factory {factory!r} cannot be found: {exc}") from exc
    models = make()
    with _lock:
        LOADS[factory] = LOADS.get(factory, 0) + 1
    return models


@contextmanager
def models_for(factory: str, threads: int | None = None):
    """Borrow a loaded model set for one task (loading one only when none is free in this process)."""
    with _lock:
        stack = _free_models.setdefault(factory, [])
        models = stack.pop() if stack else None
    if models is None:
        models = load_models(factory, threads)
    try:
        yield models
    finally:
        with _lock:
            _free_models[factory].append(models)


def warm_up(factory: str, threads: int | None = None) -> int:
    """Load one model set into this process ahead of the first task (pool initializer, Dask ``client.run``);
    returns this process's id. A failure is kept for the first task to report, not raised here (a raising
    pool initializer would break the whole pool without saying why)."""
    import brainscan.io.load  # noqa: F401 - what every task imports, so the first task is not slower
    import brainscan.pipeline.analyze  # noqa: F401
    import brainscan.pipeline.summary  # noqa: F401

    try:
        with models_for(factory, threads):
            pass
    except BrainScanError:
        pass
    return os.getpid()


def _exit_with_parent(parent: int, every_s: float = 1.0) -> None:
    while True:
        time.sleep(every_s)
        if os.getppid() != parent:
            os._exit(1)


def pool_worker_init(factory: str, threads: int | None = None) -> None:
    """The local pool's initializer: ``warm_up``, and exit when the coordinator is gone. A pool worker otherwise
    outlives a coordinator killed with SIGKILL, waiting forever on its task queue."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="parent-watch").start()
    warm_up(factory, threads)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def base_row(task: Task, deidentify: bool) -> dict:
    """The row's identifying columns, before any analysis (also the row of a series that fails to load)."""
    from brainscan.presentation import REMOVED, series_label, study_code

    info = task.info
    row = {"key": task.key, "path": REMOVED if deidentify else task.path, "kind": "", "description": ""}
    row.update(patient_id="", study_uid="", series_uid="", study_code="", slices=None)
    if info is not None:
        row["kind"] = info.kind
        row["description"] = series_label(info, deidentify)
        row["study_code"] = study_code(SimpleNamespace(info=info))
        row["slices"] = info.slices
        if not deidentify:
            row.update(patient_id=info.meta.patient_id, study_uid=info.meta.study_uid, series_uid=info.series_uid)
    return row


def _redacted(message: str, task: Task, deidentify: bool) -> str:
    if not deidentify:
        return message
    from brainscan.presentation import redact, series_names

    names = series_names(task.info) if task.info is not None else []
    return redact(message.replace(task.path, "(removed)"), names)


def analyse_task(task: Task, options: Options) -> dict:
    """Analyse one series and write its outputs; the row for the results table (brainscan.batch.table.COLUMNS).
    Never raises for a problem of this series: the reason goes into the row's ``error``."""
    started = time.perf_counter()
    row = base_row(task, options.deidentify)
    row["worker"] = worker_name()
    try:
        if task.info is None:
            message = _redacted(task.error, task, options.deidentify)
            row.update(error_type=task.error_type or "SeriesLoadError", error=message)
            return row
        row.update(_analyse(task, options, row))
    except ModelError as exc:
        row.update(error_type="ModelError", error=str(exc))
    except BrainScanError as exc:
        row.update(error_type=type(exc).__name__, error=_redacted(str(exc), task, options.deidentify))
    except Exception as exc:  # noqa: BLE001 - one series' unexpected failure never stops the batch
        message = f"unexpected error: {type(exc).__name__}: {exc}"
        row.update(error_type="UnexpectedError", error=_redacted(message, task, options.deidentify))
    finally:
        row["seconds"] = round(time.perf_counter() - started, 4)
    return row


def _analyse(task: Task, options: Options, row: dict) -> dict:
    from brainscan.io.load import load
    from brainscan.jsonsafe import dumps
    from brainscan.pipeline.analyze import analyze
    from brainscan.pipeline.summary import result_to_dict
    from brainscan.presentation import result_headline

    out = Path(options.out)
    name = task.key[:16]
    t0 = time.perf_counter()
    volume = load(task.info)
    t1 = time.perf_counter()
    with models_for(options.models, options.threads) as models:
        t2 = time.perf_counter()
        result = analyze(volume, models.classifier, models.segmenter, explain=options.heatmaps)
        t3 = time.perf_counter()
    verdict, head = result.verdict, result_headline(result)
    classifier = result.models[0] if result.models else None
    segmenter = result.models[1] if len(result.models) > 1 else None
    values = {
        "slices": volume.n_slices,
        "assessment": head.state,
        "verdict": "cannot assess" if not verdict.assessable else ("tumour" if verdict.tumour else "no tumour"),
        "tumour_type": verdict.label if verdict.tumour else "",
        "tumour_probability": round(verdict.tumour_probability, 6) if verdict.tumour_probability is not None else None,
        "volume_ml": round(result.volume_ml, 3) if result.volume_ml is not None else None,
        "slices_assessed": verdict.assessed_slices,
        "positive_slices": verdict.positive_slices,
        "cautions": len(result.cautions),
        "classifier": f"{classifier.name} {classifier.version}" if classifier else "",
        "segmenter": f"{segmenter.name} {segmenter.version}" if segmenter else "",
        "load_seconds": round(t1 - t0, 4),
        "analysis_seconds": round(t3 - t2, 4),
    }
    json_path = out / SERIES_FOLDER / f"{name}.json"
    write_text_atomically(json_path, dumps(result_to_dict(result, deidentify=options.deidentify), indent=2))
    values["json"] = f"{SERIES_FOLDER}/{json_path.name}"
    problems = []
    if options.pdf:
        from brainscan.reports import write_pdf

        pdf_path = out / SERIES_FOLDER / f"{name}.pdf"
        try:
            write_pdf(result, pdf_path, deidentify=options.deidentify, heatmaps=options.heatmaps)
            values["pdf"] = f"{SERIES_FOLDER}/{pdf_path.name}"
        except BrainScanError as exc:
            problems.append(("ReportError", f"no PDF: {exc}"))
    if options.dicom_out:
        if task.info.kind != "dicom":
            values["dicom"] = "(not DICOM input)"
        else:
            from brainscan.reports import write_dicom

            try:
                written = write_dicom(result, out / DICOM_FOLDER, deidentify=options.deidentify)
                values["dicom"] = ";".join(f"{DICOM_FOLDER}/{Path(p).name}" for p in written.files)
            except BrainScanError as exc:
                problems.append(("ReportError", f"no DICOM output: {exc}"))
    if problems:
        values["error_type"] = problems[0][0]
        values["error"] = _redacted("; ".join(p[1] for p in problems), task, options.deidentify)
    return values
