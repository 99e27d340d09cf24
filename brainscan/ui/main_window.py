"""MainWindow: menus, drag-and-drop, status bar, and the wiring between the views and the one worker.

The window holds no analysis logic: opening, loading, analysing and saving happen in AnalysisWorker on its
QThread; the views only draw what the worker's signals deliver. What the window knows (the study on screen,
its result, the model state, the job in flight) is one Qt-free ``Session`` (brainscan.ui.session), which also
decides what a signal or a menu action leads to. Model loading starts when the window is first shown; a
series opened before the models are ready is displayed at once and analysed when they are.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QThread, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from brainscan.errors import ModelError, StorageError
from brainscan.ui import dicom_actions, errors, series_picker
from brainscan.ui.export import export_report
from brainscan.ui.history_view import HistoryView, local_time
from brainscan.ui.menus import build_menus
from brainscan.ui.progress import ProgressStrip
from brainscan.ui.result_panel import ResultPanel, tumour_slices
from brainscan.ui.session import ANALYZE, OPEN, READY, REFUSE, START, WAIT, Session, landing_slice
from brainscan.ui.settings import add_recent, app_settings, export_folder, recent_paths, remember_export_folder
from brainscan.ui.slice_slider import SliceSlider
from brainscan.ui.slice_view import SliceView
from brainscan.ui.view_controls import ViewControls
from brainscan.ui.worker import AnalysisWorker

log = logging.getLogger(__name__)

HISTORY_ROWS_SHOWN = 3
"""The study history first opens this many rows tall (also at 1024x700)."""
IMAGE_MIN_HEIGHT = 300
"""The image column (controls, slice, slider) is never shorter than this; the history takes at most two fifths
of the window's height."""


class MainWindow(QMainWindow):
    """The BrainScan window. ``models_loader`` and ``history_path`` exist so that tests inject fakes.

    The signals below are emitted in the GUI thread after the window has handled a worker signal, so tests
    (and anything else watching) see the updated views.
    """

    volume_shown = Signal(object)  # Volume
    result_shown = Signal(object)  # AnalysisResult
    preliminary_shown = Signal(object)  # AnalysisResult with the verdict only
    outlines_shown = Signal(object)  # {slice index: mask} drawn while the analysis still runs
    error_reported = Signal(object)  # the exception shown with show_error
    analysis_cancelled = Signal()
    models_changed = Signal(str)  # "ready" or "failed"

    def __init__(self, models_loader: Callable | None = None, history_path: Path | None = None, settings=None):
        super().__init__()
        from brainscan.storage import HistoryStore, default_history_path

        self.setWindowTitle("BrainScan")
        self.setAcceptDrops(True)
        self.settings = settings if settings is not None else app_settings()
        self.history_path = Path(history_path) if history_path else default_history_path()
        self.store = HistoryStore(self.history_path)
        self.session = Session()
        self._started = self._closed = False
        self._save_failed = False

        self.view = SliceView()
        self.view.set_opacity(float(self.settings.value("view/opacity", self.view.opacity())))
        self.slider = SliceSlider()
        self.controls = ViewControls(self.view)
        self.panel = ResultPanel()
        self.history = HistoryView(self.store)
        self.progress = ProgressStrip()
        self.model_status = QLabel(self.session.models_message)
        self._build_layout()
        self.menus = build_menus(self)
        self.menus.recent.aboutToShow.connect(self._fill_recent)
        self._connect_views()

        self.worker_thread = QThread(self)
        self.worker_thread.setObjectName("brainscan-worker")
        self.worker = AnalysisWorker(models_loader, self.history_path)
        self.worker.moveToThread(self.worker_thread)
        self._connect_worker()
        self.worker_thread.start()
        self._restore_settings()
        self._update_actions()

    # ---- construction ----------------------------------------------------------------------------------
    # the study on screen, for callers (tests, docs/make_screenshot.py); the session holds them
    @property
    def volume(self):
        return self.session.volume

    @property
    def result(self):
        return self.session.result

    @property
    def follow_up(self):
        return self.session.follow_up

    @property
    def busy(self) -> str | None:
        return self.session.busy

    def _build_layout(self) -> None:
        """The image column is the central widget; the result panel is a fixed right dock, full height, and the
        history a bottom dock under the image column only (the right dock area owns the bottom-right corner), so
        the panel's slice table keeps its rows at 1024x700 while the history keeps its three."""
        self.image_column = QWidget()
        column = QVBoxLayout(self.image_column)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.controls)
        column.addWidget(self.view, 1)
        column.addWidget(self.slider)
        self.image_column.setMinimumHeight(IMAGE_MIN_HEIGHT)
        self.setCentralWidget(self.image_column)
        self.panel.setMinimumWidth(340)
        self.panel_dock = QDockWidget("Result", self)
        self.panel_dock.setObjectName("result")
        self.panel_dock.setWidget(self.panel)
        # part of the window, not a tool window: no title bar, cannot be closed, floated or moved (a dragged
        # separator still sets its width, as the splitter did)
        self.panel_dock.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.panel_dock.setTitleBarWidget(QWidget())
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel_dock)
        self.history_dock = QDockWidget("Study history", self)
        self.history_dock.setObjectName("history")
        self.history_dock.setWidget(self.history)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.history_dock)
        self._set_corners()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.model_status)
        self.resize(1280, 860)

    def _set_corners(self) -> None:
        """The result panel runs from the top to the status bar (a restored state brings its own corners)."""
        self.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

    def _place_panel_dock(self) -> None:
        """A state saved before the panel was a dock (or one that lost it) gets it back on the right, visible."""
        if (
            self.dockWidgetArea(self.panel_dock) != Qt.DockWidgetArea.RightDockWidgetArea
            or self.panel_dock.isFloating()
        ):
            self.panel_dock.setFloating(False)
            self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.panel_dock)
        self.panel_dock.show()

    def resizeEvent(self, event) -> None:  # noqa: N802
        # the history takes at most two fifths of the window's height, whatever height it was dragged or saved at
        # (its old maximum holds until the relayout this asks for: a larger one on shrinking, which the relayout
        # corrects, or a smaller one on growing, which only keeps the history as it was)
        most = max(self.history_dock.minimumSizeHint().height(), event.size().height() * 2 // 5)
        self.history_dock.setMaximumHeight(most)
        super().resizeEvent(event)

    def _connect_views(self) -> None:
        self.slider.valueChanged.connect(self.view.set_index)
        self.view.index_changed.connect(self.slider.setValue)
        self.view.overlays_changed.connect(self._sync_overlay_actions)
        self.panel.slice_activated.connect(self.view.set_index)
        self.history.open_requested.connect(self.reopen)
        self.progress.cancel_requested.connect(self.cancel_analysis)
        self._sync_overlay_actions()

    def _connect_worker(self) -> None:
        w = self.worker
        w.progress.connect(self.progress.set_progress)
        w.models_ready.connect(self._on_models_ready)
        w.models_failed.connect(self._on_models_failed)
        w.series_found.connect(self._on_series_found)
        w.volume_loaded.connect(self._on_volume_loaded)
        w.preliminary.connect(self._on_preliminary)
        w.outlined.connect(self._on_outlined)
        w.save_failed.connect(self._on_save_failed)
        w.finished.connect(self._on_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._started:
            self._started = True
            if self.settings.value("window/state") is None:
                title = self.history_dock.style().pixelMetric(QStyle.PixelMetric.PM_TitleBarHeight)
                height = self.history.height_for_rows(HISTORY_ROWS_SHOWN) + title
                self.resizeDocks([self.history_dock], [height], Qt.Orientation.Vertical)
                width = max(self.panel.minimumWidth(), self.width() // 3)
                self.resizeDocks([self.panel_dock], [width], Qt.Orientation.Horizontal)
            QTimer.singleShot(0, self.worker.start_model_loading)
            if self.store.damage_message:
                QTimer.singleShot(0, lambda: self._report(StorageError(self.store.damage_message)))

    # ---- opening -----------------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM or image folder", self._last_folder())
        if folder:
            self.open_paths([Path(folder)])

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open DICOM or image files", self._last_folder(), "Images (*.dcm *.jpg *.jpeg *.png);;All files (*)"
        )
        if files:
            self.open_paths([Path(f) for f in files])

    def open_from_pacs(self) -> None:
        """File > Open from PACS: search, retrieve a series into the cache, then open it like a dropped folder."""
        from brainscan.ui.pacs_open_dialog import OpenFromPacsDialog

        self.pacs_open_dialog = OpenFromPacsDialog(self.settings, self)
        self.pacs_open_dialog.retrieved.connect(lambda folder: self.open_paths([folder]))
        self.pacs_open_dialog.show()

    def open_paths(self, paths, prefer_series_uid: str = "", record=None) -> None:
        """Scan and load ``paths`` in the worker; the drop handler, menus and ``brainscan PATH`` all call this."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        if self.session.begin_open(record):
            self.worker.cancel()
        first = paths[0]
        self.settings.setValue("last_folder", str(first if first.is_dir() else first.parent))
        add_recent(self.settings, str(first) if len(paths) == 1 else str(first.parent))
        # one message at a time: the progress strip says what is running (a status message beside it gets cut)
        self.statusBar().clearMessage()
        self.progress.start(f"Reading {first.name or first}…", cancellable=False, busy=True)
        self.progress.setToolTip("Reading " + ", ".join(str(p) for p in paths))
        self._update_actions()
        self.worker.request_open(paths, prefer_series_uid)

    def reopen(self, record) -> None:
        """History double-click: show the images again when they still exist, with the stored result."""
        summary = json.loads(record.result_json or "{}")
        if Path(record.source_path).exists():
            self.open_paths([Path(record.source_path)], record.series_uid, record)
            return
        self.session.forget_volume()
        self.view.clear(f"The images are no longer at {record.source_path}.\nShowing the stored result only.")
        self.slider.set_slice_count(0)
        self.slider.set_marks([])
        if summary.get("verdict"):
            self.panel.show_summary(summary, f"Stored result from {local_time(record.created_at)}; images not found.")
            self.panel.show_followup(dicom_actions.follow_up_of_record(self.store, record))
        self._update_actions()

    def _last_folder(self) -> str:
        return str(self.settings.value("last_folder", str(Path.home())))

    def _fill_recent(self) -> None:
        self.menus.recent.clear()
        for path in recent_paths(self.settings):
            action = self.menus.recent.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.open_paths([Path(p)]))
        self.menus.recent.setEnabled(True)
        if self.menus.recent.isEmpty():
            self.menus.recent.addAction("(none yet)").setEnabled(False)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ---- analysis ----------------------------------------------------------------------------------------
    def start_analysis(self, volume=None) -> None:
        volume = volume if volume is not None else self.session.volume
        answer = self.session.request_analysis(volume)
        if answer != START:
            if answer in (WAIT, REFUSE):
                self.statusBar().showMessage(self.session.models_message)
            return
        self.session.begin_analysis()
        self.statusBar().clearMessage()
        self.progress.start(f"Analysing {volume.n_slices} slices…", cancellable=True)
        self._update_actions()
        self.worker.request_analysis(volume)

    def cancel_analysis(self) -> None:
        if self.session.can_cancel:
            self.worker.cancel()
            self.progress.cancel.setEnabled(False)
            self.progress.label.setText("Cancelling…")

    def _analyze_when_ready(self, volume) -> str:
        if self.session.models == READY:
            self.start_analysis(volume)
            return ""
        if self.session.request_analysis(volume) == WAIT:
            return "The analysis starts as soon as the models are loaded."
        return f"Not analysed: {self.session.models_message}"

    # ---- worker signals (GUI thread) ---------------------------------------------------------------------
    def _job_done(self) -> None:
        self.session.job_done()
        self.progress.stop()
        self._update_actions()

    def _open_done(self) -> bool:
        """End of one open request; False when a newer one is still pending (this result is stale)."""
        if not self.session.open_done():
            return False
        self._job_done()
        return True

    def _on_series_found(self, series: list) -> None:
        if self.session.superseded():
            self._open_done()
            return
        self.progress.stop()
        info = series_picker.choose_series(self, series)
        if info is None:
            self._open_done()
            self.statusBar().showMessage("Opening cancelled.", 5000)
            return
        self.progress.start(f"Reading {info.description}…", cancellable=False, busy=True)
        self.worker.request_load(info)

    def _on_volume_loaded(self, volume) -> None:
        if not self._open_done():
            return
        record = self.session.show_volume(volume)
        # the slider's range first: set_volume announces the middle slice, which an old, shorter range would clamp
        self.slider.set_slice_count(volume.n_slices)
        self.slider.set_marks([])
        self.view.set_volume(volume)
        self.slider.setValue(self.view.index())
        self.view.setFocus()
        info = volume.info
        self.setWindowTitle(f"BrainScan: {info.description or info.source.name}")
        self.statusBar().showMessage(f"{info.description}: {volume.n_slices} slices of {info.rows} x {info.columns}")
        summary = json.loads(record.result_json or "{}") if record is not None else {}
        if record is not None and summary.get("verdict") and record.series_uid == info.series_uid:
            note = f"Stored result from {local_time(record.created_at)} (no outlines). Press F5 to analyse again."
            self.panel.show_summary(summary, note)
            self.panel.show_followup(dicom_actions.follow_up_of_record(self.store, record))
            self.slider.set_marks(tumour_slices(summary))
            key = summary["verdict"].get("key_slices") or []
            if key and 0 <= int(key[0]) < volume.n_slices:
                self.view.set_index(int(key[0]))  # a reopened study starts where a fresh analysis would
            self._update_actions()
        else:
            self.panel.show_volume(volume)
            note = self._analyze_when_ready(volume)
            if note:
                self.panel.note.setText(note)
        self.volume_shown.emit(volume)

    def _on_preliminary(self, result) -> None:
        """Show the verdict as soon as classification is done and go to the key slice, whose outline is
        computed first; the other outlines and the heat maps follow."""
        if not self.session.current(result.volume):
            return
        self.panel.show_result(result)
        self.slider.set_marks(tumour_slices(self.panel.summary()))
        placed = self.session.place(result.volume, result.verdict.key_slices)
        if placed is not None:
            self.view.set_index(placed)
        self.progress.label.setText("Verdict ready; outlining…")
        self.preliminary_shown.emit(result)

    def _on_outlined(self, volume, masks) -> None:
        """Draw outlines as each batch lands, so the key slice shows its outline long before the series is done."""
        if not self.session.current(volume):
            return
        self.view.add_masks(masks)
        target = self.session.outlines_landed(masks, self.view.index())
        if target is not None:
            self.view.set_index(target)  # the key slice shown first got no outline: the first one that has
        self.outlines_shown.emit(masks)

    def _on_finished(self, result) -> None:
        if not self.session.current(result.volume):
            return  # a result for a series that was replaced meanwhile (already saved)
        self.session.finish_analysis(result, dicom_actions.follow_up_from_store(self.store, result))
        self._job_done()
        self.view.set_overlays(
            {i: s.mask for i, s in result.segmentations.items()}, result.heatmaps, set_apart=result.set_apart
        )
        self.panel.show_result(result)
        self.panel.show_followup(self.session.follow_up)
        self.slider.set_marks(tumour_slices(self.panel.summary()))
        if self.session.placed_for is not result.volume:
            target = landing_slice(result.verdict.key_slices, result.segmentations)
        else:  # not again unless still where the window put it: the user may have moved on meanwhile
            target = self.session.outlines_landed(result.segmentations, self.view.index())
        if target is not None:
            self.view.set_index(target)
        self.history.refresh()
        if self._save_failed:
            self.statusBar().showMessage("Analysis finished, but it could NOT be saved in the study history.", 0)
        else:
            self.statusBar().showMessage("Analysis finished and saved in the study history.", 8000)
        self._save_failed = False
        self._update_actions()
        self.result_shown.emit(result)

    def _on_save_failed(self, exc) -> None:
        """The next ``finished`` must not say "saved"; reads reconnect, in case the history was moved aside."""
        self._save_failed = True
        self.store.close()

    def _report(self, exc) -> None:
        self.statusBar().showMessage(str(exc), 10000)
        errors.show_error(self, exc)
        self.error_reported.emit(exc)

    def _on_failed(self, exc) -> None:
        if self.session.busy == OPEN:
            if not self._open_done():
                return
        elif self.session.busy == ANALYZE:
            self._job_done()
        self._report(exc)

    def _on_cancelled(self) -> None:
        if self.session.busy == ANALYZE:
            self._job_done()
            self.panel.note.setText("The analysis was cancelled; nothing was saved. Press F5 to start it again.")
        self.statusBar().showMessage("Analysis cancelled; nothing was saved.", 8000)
        self.analysis_cancelled.emit()

    def _on_models_ready(self, models) -> None:
        names = [getattr(getattr(m, "spec", None), "name", type(m).__name__) for m in (models.classifier,)]
        if models.segmenter is not None:
            names.append(getattr(getattr(models.segmenter, "spec", None), "name", type(models.segmenter).__name__))
        volume = self.session.models_ready("Models ready: " + ", ".join(names))
        self.model_status.setText(self.session.models_message)
        self.model_status.setToolTip("\n".join(models.warnings) or self.session.models_message)
        if models.warnings:
            self.statusBar().showMessage(" ".join(models.warnings), 10000)
        self._update_actions()
        if volume is not None:
            self.panel.note.setText("")
            self.start_analysis(volume)
        self.models_changed.emit("ready")

    def _on_models_failed(self, exc) -> None:
        text = str(exc).lower()
        missing = isinstance(exc, ModelError) and any(w in text for w in ("missing", "no trained", "not installed"))
        prefix = "No trained classifier installed" if missing else "Analysis models unavailable"
        message = f"{prefix}: {exc} Images can be viewed but not analysed."
        dropped = self.session.models_failed(message)
        self.model_status.setText(f"{prefix}: analysis unavailable")
        self.model_status.setToolTip(message)
        self.statusBar().showMessage(message, 15000)
        if dropped:
            self.panel.note.setText(f"Not analysed: {message}")
        self._update_actions()
        self.models_changed.emit("failed")

    # ---- export ------------------------------------------------------------------------------------------
    def export_pdf(self, deidentify: bool = False) -> None:
        if self.result is None:
            self.statusBar().showMessage("Analyse a study first (F5): a report needs a fresh analysis.", 8000)
            return
        folder = export_folder(self.settings)
        path = export_report(self, self.result, folder, deidentify, self.follow_up, heatmaps=self.view.heat_visible())
        if path is not None:
            remember_export_folder(self.settings, path.parent)
            self.statusBar().showMessage(f"Report written to {path}", 8000)

    def export_dicom(self) -> None:
        if self.result is None:
            self.statusBar().showMessage("Analyse a DICOM study first (F5): DICOM results need a fresh analysis.", 8000)
            return
        written = dicom_actions.export_dicom(self, self.result, export_folder(self.settings), self.follow_up)
        if written is not None:
            remember_export_folder(self.settings, written.report.parent)
            notes = " ".join(written.notes)
            self.statusBar().showMessage(f"DICOM written: {', '.join(p.name for p in written.files)}. {notes}", 10000)

    def send_to_pacs(self) -> None:
        """The Send to PACS dialog for the current result (nothing is sent until its Send button is pressed)."""
        self.pacs_dialog = dicom_actions.open_send_dialog(self, self.result, self.follow_up)

    # ---- state, settings, closing ------------------------------------------------------------------------
    def _update_actions(self) -> None:
        self.menus.analyze.setEnabled(self.session.can_analyze)
        self.menus.analyze.setToolTip("" if self.session.models == READY else self.session.models_message)
        self.menus.cancel.setEnabled(self.session.can_cancel)
        for action in (self.menus.export, self.menus.export_deidentified, self.menus.export_dicom):
            action.setEnabled(self.session.can_export)

    def _sync_overlay_actions(self) -> None:
        self.menus.mask.setChecked(self.view.mask_visible())
        self.menus.heat.setChecked(self.view.heat_visible())

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray | bytes):
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray | bytes):
            self.restoreState(state)
        self._set_corners()
        self._place_panel_dock()

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.remove("window/splitter")  # the panel was in a splitter before it became a dock
        self.settings.setValue("view/opacity", self.view.opacity())
        self.settings.sync()

    def shutdown(self) -> None:
        """Cancel running work, stop and join the worker thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self.worker.cancel()
        self.worker_thread.quit()
        self.worker_thread.wait()
        if not self.worker.join_model_loader(timeout=10.0):
            log.warning("model loading still running at exit")
        self.store.close()

    def closeEvent(self, event) -> None:  # noqa: N802
        self._save_settings()
        self.hide()  # joining may take a moment (a batch in flight, models still loading)
        self.shutdown()
        super().closeEvent(event)
