"""Replaces PyInstaller's hook for PySide6.QtGui: the same collection, minus plugins BrainScan never loads.

Filtering here (not in the spec after Analysis) matters: PyInstaller follows the shared-library dependencies
of every collected plugin, so a plugin dropped later would still leave its dependencies behind (the virtual
keyboard plugin alone pulls in QtQuick, QtQml and QtNetwork, about 40 MB).

A list of what to drop (not of what to keep), so the platform plugins of Windows (qwindows) and macOS (qcocoa)
stay in when the app is built there. On Linux what remains is: platforms xcb, wayland, offscreen, minimal;
the xcb GL integrations and the Wayland client plugins (xdg-shell); the xdg-desktop-portal theme; the compose
and ibus input methods; JPEG and SVG image formats (PNG is built into QtGui); the SVG icon engine.
"""

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)

DROP = {
    # embedded / remote-display platforms
    "platforms": {"qeglfs", "qlinuxfb", "qvnc", "qvkkhrdisplay", "qminimalegl", "qdirect2d"},
    "egldeviceintegrations": "*",
    "generic": "*",  # evdev/tuio input for eglfs and linuxfb
    # the virtual keyboard plugin loads QML and Qt Quick
    "platforminputcontexts": {"qtvirtualkeyboardplugin"},
    # the GTK theme would bundle parts of the build machine's GTK stack (cairo, pango, gdk-pixbuf, ...)
    "platformthemes": {"qgtk3"},
    "imageformats": {"qgif", "qicns", "qico", "qpdf", "qtga", "qtiff", "qwbmp", "qwebp"},
    "wayland-shell-integration": {"fullscreen-shell-v1", "ivi-shell", "qt-shell", "wl-shell-plugin"},
}


def keep(dest_dir: str, src: str) -> bool:
    parts = dest_dir.replace("\\", "/").split("/plugins/", 1)
    if len(parts) < 2:
        return True  # a library, not a plugin
    dropped = DROP.get(parts[1].split("/")[0], set())
    name = src.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0]
    name = name[3:] if name.startswith("lib") else name
    return not (dropped == "*" or name in dropped)


binaries = [(src, dest) for src, dest in binaries if keep(dest, src)]
