"""Slice rendering in numpy: windowing, mask contour and fill, heat map colours, thumbnails.

One renderer serves the viewer (which wraps the array in a QImage), the PDF report and the history
thumbnails, so what a clinician sees on screen is what the report shows.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

MASK_COLOUR = (255, 60, 60)
CONTOUR_COLOUR = (255, 220, 0)
SET_APART_COLOUR = (0, 200, 255)
"""Contour of what the segmenter outlined apart from the tumour region (brainscan.pipeline.extent): no fill."""
DEFAULT_OPACITY = 0.35


def window_to_uint8(pixels: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map a 2D slice to 0..255 grey with a linear window (DICOM PS3.3 C.11.2.1.2, simplified)."""
    width = max(float(width), 1e-6)
    low = center - width / 2.0
    scaled = (np.asarray(pixels, dtype=np.float32) - low) / width
    return (np.clip(scaled, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def contour(mask: np.ndarray) -> np.ndarray:
    """One-pixel outline of a binary mask: the mask minus its erosion by a 3x3 cross, outside = background.

    Same result as ``mask & ~scipy.ndimage.binary_erosion(mask, border_value=0)``, in plain numpy so that
    importing this module (the viewer does at start-up) does not import scipy (about 0.3-0.9 s).
    """
    mask = np.asarray(mask, dtype=bool)
    padded = np.pad(mask, 1, constant_values=False)
    eroded = mask & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~eroded


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """A perceptually ordered blue-green-yellow-red ramp for values in [0, 1]; shape (..., 3) float."""
    h = np.clip(np.asarray(heat, dtype=np.float32), 0.0, 1.0)[..., None]
    stops = np.array([[0, 0, 130], [0, 160, 255], [60, 220, 60], [255, 230, 0], [230, 30, 30]], np.float32)
    pos = h * (len(stops) - 1)
    lower = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)[..., 0]
    frac = pos[..., 0] - lower
    return stops[lower] * (1 - frac[..., None]) + stops[lower + 1] * frac[..., None]


def compose(
    grey: np.ndarray,
    mask: np.ndarray | None = None,
    heatmap: np.ndarray | None = None,
    opacity: float = DEFAULT_OPACITY,
    show_contour: bool = True,
    heat_opacity: float = 0.45,
    set_apart: np.ndarray | None = None,
) -> np.ndarray:
    """RGB uint8 image: the grey slice with a translucent mask fill, its contour and an optional heat map.

    ``grey`` is uint8 (see window_to_uint8); ``mask`` bool and ``heatmap`` [0, 1] floats on the same grid;
    ``set_apart`` (bool) gets a contour only, in ``SET_APART_COLOUR``.
    The heat map is blended where it is above 0.2 so that unremarkable tissue stays readable.
    """
    rgb = np.repeat(np.asarray(grey, dtype=np.float32)[..., None], 3, axis=-1)
    if heatmap is not None:
        heat = np.asarray(heatmap, dtype=np.float32)
        alpha = np.where(heat > 0.2, heat_opacity * heat, 0.0)[..., None]
        rgb = rgb * (1 - alpha) + heat_colours(heat) * alpha
    if mask is not None and np.any(mask):
        mask = np.asarray(mask, dtype=bool)
        fill = np.array(MASK_COLOUR, np.float32)
        a = float(np.clip(opacity, 0.0, 1.0))
        rgb[mask] = rgb[mask] * (1 - a) + fill * a
        if show_contour:
            rgb[contour(mask)] = CONTOUR_COLOUR
    if set_apart is not None and np.any(set_apart):
        rgb[contour(set_apart)] = SET_APART_COLOUR
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def png_bytes(rgb: np.ndarray, max_side: int | None = None) -> bytes:
    """Encode an RGB (or grey) uint8 image as PNG, shrunk to ``max_side`` pixels when given."""
    image = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if max_side and max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
