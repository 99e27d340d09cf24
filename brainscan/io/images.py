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


def add_pages(path: Path, stack: SliceStack, shape: tuple[int, int], looks: list | None = None) -> int:
    """Decode every page of an image file (one for most files) into ``stack``, pages of another size scaled to
    fit ``shape`` (``fit_to_canvas``); return how many. On any error nothing of this file stays in the stack.
    ``looks`` gets each page's (size, ``thumbnail``) for ``image_set_reason``."""
    start = stack.count
    seen = len(looks) if looks is not None else 0
    try:
        with open_regular(path) as handle, Image.open(handle) as img:
            for page in ImageSequence.Iterator(img):
                pixels = gray_page(page)
                stack.add(pixels if pixels.shape == shape else fit_to_canvas(pixels, *shape))
                if looks is not None:
                    looks.append((pixels.shape, thumbnail(pixels)))
    except BaseException:
        stack.count = start
        if looks is not None:
            del looks[seen:]
        raise
    return stack.count - start


# ---- one series, or a set of unrelated images? --------------------------------------------------------------

THUMBNAIL = 32
"""Side of the common grid images are compared on (each image stretched to it, whatever its size)."""
MIN_NEIGHBOUR_SIMILARITY = 0.8
"""Slices of one series: the median correlation of each image with the next (on the THUMBNAIL grid) reaches this,
or neighbours are clearly more alike than images further apart (MIN_NEIGHBOUR_GAIN)."""
MIN_NEIGHBOUR_GAIN = 0.08
"""How much more alike neighbouring images must be (median correlation) than images 3 or more apart.

Measured read-only on ../shared (tools: none kept; numbers here): images of different people (random draws of 8 and
100 from the four Figshare/Kaggle training folders): neighbour median 0.31-0.79, gain -0.13 to 0.22 (100
images: at most 0.63 and 0.02); real series (every NIfTI volume of ../shared/data/volumes along each axis, at
1 mm and at 6 mm, whole and 8 central slices, 468 series): every one with a median below 0.9 gains at least
0.048, and every one below 0.8 at least 0.107. With these two thresholds no real series is a set, every set of
100 is, and 23 of 25 sets of 8 are (the rest: by their sizes, MIN_SIZED_SIMILARITY)."""
MIN_SIZED_SIMILARITY = 0.9
"""Images of several sizes with a neighbour median below this are a set whatever the gain (one series has one
size)."""
MAX_FAR_PAIRS = 20000


def thumbnail(pixels: np.ndarray) -> np.ndarray:
    """The image stretched to THUMBNAIL x THUMBNAIL by area averaging, float64."""
    image = Image.fromarray(np.nan_to_num(pixels.astype(np.float32)), mode="F")
    return np.asarray(image.resize((THUMBNAIL, THUMBNAIL), Image.Resampling.BOX), dtype=np.float64)


def similarity(thumbnails: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(correlation of each image with the next, correlations of images 3 or more apart (a fixed sample of at most
    MAX_FAR_PAIRS)); flat images (a blank slice) are left out first."""
    flat = np.asarray([t.ravel() for t in thumbnails], dtype=np.float64).reshape(len(thumbnails), -1)
    spread = flat.std(axis=1)
    keep = spread > 1e-6 * np.maximum(1.0, np.abs(flat).max(axis=1, initial=0.0))
    z = flat[keep]
    z = (z - z.mean(axis=1, keepdims=True)) / spread[keep][:, None]
    n = len(z)
    near = (z[:-1] * z[1:]).mean(axis=1) if n > 1 else np.zeros(0)
    first, second = np.triu_indices(n, k=3)
    if len(first) > MAX_FAR_PAIRS:
        pick = np.random.default_rng(0).choice(len(first), MAX_FAR_PAIRS, replace=False)
        first, second = first[pick], second[pick]
    far = (z[first] * z[second]).mean(axis=1)
    return near, far


def image_set_reason(looks: list[tuple[tuple[int, int], np.ndarray]]) -> tuple[str, str]:
    """("different sizes and content", the warning) when ``looks`` ((size, thumbnail) per image, in order) are
    unrelated images rather than the slices of one series; ("", "") when they look like one series.

    Slices of one series have one size, and each looks much like the next, or at least more like the next than
    like slices further away; images of different people do neither (MIN_NEIGHBOUR_SIMILARITY,
    MIN_NEIGHBOUR_GAIN, MIN_SIZED_SIMILARITY). Fewer than 3 images, or fewer than 2 pairs with content to
    compare, count as a series.
    """
    if len(looks) < 3:
        return "", ""
    near, far = similarity([t for _, t in looks])
    if len(near) < 2:
        return "", ""
    median = float(np.median(near))
    gain = median - float(np.median(far)) if len(far) else 0.0
    sizes = len({size for size, _ in looks})
    unalike = median < MIN_NEIGHBOUR_SIMILARITY and gain < MIN_NEIGHBOUR_GAIN
    sized = sizes > 1 and median < MIN_SIZED_SIMILARITY
    if not unalike and not sized:
        return "", ""
    why = (
        "different sizes and content" if unalike and sized else ("different content" if unalike else "different sizes")
    )
    warning = (
        f"These {len(looks)} images are not one series ({why}: {sizes} image size(s); neighbouring images alike "
        f"{median:.2f} on a {THUMBNAIL}x{THUMBNAIL} grid, {gain:+.2f} against images further apart): each image is "
        "judged on its own, with no series probability and no volume or 3D measurement."
    )
    return why, warning


def load_images(info: SeriesInfo) -> Volume:
    """Load a folder of 2D slices (already in natural file-name order); spacing is unknown. Slices of another
    size than the series' are scaled to fit it (``fit_to_canvas``; the series carries the warning).

    Raises:
        SeriesLoadError: when no file could be decoded.
    """
    from brainscan.io.load import robust_window, skipped_warning
    from brainscan.io.values import non_finite_warning

    stack = SliceStack(info.slices, (info.rows, info.columns))
    looks: list = []
    used: list[Path] = []
    slice_files: list[Path] = []
    skipped: list[SkippedFile] = []
    for path in info.files:
        try:
            pages = add_pages(path, stack, (info.rows, info.columns), looks)
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
    image_set, why = image_set_reason(looks)
    if why:
        warnings.append(why)
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
        image_set=image_set,
    )
