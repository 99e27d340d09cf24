"""GUI entry point (also the PyInstaller entry point) and the only place that configures logging handlers.

``run_gui`` shows the main window first and starts loading the models behind it: nothing here or in
``brainscan.ui`` imports TensorFlow at import time. ``measure_startup`` times a real start in a fresh process.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import subprocess
import sys
import time
from pathlib import Path

STARTUP_PROBE_ENV = "BRAINSCAN_STARTUP_PROBE"


QUIET_LOGGERS = ("highdicom",)
"""Libraries whose INFO lines (frame geometry notes for every DICOM Segmentation written) would fill brainscan.log."""


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """brainscan.log and its rotated copies readable by the user only (0600, like the folder's 0700): the log
    names series folders and patients' studies."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        if os.name == "posix":
            os.fchmod(fd, 0o600)  # a log written by an older BrainScan was 0644
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


def configure_logging() -> Path:
    from brainscan.config import user_home

    log_file = user_home() / "brainscan.log"
    root = logging.getLogger()
    if not any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        handler = PrivateRotatingFileHandler(log_file, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return log_file


def _set_window_icon(app) -> None:
    from PySide6.QtGui import QIcon

    from brainscan.config import resources_dir

    icons = resources_dir() / "icons"
    icon = QIcon()
    for size in (48, 128, 256):
        if (icons / f"brainscan-{size}.png").is_file():
            icon.addFile(str(icons / f"brainscan-{size}.png"))
    if not icon.isNull():
        app.setWindowIcon(icon)


def run_gui(paths: list[Path] | None = None) -> int:
    """Show the main window, open ``paths`` when given, and run the Qt event loop; returns its exit code."""
    started = time.perf_counter()
    configure_logging()
    from brainscan.ui.qt_libs import check_before_qt

    problem = check_before_qt()  # before Qt loads: it aborts the process (signal 6) when they are missing
    if problem:
        logging.getLogger(__name__).error("%s", problem)
        print(problem, file=sys.stderr)
        return 2
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication

    from brainscan.errors import BrainScanError
    from brainscan.ui.errors import install_excepthook, show_error
    from brainscan.ui.main_window import MainWindow

    QCoreApplication.setOrganizationName("BrainScan")
    QCoreApplication.setApplicationName("BrainScan")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setDesktopFileName("brainscan")  # lets Wayland docks match the window to brainscan.desktop
    _set_window_icon(app)
    install_excepthook()
    try:
        window = MainWindow()
    except BrainScanError as exc:  # e.g. a history database from a newer BrainScan
        show_error(None, exc)
        return 2
    window.show()
    probe = os.environ.get(STARTUP_PROBE_ENV)
    if probe:
        tf_before = "tensorflow" in sys.modules

        def report() -> None:
            # first event-loop turn after show(): the window is on screen and takes input
            now = time.perf_counter()
            try:
                launched = float(probe) if float(probe) > 1e9 else None  # the launcher's time.time()
            except ValueError:
                launched = None
            print(
                json.dumps(
                    {
                        "run_gui_to_shown_s": round(now - started, 3),
                        "launch_to_shown_s": round(time.time() - launched, 3) if launched else None,
                        "tensorflow_imported_when_shown": tf_before,
                    }
                ),
                flush=True,
            )
            window.close()

        QTimer.singleShot(0, report)
    if paths:
        QTimer.singleShot(0, lambda: window.open_paths([Path(p) for p in paths]))
    logging.getLogger(__name__).info("window shown after %.2f s", time.perf_counter() - started)
    return app.exec()


def measure_startup(runs: int = 3, timeout: float = 120.0) -> dict:
    """Start ``python -m brainscan`` ``runs`` times and time it until the window is shown and the event loop
    runs (then the probe closes it). Returns medians: from process launch (interpreter start and imports
    included) and from ``run_gui`` entry. Not used by the tests; run it with
    ``python -m brainscan.app --measure-startup``.
    """
    launch, inside, tf = [], [], []
    for _ in range(runs):
        env = dict(os.environ, **{STARTUP_PROBE_ENV: repr(time.time())})
        process = subprocess.Popen(
            [sys.executable, "-m", "brainscan"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        output, _ = process.communicate(timeout=timeout)
        probe = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
        launch.append(probe["launch_to_shown_s"])
        inside.append(probe["run_gui_to_shown_s"])
        tf.append(probe["tensorflow_imported_when_shown"])

    def median(values: list[float]) -> float:
        return round(sorted(values)[len(values) // 2], 3)

    return {
        "runs": runs,
        "process_launch_to_shown_s_median": median(launch),
        "run_gui_to_shown_s_median": median(inside),
        "tensorflow_imported_before_window": any(tf),
        "platform": os.environ.get("QT_QPA_PLATFORM", "default"),
    }


if __name__ == "__main__" and "--measure-startup" in sys.argv:
    print(json.dumps(measure_startup(), indent=2))
