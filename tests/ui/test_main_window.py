"""Main window flows with fake models: open/drop, analyse, cancel, errors, no models, closing."""

from __future__ import annotations

import threading

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from brainscan.errors import InferenceError, ModelError, SeriesLoadError
from brainscan.storage import HistoryStore
from tests.dicom_factory import write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter, SurestOnLastLesion
from tests.ui.conftest import WAIT_MS, GatedClassifier, fake_loader


def analyse(qtbot, window, folder):
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS) as blocker:
        window.open_paths([folder])
    return blocker.args[0]


def test_open_folder_analyses_in_worker_and_shows_verdict(qtbot, make_window, phantom, shown_errors):
    classifier = FakeClassifier()
    window = make_window(fake_loader(classifier))
    result = analyse(qtbot, window, phantom)

    assert result.verdict.tumour
    assert window.panel.verdict_text().startswith("Tumour suspected: Glioma")
    assert window.slider.marks() == (3, 4, 5)
    assert window.view.index() == result.verdict.key_slices[0]
    assert window.panel.table_model.rowCount() == 8
    assert "decision support, not a diagnosis" in window.panel.disclaimer.text().lower()
    assert "fake-classifier test-1" in window.panel.models.text()
    assert window.panel.header.text().startswith("Patient Doe Jane (ID P-001)")
    # the GUI thread never runs inference
    assert classifier.threads and "MainThread" not in classifier.threads
    assert HistoryStore(window.history_path).count() == 1
    assert window.history.model.rowCount() == 1
    assert window.menus.export.isEnabled()
    assert not shown_errors


def test_real_drop_event_opens_the_folder(qtbot, make_window, phantom):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(phantom))])
    point = window.rect().center()
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(point.toPointF(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(point.toPointF(), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        QApplication.sendEvent(window, drop)
    assert window.volume.info.source == phantom
    assert window.panel.verdict_text().startswith("Tumour suspected")


def test_drag_without_files_is_refused(make_window):
    window = make_window()
    mime = QMimeData()
    mime.setText("not a file")
    enter = QDragEnterEvent(
        QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()


def test_cancel_stops_a_slow_analysis_and_saves_nothing(qtbot, make_window, tmp_path):
    folder = tmp_path / "long"
    write_phantom_series(folder, n=40, lesion_slices=(3, 4, 5))
    classifier = GatedClassifier()
    window = make_window(fake_loader(classifier))
    classifier.gate = window.worker.cancel_event
    window.open_paths([folder])
    qtbot.waitUntil(lambda: window.progress.bar.value() > 0, timeout=WAIT_MS)
    assert window.busy == "analyze"
    assert window.menus.cancel.isEnabled() and window.progress.isVisible()
    with qtbot.waitSignal(window.analysis_cancelled, timeout=WAIT_MS):
        window.progress.cancel.click()
    assert window.busy is None
    assert window.result is None
    assert not window.progress.isVisible()
    assert HistoryStore(window.history_path).count() == 0
    assert "cancelled" in window.panel.note.text()
    assert window.menus.analyze.isEnabled()  # F5 starts it again


def test_bad_folder_shows_error_and_app_stays_usable(qtbot, make_window, tmp_path, phantom, shown_errors):
    bad = tmp_path / "notes"
    bad.mkdir()
    (bad / "readme.txt").write_text("no images here")
    window = make_window()
    with qtbot.waitSignal(window.error_reported, timeout=WAIT_MS):
        window.open_paths([bad])
    assert len(shown_errors) == 1 and isinstance(shown_errors[0], SeriesLoadError)
    assert window.busy is None and not window.progress.isVisible()

    analyse(qtbot, window, phantom)
    assert window.panel.verdict_text().startswith("Tumour suspected")
    assert len(shown_errors) == 1


def test_failing_model_reaches_the_error_path(qtbot, make_window, phantom, shown_errors):
    window = make_window(fake_loader(FakeClassifier(fail=True)))
    with qtbot.waitSignal(window.error_reported, timeout=WAIT_MS):
        window.open_paths([phantom])
    assert len(shown_errors) == 1 and isinstance(shown_errors[0], InferenceError)
    assert window.busy is None and window.result is None
    assert HistoryStore(window.history_path).count() == 0
    assert window.view.volume() is not None  # the images stay on screen


def test_window_appears_before_models_load_and_queues_the_analysis(qtbot, make_window, phantom):
    gate = threading.Event()
    classifier = FakeClassifier()
    window = make_window(fake_loader(classifier, gate=gate), wait_models=False)
    try:
        assert window.isVisible()
        assert "Loading" in window.model_status.text()
        with qtbot.waitSignal(window.volume_shown, timeout=WAIT_MS):
            window.open_paths([phantom])
        assert window.view.volume() is not None  # shown at once
        assert window.session.pending_analysis is window.volume
        assert "as soon as the models are loaded" in window.panel.note.text()
        assert not window.menus.analyze.isEnabled()
        assert classifier.calls == 0
    finally:
        with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
            gate.set()
    assert window.panel.verdict_text().startswith("Tumour suspected")
    assert "Models ready" in window.model_status.text()
    assert "MainThread" not in classifier.threads


def test_no_models_installed_still_displays_images(qtbot, make_window, phantom, shown_errors):
    def missing():
        raise ModelError("The model card classifier_vgg16.json is missing; no trained model is installed.")

    from brainscan.ui.main_window import MainWindow

    window = MainWindow(models_loader=missing, history_path=phantom.parent / "h.sqlite")
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.models_changed, timeout=WAIT_MS):
        window.show()
    try:
        assert "No trained classifier installed" in window.model_status.text()
        assert "No trained classifier installed" in window.session.models_message
        with qtbot.waitSignal(window.volume_shown, timeout=WAIT_MS):
            window.open_paths([phantom])
        assert window.view.volume().n_slices == 8
        assert window.view.rendered_rgb() is not None
        assert "Not analysed: No trained classifier installed" in window.panel.note.text()
        assert not window.menus.analyze.isEnabled()
        assert "No trained classifier" in window.menus.analyze.toolTip()
        assert not shown_errors  # a status, not a dialog
    finally:
        window.close()
    assert window.worker_thread.isFinished()


def test_closing_during_analysis_cancels_and_joins(qtbot, make_window, tmp_path):
    folder = tmp_path / "long"
    write_phantom_series(folder, n=40)
    classifier = GatedClassifier()
    window = make_window(fake_loader(classifier))
    classifier.gate = window.worker.cancel_event
    window.open_paths([folder])
    qtbot.waitUntil(lambda: window.progress.bar.value() > 0, timeout=WAIT_MS)
    window.close()
    # stopped before the next batch, or right after the one in flight (which one depends on the machine's load:
    # the close may land before or after the worker has entered its second batch); never ran on to the end
    assert classifier.calls in (1, 2)
    assert window.worker_thread.isFinished()
    assert HistoryStore(window.history_path).count() == 0


def test_several_series_ask_which_one(qtbot, make_window, tmp_path, monkeypatch):
    from brainscan.ui import series_picker

    uid_a, _ = write_phantom_series(tmp_path / "study" / "a", n=6)
    uid_b, _ = write_phantom_series(tmp_path / "study" / "b", n=8)
    offered = []

    def choose(parent, series):
        offered.append(series)
        return next(info for info in series if info.series_uid == uid_a)

    monkeypatch.setattr(series_picker, "choose_series", choose)
    window = make_window()
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        window.open_paths([tmp_path / "study"])
    assert {info.series_uid for info in offered[0]} == {uid_a, uid_b}
    assert window.volume.info.series_uid == uid_a and window.volume.n_slices == 6


def test_export_pdf_calls_the_report_writer(qtbot, make_window, phantom, tmp_path, monkeypatch, shown_errors):
    from PySide6.QtWidgets import QFileDialog

    import brainscan.reports

    written = []
    monkeypatch.setattr(
        brainscan.reports,
        "write_pdf",
        lambda result, path, deidentify=False, followup=None, heatmaps=False: written.append(
            (path, deidentify, heatmaps)
        ),
    )
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "r.pdf"), "PDF (*.pdf)"))
    window = make_window()
    analyse(qtbot, window, phantom)
    window.menus.export_deidentified.trigger()
    window.view.set_heat_visible(True)  # the report shows heat maps only when the viewer does
    window.menus.export.trigger()
    assert written == [(tmp_path / "r.pdf", True, False), (tmp_path / "r.pdf", False, True)]
    assert not shown_errors


def test_settings_remember_opacity_and_recent(qtbot, make_window, phantom):
    window = make_window()
    window.view.set_opacity(0.6)
    analyse(qtbot, window, phantom)
    window.close()
    again = make_window()
    assert again.view.opacity() == 0.6
    again._fill_recent()
    assert [a.text() for a in again.menus.recent.actions()] == [str(phantom)]


def test_opacity_slider_changes_the_drawn_lesion(qtbot, make_window, phantom):
    window = make_window()
    analyse(qtbot, window, phantom)
    window.view.set_index(4)
    window.controls.opacity.setValue(0)
    faint = window.view.grab().toImage()
    window.controls.opacity.setValue(80)
    assert window.view.opacity() == 0.8
    strong = window.view.grab().toImage()
    assert faint != strong


def test_run_gui_shows_the_window_then_the_probe_closes_it(qapp, monkeypatch, capsys):
    import json
    import logging
    import sys

    from brainscan import app
    from brainscan.ui import worker

    def missing():
        raise ModelError("The model card classifier_vgg16.json is missing; no trained model is installed.")

    monkeypatch.setattr(worker, "default_models_loader", missing)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # run_gui installs its own; restored afterwards
    monkeypatch.setenv(app.STARTUP_PROBE_ENV, "1")
    handlers = list(logging.getLogger().handlers)
    try:
        assert app.run_gui([]) == 0
    finally:
        for handler in set(logging.getLogger().handlers) - set(handlers):
            logging.getLogger().removeHandler(handler)
            handler.close()
    probe = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 < probe["run_gui_to_shown_s"] < 60


def test_verdict_shows_before_the_outlines_are_done(qtbot, make_window, phantom):
    release = threading.Event()

    class HeldSegmenter(FakeSegmenter):
        def predict(self, slices, batch_size=16):
            release.wait(WAIT_MS / 1000)
            return super().predict(slices, batch_size)

    window = make_window(fake_loader(FakeClassifier(), HeldSegmenter()))
    with qtbot.waitSignal(window.preliminary_shown, timeout=WAIT_MS) as early:
        window.open_paths([phantom])
    assert early.args[0].verdict.tumour and early.args[0].segmentations == {}
    assert window.panel.verdict_text().startswith("Tumour suspected: Glioma")
    assert window.slider.marks() == (3, 4, 5)
    # one message at a time: the progress strip says what runs, no status message is cut off beside it
    assert window.progress.isVisible() and window.statusBar().currentMessage() == ""
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS) as final:
        release.set()
    assert sorted(final.args[0].segmentations) == [3, 4, 5]


def test_key_slice_outline_shows_before_the_series_is_done(qtbot, make_window, phantom, monkeypatch):
    monkeypatch.setattr("brainscan.pipeline.analyze.SEGMENT_BATCH", 1)
    release = threading.Event()

    class FirstThenHeld(FakeSegmenter):
        calls = 0

        def predict(self, slices, batch_size=16):
            self.calls += 1
            if self.calls > 1:
                release.wait(WAIT_MS / 1000)
            return super().predict(slices, batch_size)

    window = make_window(fake_loader(SurestOnLastLesion(), FirstThenHeld()))
    with qtbot.waitSignal(window.outlines_shown, timeout=WAIT_MS) as first:
        window.open_paths([phantom])
    assert list(first.args[0]) == [5]
    assert window.view.index() == 5  # the preliminary verdict went to the key slice
    assert window.view.has_mask(5) and not window.view.has_mask(3)
    assert window.result is None  # the rest of the series is still being outlined
    window.view.set_index(0)  # the clinician moves on meanwhile
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS) as final:
        release.set()
    assert sorted(final.args[0].segmentations) == [3, 4, 5]
    assert window.view.index() == 0  # the finished result does not pull the view back
    assert all(window.view.has_mask(i) for i in (3, 4, 5))


def test_a_jpeg_folder_of_mixed_sizes_opens_as_one_study_without_a_chooser(qtbot, make_window, tmp_path, monkeypatch):
    import numpy as np
    from PIL import Image

    from brainscan.ui import series_picker
    from tests.dicom_factory import phantom_slices

    asked = []
    monkeypatch.setattr(series_picker, "choose_series", lambda parent, series: asked.append(series))
    folder = tmp_path / "jpegs"
    folder.mkdir()
    for k, pixels in enumerate(phantom_slices(6, shape=(64, 64), lesion_slices=(2, 3))):
        size = 64 if k % 2 == 0 else 48  # every other slice smaller, as in a folder gathered from several sources
        image = Image.fromarray((pixels // 8).clip(0, 255).astype(np.uint8)).resize((size, size))
        image.save(folder / f"slice{k}.png")
    window = make_window()
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS) as done:
        window.open_paths([folder])
    assert not asked  # no chooser
    result = done.args[0]
    assert result.volume.n_slices == 6 and len(result.predictions) == 6
    assert "scaled to fit 64x64" in window.panel.warnings.text()


class NothingOnFirstCall(FakeSegmenter):
    """Outlines nothing on its first call, which is the key slice alone (brainscan.pipeline.analyze.outline_batches)."""

    calls = 0

    def predict(self, slices, batch_size=16):
        self.calls += 1
        maps = super().predict(slices, batch_size)
        return [m * 0 for m in maps] if self.calls == 1 else maps


def test_view_lands_on_the_first_key_slice_with_an_outline(qtbot, make_window, phantom):
    window = make_window(fake_loader(SurestOnLastLesion(), NothingOnFirstCall()))
    preliminary = []
    window.preliminary_shown.connect(preliminary.append)
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS) as final:
        window.open_paths([phantom])
    key = list(preliminary[0].verdict.key_slices)
    result = final.args[0]
    assert key[0] == 5 and 5 not in result.segmentations  # the surest slice leads; the segmenter finds nothing there
    expected = next(k for k in key if k in result.segmentations)
    assert window.view.index() == expected and window.view.has_mask(expected)


def test_preliminary_verdict_says_key_slice_outlines_are_pending(qtbot, make_window, phantom):
    from brainscan.presentation import NOT_GATED, OUTLINE_REASONS

    window = make_window(fake_loader(SurestOnLastLesion(), FakeSegmenter(delay=0.5)))
    with qtbot.waitSignal(window.preliminary_shown, timeout=WAIT_MS):
        window.open_paths([phantom])
    text = window.panel.measurements.text()
    assert "Key slice 6: outline pending" in text and OUTLINE_REASONS[NOT_GATED] not in text
    assert "Tumour volume: pending" in text
    model = window.panel.table_model
    assert model.data(model.index(5, 3)) == "pending…"
    assert "pending" in model.data(model.index(5, 3), Qt.ItemDataRole.ToolTipRole)
    with qtbot.waitSignal(window.result_shown, timeout=WAIT_MS):
        pass
    assert "pending" not in window.panel.measurements.text() and model.data(model.index(5, 3)) != "pending…"
