"""Checks on what headers and decoders hand over, before it reaches the pipeline: rescale, pixel values, geometry.

Why: a header is written by others and can say anything. RescaleSlope 0, NaN or 1e308, NaN pixels, a constant
image or a PixelSpacing of ``inf`` once flowed through to a confident verdict, a JSON file holding ``NaN`` and a
report saying "inf mL". Each check here turns such a value into a usable default plus a warning in words; the
warnings travel on the ``Volume`` into the JSON, the report and the window.
"""

from __future__ import annotations

import math

import numpy as np

MAX_ABS_SLOPE = 1e6
MIN_ABS_SLOPE = 1e-9
MAX_ABS_INTERCEPT = 1e9
MAX_PIXEL_SPACING_MM = 50.0
MAX_SLICE_SPACING_MM = 100.0
MAX_ABS_POSITION_MM = 1e6


def number(value) -> float | None:
    """The first value of a DICOM number (or the number itself) as float, None when absent or not a number."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def shown(value) -> str:
    """A header value as short text for a message."""
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def rescale_of(slope, intercept) -> tuple[float, float, str | None]:
    """(slope, intercept, warning): header values when usable, else (1, 0) or (slope, 0) and why."""
    s, b = number(slope), number(intercept)
    if (
        slope is not None
        and slope != ""
        and (s is None or not math.isfinite(s) or not MIN_ABS_SLOPE <= abs(s) <= MAX_ABS_SLOPE)
    ):
        return (
            1.0,
            0.0,
            (
                f"RescaleSlope {shown(slope)} is not usable (zero, not a number, infinite or absurd); the stored pixel "
                "values were used without rescaling."
            ),
        )
    s = 1.0 if s is None else s
    if intercept is not None and intercept != "" and (b is None or not math.isfinite(b) or abs(b) > MAX_ABS_INTERCEPT):
        return s, 0.0, f"RescaleIntercept {shown(intercept)} is not usable; it was ignored."
    return s, 0.0 if b is None else b, None


def replace_non_finite(pixels: np.ndarray) -> int:
    """Set NaN and infinite values of ``pixels`` to 0 in place; return how many there were."""
    bad = ~np.isfinite(pixels)
    count = int(bad.sum())
    if count:
        pixels[bad] = 0.0
    return count


def non_finite_warning(count: int, slices: int) -> str:
    return (
        f"{count:,} pixel value(s) in {slices} slice(s) were NaN or infinite (not a number); they were set to 0. "
        "The image data may be damaged."
    )


def blank_slices(pixels: np.ndarray) -> list[int]:
    """Indices of slices whose pixels all hold one value (no image contrast at all)."""
    return [i for i in range(pixels.shape[0]) if float(pixels[i].max()) == float(pixels[i].min())]


def blank_warning(blank: list[int], total: int) -> str | None:
    if not blank:
        return None
    if len(blank) == total:
        return (
            f"Every slice is blank (each holds a single value, no image contrast): there is no image to assess. "
            f"Check that the right series was {'exported' if total > 1 else 'saved'}."
        )
    return f"{len(blank)} of {total} slices are blank (a single value, no image contrast)."


def spacing_of(values) -> tuple[tuple[float, float] | None, str | None]:
    """(pixel spacing in mm, warning) from a PixelSpacing value; (None, None) when absent."""
    if values is None or values == "":
        return None, None
    try:
        row, col = (float(v) for v in values)
    except (TypeError, ValueError, OverflowError):
        return None, f"PixelSpacing {shown(values)} is not two numbers; sizes are given in pixels."
    if not all(math.isfinite(v) and 0 < v <= MAX_PIXEL_SPACING_MM for v in (row, col)):
        return None, (
            f"PixelSpacing {shown(values)} is not a plausible pixel size; it was treated as unknown, so sizes are "
            "given in pixels and no volume is computed."
        )
    return (row, col), None


def position_of(values) -> tuple[tuple[float, float, float] | None, str | None]:
    """(ImagePositionPatient in mm, warning); (None, None) when absent."""
    if values is None or values == "":
        return None, None
    try:
        position = tuple(float(v) for v in values)
    except (TypeError, ValueError, OverflowError):
        return None, f"ImagePositionPatient {shown(values)} is not a position; it was ignored."
    if len(position) != 3 or not all(math.isfinite(v) and abs(v) <= MAX_ABS_POSITION_MM for v in position):
        return None, f"ImagePositionPatient {shown(values)} is not a plausible position; it was ignored."
    return position, None  # type: ignore[return-value]


def slice_spacing_warning(spacing: float) -> str | None:
    if math.isfinite(spacing) and 0 < spacing <= MAX_SLICE_SPACING_MM:
        return None
    return (
        f"The slices are {spacing:.3g} mm apart, which is not plausible; slice spacing was treated as unknown, "
        "so no volume is computed."
    )
