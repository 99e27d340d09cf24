"""Safe file discovery: iterative (any depth without recursion), bounded, inside the dropped tree, natural order.

Why each rule:

- iterative walk with a depth cap: 1100 nested folders once hit Python's recursion limit;
- links are followed only when they point inside a dropped folder: a link to ``/`` once made BrainScan walk the
  whole disk, and a link out of a patient's folder can reach another patient's files;
- every folder and file is visited once (by its real path), so link loops end;
- a cap on files and entries keeps a mistaken drop (a home folder, a disk) from running for hours; reaching it
  is reported as a skipped entry, never silently;
- only regular files are returned: FIFOs, devices and sockets are listed as skipped with the reason.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from natsort import os_sorted

from brainscan.io.files import not_regular_reason
from brainscan.types import SkippedFile

MAX_DEPTH = 64
"""Folders nested deeper than this below a dropped folder are not read."""
MAX_FILES = 50_000
"""At most this many files are returned (a large study has a few thousand)."""
MAX_ENTRIES = 500_000
"""At most this many folder entries are looked at, files and folders together."""

OUTSIDE = "link to a place outside the dropped folders; not followed (drop its target itself to read it)"


def _inside(real: str, roots: list[str]) -> bool:
    return any(real == root or real.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


class _Walk:
    """One walk over the dropped paths; ``files`` and ``skipped`` fill as it goes."""

    def __init__(self, roots: list[str]):
        self.roots = roots
        self.files: list[Path] = []
        self.skipped: list[SkippedFile] = []
        self.seen_dirs: set[str] = set()
        self.seen_files: set[str] = set()
        self.entries = 0
        self.stopped = False

    def add_file(self, path: Path, real: str) -> None:
        if real in self.seen_files:
            return
        if len(self.files) >= MAX_FILES:
            self.stop(path, f"more than {MAX_FILES} files: the rest were not read")
            return
        self.seen_files.add(real)
        self.files.append(path)

    def stop(self, path: Path, reason: str) -> None:
        self.skipped.append(SkippedFile(path, reason))
        self.stopped = True

    def listing(self, folder: Path) -> list[os.DirEntry]:
        try:
            with os.scandir(folder) as it:
                return os_sorted(list(it), key=lambda e: e.name)
        except OSError as exc:
            reason = f"folder could not be opened ({exc.strerror or type(exc).__name__})"
            self.skipped.append(SkippedFile(folder, reason))
            return []

    def folder(self, root: Path) -> None:
        """Walk one dropped folder depth-first without recursion, in natural order."""
        real_root = os.path.realpath(root)
        if real_root in self.seen_dirs:
            return
        self.seen_dirs.add(real_root)
        stack = [(iter(self.listing(root)), real_root, 1)]
        while stack and not self.stopped:
            entries, real_folder, depth = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                self.stop(root, f"more than {MAX_ENTRIES} files and folders: the rest were not read")
                return
            path = Path(entry.path)
            try:
                child = self.entry(entry, path, real_folder, depth)
            except OSError as exc:
                reason = f"could not be inspected ({exc.strerror or type(exc).__name__})"
                self.skipped.append(SkippedFile(path, reason))
                continue
            if child is not None:
                stack.append((iter(self.listing(path)), child, depth + 1))

    def entry(self, entry: os.DirEntry, path: Path, real_folder: str, depth: int) -> str | None:
        """Handle one folder entry; return the real path of a folder to descend into, else None."""
        if entry.is_symlink():
            real = os.path.realpath(path)
            if not os.path.exists(real):
                self.skipped.append(SkippedFile(path, "broken link (its target does not exist)"))
                return None
            if not _inside(real, self.roots):
                self.skipped.append(SkippedFile(path, OUTSIDE))
                return None
        else:
            real = os.path.join(real_folder, entry.name)
        mode = entry.stat().st_mode
        if stat.S_ISREG(mode):
            self.add_file(path, real)
            return None
        if not stat.S_ISDIR(mode):
            self.skipped.append(SkippedFile(path, not_regular_reason(mode)))
            return None
        if real in self.seen_dirs:
            return None
        self.seen_dirs.add(real)
        if depth >= MAX_DEPTH:
            reason = f"folder nested too deep (more than {MAX_DEPTH} levels below the dropped folder); not read"
            self.skipped.append(SkippedFile(path, reason))
            return None
        return real


def iter_files(paths: Iterable[Path | str]) -> tuple[list[Path], list[SkippedFile]]:
    """All regular files under ``paths`` (files or folders), each once, in natural order (a folder's files and
    subfolders interleaved by name, as a file manager lists them), and every entry that was not used, with why."""
    paths = [Path(p) for p in paths]
    walk = _Walk([os.path.realpath(p) for p in paths if p.is_dir()])
    for root in paths:
        if walk.stopped:
            break
        try:
            mode = root.stat().st_mode
        except OSError:
            walk.skipped.append(SkippedFile(root, "does not exist or is not a file or folder"))
            continue
        if stat.S_ISREG(mode):
            walk.add_file(root, os.path.realpath(root))
        elif stat.S_ISDIR(mode):
            walk.folder(root)
        else:
            walk.skipped.append(SkippedFile(root, not_regular_reason(mode)))
    return walk.files, walk.skipped
