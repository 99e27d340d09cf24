"""Before Qt starts on Linux: are the system libraries its X11 (xcb) platform plugin needs there?

Without them Qt prints "Could not load the Qt platform plugin 'xcb'" and aborts the process (signal 6), naming
at best one library (it named libxcb-cursor0 on a fresh Debian 12 where libxcb-icccm4 and libxcb-keysyms1 were
the ones missing). ``missing_libraries`` asks the dynamic loader for each library instead, so the app can name
every missing one and the packages that bring them, and stop cleanly. Imports no Qt: it runs before Qt loads.

The list is what the PySide6 wheel's ``plugins/platforms/libqxcb.so``, ``lib/libQt6XcbQpa.so.6`` and the Qt
libraries the app loads (Core, Gui, Widgets, DBus) name as NEEDED (``objdump -p``), less the C runtime and what
the wheel bundles (ICU), with the Debian/Ubuntu package of each (``dpkg -S`` on Debian 12). README's quick start
and ``.ci/run`` install exactly ``APT_PACKAGES``; ``tests/ui/test_qt_libs.py`` keeps the three in step.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping

LIBRARIES: dict[str, str] = {
    # what Qt needs for any platform, offscreen included
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    # what the xcb (X11) platform plugin adds
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}
"""Shared library (soname) -> the Debian/Ubuntu package that provides it."""

APT_PACKAGES: tuple[str, ...] = tuple(dict.fromkeys(LIBRARIES.values()))
APT_LINE = "sudo apt-get install " + " ".join(APT_PACKAGES)


def uses_xcb(environ: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """Whether Qt will start its xcb (X11) platform plugin: on Linux, when QT_QPA_PLATFORM names xcb first, or
    when it is unset outside a Wayland session. Offscreen, minimal, Wayland, macOS and Windows: False."""
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        first = requested.split(";")[0].split(":")[0].strip()
        return first == "xcb"
    wayland_session = environ.get("XDG_SESSION_TYPE") == "wayland" and bool(environ.get("WAYLAND_DISPLAY"))
    return not wayland_session


def _loads(soname: str) -> bool:
    try:
        ctypes.CDLL(soname, mode=getattr(os, "RTLD_LAZY", 1) | getattr(os, "RTLD_LOCAL", 0))
    except OSError:
        return False
    return True


def missing_libraries(loads: Callable[[str], bool] = _loads) -> list[str]:
    """The sonames in ``LIBRARIES`` the dynamic loader cannot load (the same search Qt's own loading does)."""
    return [soname for soname in LIBRARIES if not loads(soname)]


def missing_message(missing: list[str]) -> str:
    """Plain words for a person at the terminal: what is missing, and the one line that installs it."""
    packages = list(dict.fromkeys(LIBRARIES[soname] for soname in missing))
    return (
        "BrainScan cannot open its window: this computer lacks system libraries that Qt needs to draw on an X11 "
        f"display: {', '.join(missing)}.\n"
        f"On Debian or Ubuntu, install them with:\n    sudo apt-get install {' '.join(packages)}\n"
        f"(or everything BrainScan needs at once: {APT_LINE})\n"
        "On other Linux systems, install the packages that provide these files (Fedora: dnf provides "
        "'*/libxcb-icccm.so.4', and so on). The command line (brainscan analyze, brainscan info) works without them."
    )


def check_before_qt(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    loads: Callable[[str], bool] = _loads,
) -> str | None:
    """None when Qt can start here; otherwise the message naming the missing libraries."""
    if not uses_xcb(environ, platform):
        return None
    missing = missing_libraries(loads)
    return missing_message(missing) if missing else None
