"""Issue 27 item 3: the app names the system libraries Qt's X11 plugin lacks instead of aborting (signal 6), and
README's apt line, .ci/run and brainscan.ui.qt_libs list exactly the same packages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from brainscan.ui import qt_libs

ROOT = Path(__file__).resolve().parents[2]
ABSENT = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}  # what a fresh Debian 12 lacked


def test_uses_xcb_only_for_the_x11_platform_on_linux():
    assert qt_libs.uses_xcb({}, "linux")
    assert qt_libs.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert qt_libs.uses_xcb({"QT_QPA_PLATFORM": "xcb:dpi=96"}, "linux")
    assert not qt_libs.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not qt_libs.uses_xcb({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux")
    assert not qt_libs.uses_xcb({"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not qt_libs.uses_xcb({}, "darwin")
    assert not qt_libs.uses_xcb({}, "win32")


def test_the_message_names_every_missing_library_and_its_package():
    message = qt_libs.check_before_qt({"QT_QPA_PLATFORM": "xcb"}, "linux", loads=lambda name: name not in ABSENT)
    assert message is not None
    assert "libxcb-icccm.so.4" in message and "libxcb-keysyms.so.1" in message
    assert "sudo apt-get install libxcb-icccm4 libxcb-keysyms1\n" in message
    assert qt_libs.APT_LINE in message
    assert qt_libs.check_before_qt({"QT_QPA_PLATFORM": "xcb"}, "linux", loads=lambda name: True) is None
    assert qt_libs.check_before_qt({"QT_QPA_PLATFORM": "offscreen"}, "linux", loads=lambda name: False) is None


def test_the_real_loader_finds_a_present_library_and_not_an_absent_one():
    assert qt_libs._loads("libc.so.6") == sys.platform.startswith("linux")
    assert not qt_libs._loads("libbrainscan-no-such-library.so.9")


def test_the_app_stops_with_the_message_before_qt_starts(monkeypatch):
    """In a fresh process (no QApplication yet): run_gui returns 2 with the message; before the fix Qt aborted."""
    code = (
        "import sys\n"
        "from brainscan.ui import qt_libs\n"
        f"qt_libs._loads = lambda name: name not in {sorted(ABSENT)!r}\n"
        "qt_libs.check_before_qt.__defaults__ = (None, None, qt_libs._loads)\n"
        "from brainscan.app import run_gui\n"
        "code = run_gui([])\n"
        "print('PySide6 loaded' if 'PySide6.QtWidgets' in sys.modules else 'no Qt')\n"
        "sys.exit(code)\n"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("XDG_SESSION_TYPE", "WAYLAND_DISPLAY")}
    env.update(QT_QPA_PLATFORM="xcb", DISPLAY=":97")
    if not sys.platform.startswith("linux"):
        pytest.skip("the xcb check is for Linux")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "no Qt" in done.stdout
    assert "libxcb-icccm.so.4" in done.stderr and "libxcb-keysyms1" in done.stderr


def _apt_packages(text: str, start: str) -> list[str]:
    line = re.search(re.escape(start) + r"(?:[^\n\\]|\\\n)*", text).group(0)
    words = line.replace("\\\n", " ").split()
    return [w for w in words if re.fullmatch(r"lib[a-z0-9.+-]+", w)]


def test_readme_and_ci_install_exactly_the_checked_packages():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [line.strip() for line in quick.splitlines() if line.startswith("    ")]
    assert len(commands) == 3  # the apt line, then the two commands
    assert commands[0] == qt_libs.APT_LINE
    ci = (ROOT / ".ci/run").read_text()
    assert _apt_packages(ci, "apt-get install -y -qq --no-install-recommends") == list(qt_libs.APT_PACKAGES)
