"""AnalysisWorker: the one QObject that does long work off the GUI thread. It never touches widgets.

Life cycle (see MainWindow): the worker is moved to a QThread; the GUI calls the ``request_*`` methods, which
emit private signals that Qt queues to the worker's thread, where the slots ``open_paths``, ``load_series`` and
``analyze`` run one at a time. Each job ends with exactly one signal: ``series_found`` (several series: the
GUI offers a choice), ``volume_loaded``, ``finished`` (the study is saved in the history; if saving failed,
``failed(StorageError)`` follows), ``cancelled`` or ``failed``.

Model loading imports the model runtime (TensorFlow or LiteRT) and can take seconds; it runs on its own
Python thread so that a series dropped meanwhile is read and shown at once (the GUI queues its analysis
until ``models_ready``). It ends with ``models_ready(LoadedModels)`` or ``models_failed(BrainScanError)``.

Cancelling sets ``cancel_event`` (a ``threading.Event``) that ``analyze`` polls between batches; ``cancel`` is a
plain method, so it works while the worker's thread is busy. Progress is throttled to at most ~20 signals per second.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal, Slot

from brainscan.errors import (
    AnalysisCancelled,
    BrainScanError,
    InferenceError,
    ModelError,
    SeriesLoadError,
    StorageError,
)
from brainscan.pipeline.progress import overall_fraction
from brainscan.ui.background import BackgroundTask

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05


def overall_percent(done: int, total: int, n_slices: int) -> int:
    """brainscan.pipeline.progress.overall_fraction as a whole percentage."""
    return int(100 * overall_fraction(done, total, n_slices))


class ProgressThrottle:
    """Pass ``(percent, message)`` to ``emit`` for the first, the last, and at most one update per ``interval`` s."""

    def __init__(
        self,
        emit: Callable[[int, str], None],
        n_slices: int,
        interval: float = PROGRESS_INTERVAL_S,
        clock=time.monotonic,
    ):
        self.emit, self.n_slices, self.interval, self.clock = emit, n_slices, interval, clock
        self.last = float("-inf")

    def __call__(self, done: int, total: int, message: str) -> None:
        now = self.clock()
        if done < total and now - self.last < self.interval:
            return
        self.last = now
        self.emit(overall_percent(done, total, self.n_slices), message)


def default_models_loader():
    """The shipped, SHA-verified models (imports the model runtime: call it off the GUI thread)."""
    from brainscan.runtime.loading import load_shipped_models

    return load_shipped_models()


def reports_failures(slot: Callable) -> Callable:
    """Whatever a worker slot raises reaches the GUI thread as ``failed``, never the excepthook of this thread:
    an exception escaping a slot would leave the window busy for good (and a dialog must not open here)."""

    @functools.wraps(slot)
    def guarded(self, *args, **kwargs):
        try:
            return slot(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the GUI shows it; nothing may escape the worker thread
            log.exception("worker job %s failed", slot.__name__)
            if not isinstance(exc, BrainScanError):
                wrapped = BrainScanError(f"BrainScan hit an unexpected error ({type(exc).__name__}: {exc}).")
                wrapped.__cause__ = exc
                exc = wrapped
            self.failed.emit(exc)
            return None

    return guarded


class AnalysisWorker(QObject):
    """Scan, load, analyse and save studies on the thread it is moved to."""

    progress = Signal(int, str)  # percent 0..100, message
    models_ready = Signal(object)  # LoadedModels
    models_failed = Signal(object)  # BrainScanError
    series_found = Signal(list)  # list[SeriesInfo] when a path holds several series
    volume_loaded = Signal(object)  # Volume
    preliminary = Signal(object)  # AnalysisResult with the verdict only, before outlines and heat maps
    outlined = Signal(object, object)  # Volume, {slice index: bool mask} for each batch of outlines as it lands
    finished = Signal(object)  # AnalysisResult, saved in the history (unless save_failed came just before)
    save_failed = Signal(object)  # StorageError, sent before ``finished`` when the result could not be saved
    failed = Signal(object)  # BaseException (BrainScanError for expected failures)
    cancelled = Signal()

    _open_requested = Signal(list, str)
    _load_requested = Signal(object)
    _analyze_requested = Signal(object)

    def __init__(self, models_loader: Callable | None = None, history_path: Path | None = None):
        super().__init__()
        self.models_loader = models_loader or default_models_loader
        self.history_path = history_path
        self._store = None  # opened (and checked) on the first save, then kept: one connection in this thread
        self.models = None
        self.cancel_event = threading.Event()
        self._loader = BackgroundTask(
            "brainscan-model-loader",
            lambda exc: ModelError(f"The models could not be loaded ({type(exc).__name__}: {exc})."),
        )
        # direct: the outcome is announced from the loader's own thread, not queued behind a running job here
        self._loader.done.connect(self._models_loaded, Qt.ConnectionType.DirectConnection)
        self._open_requested.connect(self.open_paths)
        self._load_requested.connect(self.load_series)
        self._analyze_requested.connect(self.analyze)

    # ---- called from the GUI thread -------------------------------------------------------------------
    def request_open(self, paths: list[Path], prefer_series_uid: str = "") -> None:
        self._open_requested.emit([Path(p) for p in paths], prefer_series_uid)

    def request_load(self, info) -> None:
        self._load_requested.emit(info)

    def request_analysis(self, volume) -> None:
        self.cancel_event.clear()
        self._analyze_requested.emit(volume)

    def cancel(self) -> None:
        """Ask a running analysis to stop at its next batch (safe from any thread)."""
        self.cancel_event.set()

    def start_model_loading(self) -> None:
        """Load the models as a background task (brainscan.ui.background); ends with ``models_ready`` or
        ``models_failed``."""
        if not self._loader.started:
            self._loader.start(self._timed_load)

    def join_model_loader(self, timeout: float | None = None) -> bool:
        """Wait for model loading to end; True when it is not running any more."""
        return self._loader.join(timeout)

    # ---- run off the GUI thread --------------------------------------------------------------------------
    def _timed_load(self):
        start = time.perf_counter()
        models = self.models_loader()
        log.info("models loaded in %.1f s", time.perf_counter() - start)
        return models

    def _models_loaded(self, ok: bool, value) -> None:
        if ok:
            self.models = value
            self.models_ready.emit(value)
        else:  # a damaged install must not kill the app: the error is shown, the window stays
            self.models_failed.emit(value)

    def load_models(self) -> None:
        """Load the models on the calling thread (``start_model_loading`` does it in the background)."""
        try:
            self._models_loaded(True, self._timed_load())
        except BrainScanError as exc:
            self._models_loaded(False, exc)

    @Slot(list, str)
    @reports_failures
    def open_paths(self, paths: list[Path], prefer_series_uid: str = "") -> None:
        from brainscan.io import scan

        try:
            found = scan(paths)
        except Exception as exc:
            self.failed.emit(_as_load_error(exc, paths))
            return
        preferred = [info for info in found if prefer_series_uid and info.series_uid == prefer_series_uid]
        if preferred:
            found = preferred[:1]
        if len(found) > 1:
            self.series_found.emit(found)
            return
        self.load_series(found[0])

    @Slot(object)
    @reports_failures
    def load_series(self, info) -> None:
        from brainscan.io import load

        try:
            volume = load(info)
        except Exception as exc:
            self.failed.emit(_as_load_error(exc, [info.source]))
            return
        self.volume_loaded.emit(volume)

    @Slot(object)
    @reports_failures
    def analyze(self, volume) -> None:
        from brainscan.pipeline.analyze import analyze
        from brainscan.pipeline.summary import to_study_record

        if self.models is None:
            self.failed.emit(ModelError("No models are loaded, so the images cannot be analysed."))
            return
        throttle = ProgressThrottle(self.progress.emit, volume.n_slices)
        try:
            result = analyze(
                volume,
                self.models.classifier,
                self.models.segmenter,
                on_progress=throttle,
                should_cancel=self.cancel_event.is_set,
                on_verdict=self.preliminary.emit,
                on_outlines=lambda found: self.outlined.emit(volume, {i: s.mask for i, s in found.items()}),
            )
            if self.cancel_event.is_set():
                raise AnalysisCancelled("The analysis was cancelled; nothing was saved.")
            self.progress.emit(100, "Saving to the study history")
            record = to_study_record(result)
        except AnalysisCancelled:
            log.info("analysis cancelled")
            self.cancelled.emit()
            return
        except BrainScanError as exc:
            self.failed.emit(exc)
            return
        except Exception as exc:
            log.exception("analysis failed")
            wrapped = InferenceError(f"The analysis failed unexpectedly ({type(exc).__name__}: {exc}).")
            wrapped.__cause__ = exc
            self.failed.emit(wrapped)
            return
        try:
            self._save(record)
        except StorageError as exc:  # the result is still worth showing; the GUI reports the failed save
            self.save_failed.emit(exc)
            self.finished.emit(result)
            self.failed.emit(exc)
            return
        self.finished.emit(result)

    def _save(self, record) -> None:
        """Save ``record``; any failure is a StorageError (the result is shown all the same)."""
        from brainscan.storage import HistoryStore, default_history_path

        try:
            opened = self._store is None
            if opened:
                self._store = HistoryStore(self.history_path or default_history_path())
            store = self._store
            try:
                store.save(record)
            except StorageError:
                store.close()
                self._store = None  # the next save opens and checks the file again (a damaged one is moved aside)
                raise
            if opened and store.moved_aside is not None:
                raise StorageError(f"{store.damage_message} This study was saved in the new history.")
        except StorageError:
            raise
        except Exception as exc:
            log.exception("saving the study failed")
            raise StorageError(f"The study could not be saved to the history ({type(exc).__name__}: {exc}).") from exc


def _as_load_error(exc: Exception, paths) -> BrainScanError:
    if isinstance(exc, BrainScanError):
        return exc
    log.exception("reading %s failed", paths)
    names = ", ".join(str(p) for p in paths)
    wrapped = SeriesLoadError(f"The images in {names} could not be read ({type(exc).__name__}: {exc}).")
    wrapped.__cause__ = exc
    return wrapped
