"""Folders of 2D image slices (JPEG, PNG, TIFF, BMP, GIF) as a ``Volume`` with unknown spacing.

A multi-page TIFF or an animated GIF gives one slice per page, in page order (the scan counted the pages, and
its warning on the series says so). Images of another size than the series' are scaled to fit it (the scan's
``image_canvas`` chose the size and warns).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from brainscan.errors import SeriesLoadError
from brainscan.io.files import open_failure_reason, open_regular
from brainscan.io.stack import SliceStack
from brainscan.types import SeriesInfo, SkippedFile, Volume

GREY_MODES = ("I;16", "I;16B", "I;16L", "I", "F")


def gray_page(page: Image.Image) -> np.ndarray:
    """One page as grey float32; 16-bit and float pages keep their values, colour becomes luminance."""
    if page.mode in GREY_MODES:
        return np.asarray(page, dtype=np.float32)
    return np.asarray(page.convert("L"), dtype=np.float32)


def read_gray_image(path: Path) -> np.ndarray:
    """The first page of any PIL image (whatever its extension claims) as grey float32."""
    with open_regular(path) as handle, Image.open(handle) as img:
        return gray_page(img)


def fit_to_canvas(pixels: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """A 2D image scaled to fit ``rows`` x ``columns`` with its aspect ratio kept, centred on a zero canvas.

    For folders of images of mixed sizes (brainscan.io.scan.image_canvas): every slice is shown and analysed on
    one grid. Area-averaging when shrinking, bilinear when enlarging, as the classifier's own preprocessing does.
    """
    height, width = pixels.shape
    scale = min(rows / height, columns / width)
    new_h, new_w = max(1, min(rows, round(height * scale))), max(1, min(columns, round(width * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    scaled = np.asarray(
        Image.fromarray(pixels.astype(np.float32), mode="F").resize((new_w, new_h), resample=resample),
        dtype=np.float32,
    )
    canvas = np.zeros((rows, columns), dtype=np.float32)
    top, left = (rows - new_h) // 2, (columns - new_w) // 2
    canvas[top : top + new_h, left : left + new_w] = scaled
    return canvas


def add_pages(path: Path, stack: SliceStack, shape: tuple[int, int]) -> int:
    """Decode every page of an image file (one for most files) into ``stack``, pages of another size scaled to
    fit ``shape`` (``fit_to_canvas``); return how many. On any error nothing of this file stays in the stack."""
    start = stack.count
    try:
        with open_regular(path) as handle, Image.open(handle) as img:
            for page in ImageSequence.Iterator(img):
                pixels = gray_page(page)
                stack.add(pixels if pixels.shape == shape else fit_to_canvas(pixels, *shape))
    except BaseException:
        stack.count = start
        raise
    return stack.count - start


def load_images(info: SeriesInfo) -> Volume:
    """Load a folder of 2D slices (already in natural file-name order); spacing is unknown. Slices of another
    size than the series' are scaled to fit it (``fit_to_canvas``; the series carries the warning).

    Raises:
        SeriesLoadError: when no file could be decoded.
    """
    from brainscan.io.load import robust_window, skipped_warning
    from brainscan.io.values import non_finite_warning

    stack = SliceStack(info.slices, (info.rows, info.columns))
    used: list[Path] = []
    slice_files: list[Path] = []
    skipped: list[SkippedFile] = []
    for path in info.files:
        try:
            pages = add_pages(path, stack, (info.rows, info.columns))
        except OSError as exc:
            reason = open_failure_reason(exc) if exc.errno else f"image could not be decoded ({type(exc).__name__})"
            skipped.append(SkippedFile(path, reason))
            continue
        except MemoryError as exc:
            raise SeriesLoadError("There was not enough memory to decode the images of this series.") from exc
        except Exception as exc:  # noqa: BLE001 - a corrupt file is skipped with its reason
            skipped.append(SkippedFile(path, f"image could not be decoded ({type(exc).__name__})"))
            continue
        slice_files.extend([path] * pages)
        used.append(path)
    if stack.count == 0:
        reasons = "; ".join(f"{s.path.name}: {s.reason}" for s in skipped[:5])
        raise SeriesLoadError(f"None of the images in '{info.description}' could be read. {reasons}")
    pixels = stack.ordered()
    warnings = list(info.warnings) + skipped_warning(skipped, len(info.files))
    if stack.non_finite:
        warnings.append(non_finite_warning(stack.non_finite, stack.non_finite_slices))
    return Volume(
        pixels=pixels,
        info=replace(info, frames=stack.count, files=tuple(used)),
        pixel_spacing_mm=None,
        slice_spacing_mm=None,
        sorted_by="filename",
        window=robust_window(pixels),
        slice_files=tuple(slice_files),
        warnings=tuple(warnings),
        skipped=tuple(info.skipped) + tuple(skipped),
    )
