"""GUI entry point.

Until the clinician app lands (issue: desktop app), this opens a plain placeholder window that says
what BrainScan will do and points to the CLI. It is the PyInstaller entry point and only place that
configures logging handlers.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path


def configure_logging() -> Path:
    from brainscan.config import user_home

    log_file = user_home() / "brainscan.log"
    handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return log_file


def run_gui(paths: list[Path]) -> int:
    """Show the (placeholder) main window; returns the Qt exit code."""
    configure_logging()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("BrainScan")
    label = QLabel(
        "BrainScan\n\nThe viewer is not built yet (placeholder window).\n"
        "Use the command line meanwhile:  brainscan info FOLDER"
        + (f"\n\nAsked to open: {', '.join(map(str, paths))}" if paths else "")
    )
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    window.setCentralWidget(label)
    window.resize(900, 600)
    window.show()
    return app.exec()
