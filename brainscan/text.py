"""Text from files and file names made safe to show, print, store and encode.

Why: DICOM headers and file names are written by others. A SeriesDescription can hold terminal control
sequences (clear the screen, set the window title), and a folder name can hold bytes that are not UTF-8 (Python
keeps them as lone surrogates, which SQLite, JSON files and hashing cannot encode). Everything that leaves the
I/O layer as text passes through here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""C0 and C1 controls (escape sequences start with ESC or CSI) and bidirectional overrides, which reorder text."""
_BREAKS = re.compile("[\t\n\r]+")


def unicode_safe(value: str) -> str:
    """``value`` with lone surrogates (undecodable bytes of a file name) as U+FFFD, so it encodes as UTF-8."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def clean_text(value: object) -> str:
    """A single printable line: control characters removed, tabs and line breaks as spaces, UTF-8 safe."""
    text = unicode_safe("" if value is None else str(value))
    return _CONTROL.sub("", _BREAKS.sub(" ", text))


def display_path(path: Path | str) -> str:
    """A path as printable, UTF-8-safe text (undecodable bytes shown as U+FFFD)."""
    return clean_text(os.fspath(path))


def printable(value: object) -> str:
    """Text for a terminal: each line cleaned with ``clean_text`` (line breaks between lines are kept)."""
    return "\n".join(clean_text(line) for line in str(value).split("\n"))
