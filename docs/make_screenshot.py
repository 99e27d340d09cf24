"""Render the README screenshot: the main window on a real series with the installed models, offscreen.

    .venv/bin/python docs/make_screenshot.py [SERIES] [--out docs/main-window.png] [--slice N]

Default series: the MIT-licensed SAG-anon MPRAGE in ../shared/data/dicom. The history is kept in a
temporary BRAINSCAN_HOME, so the user's studies never appear in the picture.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["BRAINSCAN_HOME"] = tempfile.mkdtemp(prefix="brainscan-shot-")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brainscan.config import data_dir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("series", nargs="?", type=Path, default=data_dir() / "dicom" / "SAG-anon_siemens_skyra_mprage")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("main-window.png"))
    parser.add_argument("--slice", type=int, default=None, help="slice to show (default: first key slice)")
    args = parser.parse_args()

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from brainscan.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow()
    window.resize(1400, 860)
    loop = QEventLoop()
    window.result_shown.connect(lambda _: loop.quit())
    window.error_reported.connect(lambda exc: (print(f"error: {exc}", file=sys.stderr), loop.quit()))
    window.show()
    QTimer.singleShot(0, lambda: window.open_paths([args.series]))
    QTimer.singleShot(30 * 60 * 1000, loop.quit)
    loop.exec()
    if window.result is None:
        print("no result to show", file=sys.stderr)
        return 1
    if args.slice is not None:
        window.view.set_index(args.slice)
    app.processEvents()
    window.grab().save(str(args.out))
    print(f"wrote {args.out}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
