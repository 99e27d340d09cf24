"""The menu bar: one place that lists every command, its shortcut and the window method it calls."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMessageBox, QWidget

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+O", "open a folder"),
    ("Ctrl+Shift+O", "open files"),
    ("Ctrl+E", "export PDF report"),
    ("F5", "analyse (again)"),
    ("Esc", "cancel analysis"),
    ("Ctrl+H", "show/hide history"),
    ("Wheel, Up/Down", "previous/next slice"),
    ("PageUp/PageDown", "jump 10%"),
    ("Home/End", "first/last slice"),
    ("Ctrl+wheel, +/-", "zoom"),
    ("0", "fit"),
    ("Left or middle drag", "pan"),
    ("Right drag", "window (width) / level"),
    ("1 / 2 / 3", "brain / image default / full-range window"),
    ("R", "reset view"),
    ("M", "tumour outline on/off"),
    ("H", "heat map on/off (where the classifier looked, not the tumour)"),
)


def shortcuts_html() -> str:
    """SHORTCUTS as a two-column table whose cells never wrap, so no entry breaks in the middle."""
    rows = "".join(
        f"<tr><td style='white-space:pre; padding-right:14px'><b>{keys}</b></td>"
        f"<td style='white-space:pre'>{action}</td></tr>"
        for keys, action in SHORTCUTS
    )
    return f"<table cellspacing='2'>{rows}</table>"


@dataclass
class Menus:
    """The actions whose state the window updates."""

    recent: QMenu
    export: QAction
    export_deidentified: QAction
    export_dicom: QAction
    send_pacs: QAction
    analyze: QAction
    cancel: QAction
    mask: QAction
    heat: QAction


def _add(parent: QWidget, menu: QMenu, text: str, slot, shortcut=None) -> QAction:
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(window) -> Menus:
    """Fill ``window.menuBar()``; "\\tM"-style texts only show keys that the slice view handles itself."""
    bar = window.menuBar()
    view = window.view
    file = bar.addMenu("&File")
    _add(window, file, "Open &folder…", window.choose_folder, QKeySequence.StandardKey.Open)
    _add(window, file, "Open fi&les…", window.choose_files, "Ctrl+Shift+O")
    _add(window, file, "Open from &PACS…", window.open_from_pacs, "Ctrl+Shift+P")
    recent = file.addMenu("&Recent studies")
    file.addSeparator()
    export = _add(window, file, "&Export PDF report…", lambda: window.export_pdf(False), "Ctrl+E")
    export_deid = _add(window, file, "Export &de-identified PDF…", lambda: window.export_pdf(True))
    export_dicom = _add(window, file, "Export D&ICOM (Segmentation + report)…", window.export_dicom)
    send_pacs = _add(window, file, "&Send to PACS…", window.send_to_pacs)
    file.addSeparator()
    _add(window, file, "&Quit", window.close, QKeySequence.StandardKey.Quit)

    analysis = bar.addMenu("&Analysis")
    analyze = _add(window, analysis, "&Analyse", lambda: window.start_analysis(), "F5")  # not triggered(bool)
    cancel = _add(window, analysis, "&Cancel", window.cancel_analysis, "Esc")

    menu = bar.addMenu("&View")
    mask = _add(window, menu, "Tumour &outline\tM", view.set_mask_visible)
    heat = _add(window, menu, "&Heat map (where the classifier looked)\tH", view.set_heat_visible)
    from brainscan.presentation import HEATMAP_CAVEAT

    heat.setToolTip(HEATMAP_CAVEAT)
    heat.setStatusTip(HEATMAP_CAVEAT)
    mask.setCheckable(True)
    heat.setCheckable(True)
    menu.addSeparator()
    _add(window, menu, "Brain window\t1", lambda: view.apply_preset("brain"))
    _add(window, menu, "Image default window\t2", lambda: view.apply_preset("dicom"))
    _add(window, menu, "Full-range window\t3", lambda: view.apply_preset("full"))
    _add(window, menu, "&Reset view\tR", view.reset_view)
    menu.addSeparator()
    history = window.history_dock.toggleViewAction()
    history.setShortcut(QKeySequence("Ctrl+H"))
    menu.addAction(history)

    help_menu = bar.addMenu("&Help")
    _add(
        window, help_menu, "&Keyboard and mouse", lambda: show_shortcuts(window), QKeySequence.StandardKey.HelpContents
    )
    _add(window, help_menu, "&About BrainScan", lambda: show_about(window))
    return Menus(recent, export, export_deid, export_dicom, send_pacs, analyze, cancel, mask, heat)


def shortcuts_box(parent: QWidget) -> QMessageBox:
    box = QMessageBox(QMessageBox.Icon.Information, "Keyboard and mouse", shortcuts_html(), parent=parent)
    box.setTextFormat(Qt.TextFormat.RichText)
    return box


def show_shortcuts(parent: QWidget) -> None:
    shortcuts_box(parent).exec()


def show_about(parent: QWidget) -> None:
    from brainscan import __version__
    from brainscan.presentation import DISCLAIMER

    QMessageBox.about(parent, "About BrainScan", f"BrainScan {__version__}\n\n{DISCLAIMER}")
