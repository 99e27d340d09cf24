"""Safe recursive file discovery: no symlink loops, unreadable folders reported, natural order."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from natsort import os_sorted

from brainscan.types import SkippedFile


def iter_files(paths: Iterable[Path | str]) -> tuple[list[Path], list[SkippedFile]]:
    """All regular files under ``paths`` (files or folders), each once, in natural order.

    Symlinked folders are followed once (by their real path), so a link loop cannot recurse forever.
    """
    files: list[Path] = []
    skipped: list[SkippedFile] = []
    seen_dirs: set[str] = set()
    seen_files: set[str] = set()

    def add_file(path: Path) -> None:
        real = os.path.realpath(path)
        if real not in seen_files:
            seen_files.add(real)
            files.append(path)

    def walk(folder: Path) -> None:
        real = os.path.realpath(folder)
        if real in seen_dirs:
            return
        seen_dirs.add(real)
        try:
            entries = os_sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skipped.append(SkippedFile(folder, f"folder could not be opened ({exc.strerror or exc})"))
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    walk(path)
                elif entry.is_file():
                    add_file(path)
                elif entry.is_symlink():
                    skipped.append(SkippedFile(path, "broken or looping link"))
            except OSError as exc:
                skipped.append(SkippedFile(path, f"could not be inspected ({exc.strerror or exc})"))

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            walk(path)
        elif path.is_file():
            add_file(path)
        else:
            skipped.append(SkippedFile(path, "does not exist or is not a file or folder"))
    return files, skipped
