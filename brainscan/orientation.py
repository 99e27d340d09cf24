"""Which way round to show a slice: the radiological convention from the 6 direction cosines, and edge letters.

A slice is stored as rows and columns; DICOM ImageOrientationPatient says where they point in the patient
(LPS: +x to the patient's left, +y to posterior, +z to the head). The radiological convention shows

- axial slices as seen from the feet: patient's left on the screen's right, anterior at the top;
- coronal slices as seen from the front: patient's left on the screen's right, the head at the top;
- sagittal slices as seen from the patient's left: anterior on the screen's left, the head at the top.

``display_orientation`` picks the nearest of these planes (an oblique series is shown in its nearest standard
plane, and says so) and the one transpose and flips that bring the stored grid there. Only the display turns:
pixels, outlines, measurements and the DICOM Segmentation stay in the stored grid (``to_display`` is applied to
a copy for the screen and the report's images). Pure numpy, no Qt: the viewer and the PDF share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AXIAL, CORONAL, SAGITTAL = "axial", "coronal", "sagittal"
OBLIQUE_DEGREES = 10.0
"""A slice whose normal is further than this from the nearest patient axis is called oblique."""

_TARGETS = {  # plane -> (screen-right direction, screen-down direction) in patient LPS
    AXIAL: ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),  # right of screen = patient left, down = posterior
    CORONAL: ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),  # right = left, down = feet
    SAGITTAL: ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),  # right = posterior, down = feet
}
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))  # (negative, positive) along LPS x, y, z


@dataclass(frozen=True)
class DisplayOrientation:
    """How to turn a stored slice for display, and the letters on the displayed slice's edges.

    Apply ``transpose`` first (rows become columns), then ``flip_rows`` (upside down), then ``flip_cols``
    (mirror left-right): ``to_display`` does exactly that.
    """

    plane: str
    transpose: bool
    flip_rows: bool
    flip_cols: bool
    top: str
    bottom: str
    left: str
    right: str
    oblique_degrees: float = 0.0

    @property
    def oblique(self) -> bool:
        return self.oblique_degrees > OBLIQUE_DEGREES

    @property
    def identity(self) -> bool:
        return not (self.transpose or self.flip_rows or self.flip_cols)

    def describe(self) -> str:
        """One line for the overlay: the plane, and for an oblique series that it is the nearest one."""
        if self.oblique:
            return f"Oblique ({self.oblique_degrees:.0f}° off): shown as the nearest {self.plane} plane"
        return f"{self.plane.capitalize()}"

    def display_spacing(self, spacing: tuple[float, float] | None) -> tuple[float, float] | None:
        """(row mm, column mm) of the displayed grid."""
        if spacing is None or not self.transpose:
            return spacing
        return spacing[1], spacing[0]

    def display_shape(self, rows: int, cols: int) -> tuple[int, int]:
        return (cols, rows) if self.transpose else (rows, cols)


def direction_letters(vector) -> str:
    """Letters of a patient direction: the main one first, a second one when the direction leans towards it
    by 30 % or more (e.g. "LA" for left and a little anterior)."""
    v = np.asarray(vector, dtype=float)
    order = np.argsort(-np.abs(v), kind="stable")
    letters = ""
    for axis in order[:2]:
        if axis == order[0] or abs(v[axis]) >= 0.3:
            letters += _LETTERS[axis][1 if v[axis] > 0 else 0]
    return letters


def display_orientation(cosines) -> DisplayOrientation | None:
    """The transform to the radiological convention for a slice with these 6 direction cosines (DICOM
    ImageOrientationPatient: row direction, then column direction), or None when they are unknown or unusable."""
    if cosines is None:
        return None
    values = np.asarray(cosines, dtype=float).ravel()
    if values.size != 6 or not np.all(np.isfinite(values)):
        return None
    row_dir, col_dir = values[:3], values[3:]  # along a row (column index grows), down a column (row index grows)
    if np.linalg.norm(row_dir) < 0.5 or np.linalg.norm(col_dir) < 0.5:
        return None
    row_dir, col_dir = row_dir / np.linalg.norm(row_dir), col_dir / np.linalg.norm(col_dir)
    normal = np.cross(row_dir, col_dir)
    if np.linalg.norm(normal) < 0.5:
        return None
    normal = normal / np.linalg.norm(normal)
    axis = int(np.argmax(np.abs(normal)))
    plane = (SAGITTAL, CORONAL, AXIAL)[axis]
    oblique = float(np.degrees(np.arccos(min(1.0, abs(normal[axis])))))
    right, down = (np.asarray(t) for t in _TARGETS[plane])
    transpose = abs(float(col_dir @ right)) > abs(float(row_dir @ right))
    horizontal, vertical = (col_dir, row_dir) if transpose else (row_dir, col_dir)
    flip_cols = float(horizontal @ right) < 0
    flip_rows = float(vertical @ down) < 0
    horizontal = -horizontal if flip_cols else horizontal
    vertical = -vertical if flip_rows else vertical
    return DisplayOrientation(
        plane=plane,
        transpose=bool(transpose),
        flip_rows=bool(flip_rows),
        flip_cols=bool(flip_cols),
        top=direction_letters(-vertical),
        bottom=direction_letters(vertical),
        left=direction_letters(-horizontal),
        right=direction_letters(horizontal),
        oblique_degrees=round(oblique, 1),
    )


def to_display(image: np.ndarray, orientation: DisplayOrientation | None) -> np.ndarray:
    """``image`` (rows, cols[, channels]) turned for display; unchanged without an orientation. A view or a
    copy: never write into it."""
    if orientation is None or orientation.identity:
        return image
    out = np.swapaxes(image, 0, 1) if orientation.transpose else image
    if orientation.flip_rows:
        out = out[::-1]
    if orientation.flip_cols:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def to_display_index(row: int, col: int, shape: tuple[int, int], orientation: DisplayOrientation | None):
    """Where stored pixel (row, col) of a (rows, cols) slice lands on the displayed slice."""
    if orientation is None:
        return row, col
    rows, cols = shape
    if orientation.transpose:
        row, col, rows, cols = col, row, cols, rows
    if orientation.flip_rows:
        row = rows - 1 - row
    if orientation.flip_cols:
        col = cols - 1 - col
    return row, col
