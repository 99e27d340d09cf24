"""Size limits, checked from headers before any pixel data is decoded.

Why: a 0.8 MB deflated DICOM once expanded to 7 GB in memory, and 24 PNGs of 10 KB each (8192 x 8192 pixels of
one colour) ran out of memory while being stacked. Compressed files say little about their decoded size, but
their headers do: rows x columns x frames x slices. A series is decoded only when that product fits the budget,
and refused with a message that says why otherwise.
"""

from __future__ import annotations

from brainscan.errors import SeriesLoadError

MAX_SERIES_PIXELS = 512 * 512 * 320
"""Pixels one series may decode (about 84 million: 320 slices of 512 x 512; 335 MB as float32)."""
MAX_DIMENSION = 4096
"""Largest image side accepted at all (MRI matrices reach 1024; one 8192 x 8192 slice alone, rendered with
its overlays for the report, needs over a gigabyte)."""
MIN_SIDE = 8
"""Smallest image side accepted: smaller images (1 x 1, 1 x 8000) cannot show a brain."""
MAX_INFLATED_BYTES = MAX_SERIES_PIXELS * 2 + (16 << 20)
"""A deflated DICOM file may expand to at most a whole budget of 16-bit pixels plus 16 MB of header."""


def size_problem(rows: int, columns: int) -> str | None:
    """Why an image of this size cannot be used, or None when it can."""
    if rows > MAX_DIMENSION or columns > MAX_DIMENSION:
        return (
            f"implausible image size {rows}x{columns} for an MRI slice (more than {MAX_DIMENSION} pixels on a "
            "side); not read"
        )
    if rows < MIN_SIDE or columns < MIN_SIDE:
        return (
            f"image is only {rows}x{columns} pixels: too small to show a brain "
            f"(at least {MIN_SIDE}x{MIN_SIDE} is needed)"
        )
    return None


def too_large_message(rows: int, columns: int, slices: int) -> str:
    total = rows * columns * slices
    return (
        f"This series is too large to analyse: {slices} slice(s) of {rows} x {columns} pixels "
        f"({total / 1e6:,.0f} million pixels; BrainScan reads at most {MAX_SERIES_PIXELS / 1e6:.0f} million per "
        "series, for example 320 slices of 512 x 512). Nothing was decoded. Export fewer slices or a smaller "
        "matrix, or open the slices you need on their own."
    )


def check_series_pixels(rows: int, columns: int, slices: int) -> None:
    """Raise before decoding when a series would exceed the pixel budget.

    Raises:
        SeriesLoadError: when rows x columns x slices exceeds ``MAX_SERIES_PIXELS``.
    """
    if rows * columns * slices > MAX_SERIES_PIXELS:
        raise SeriesLoadError(too_large_message(rows, columns, slices))
