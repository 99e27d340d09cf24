"""The one slice preprocessing used by training, evaluation and the app.

Any 2D slice (grayscale or RGB/RGBA, 8 or 16 bit or float, any size) becomes a float32 array of
shape (size, size, 3) with values in [0, 1]:

1. colour is reduced to luminance (ITU-R 601 weights, as PIL's "L" mode), alpha is dropped;
2. intensities are scaled robustly: the 0.5th percentile maps to 0 and the 99.5th to 1, then clipped.
   This puts 8-bit JPEGs and 12/16-bit DICOM on the same footing, whatever their window;
3. the slice is padded with zeros (background) to a square, centred, so anatomy keeps its aspect ratio;
4. it is resized to size x size with an area-averaging (antialiased) filter;
5. the grey channel is repeated three times, because VGG16 takes three channels.

Every step is deterministic: the same pixels always give the same output.

A classifier card may add one inference-only step after these (``smooth_batch``, card
``inference.input_smoothing_sigma``): a light Gaussian blur that gives the model the softness its training
images always had, because every training image passed through the augmentation's bilinear resampling.
Training does not apply it (its augmentation already blurs); evaluation and the app apply it through the
classifier object, so the two cannot disagree.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CLASSIFIER_SIZE = 128
LOW_PERCENTILE = 0.5
HIGH_PERCENTILE = 99.5


def to_grayscale(pixels: np.ndarray) -> np.ndarray:
    """Return a 2D float32 array from a 2D grey or (H, W, 3|4) colour slice.

    Raises:
        ValueError: if the array is not a 2D image.
    """
    arr = np.asarray(pixels)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4):
        rgb = arr[..., :3].astype(np.float32)
        return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 2:
        raise ValueError(f"expected a 2D slice, got an array of shape {arr.shape}")
    return arr.astype(np.float32)


def normalise_intensity(gray: np.ndarray) -> np.ndarray:
    """Scale a grey slice to [0, 1] between its 0.5th and 99.5th percentiles (flat slices become 0)."""
    finite = np.nan_to_num(gray, nan=0.0, posinf=0.0, neginf=0.0)
    low, high = np.percentile(finite, [LOW_PERCENTILE, HIGH_PERCENTILE])
    if high - low < 1e-6:
        return np.zeros_like(finite, dtype=np.float32)
    return np.clip((finite - low) / (high - low), 0.0, 1.0).astype(np.float32)


def pad_to_square(gray: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Centre a slice on a zero square canvas; returns the canvas and the (row, col) offset used."""
    rows, cols = gray.shape
    side = max(rows, cols)
    top, left = (side - rows) // 2, (side - cols) // 2
    canvas = np.zeros((side, side), dtype=np.float32)
    canvas[top : top + rows, left : left + cols] = gray
    return canvas, (top, left)


def resize_float(gray: np.ndarray, size: int) -> np.ndarray:
    """Resize a float slice to size x size with PIL's antialiased BOX/bilinear filter (deterministic)."""
    if gray.shape == (size, size):
        return gray.astype(np.float32)
    img = Image.fromarray(gray.astype(np.float32), mode="F")
    shrinking = gray.shape[0] > size
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    return np.asarray(img.resize((size, size), resample=resample), dtype=np.float32)


def preprocess_gray(pixels: np.ndarray, size: int = CLASSIFIER_SIZE) -> np.ndarray:
    """Steps 1-4 above: a (size, size) float32 slice in [0, 1]."""
    gray = normalise_intensity(to_grayscale(pixels))
    square, _ = pad_to_square(gray)
    return np.clip(resize_float(square, size), 0.0, 1.0)


def preprocess_slice(pixels: np.ndarray, size: int = CLASSIFIER_SIZE) -> np.ndarray:
    """Turn any 2D slice into the classifier's (size, size, 3) float32 input in [0, 1].

    Raises:
        ValueError: if ``pixels`` is not a 2D grey or colour image.
    """
    gray = preprocess_gray(pixels, size)
    return np.repeat(gray[..., None], 3, axis=-1)


def preprocess_batch(slices, size: int = CLASSIFIER_SIZE) -> np.ndarray:
    """Preprocess an iterable of slices into one (n, size, size, 3) float32 batch."""
    out = [preprocess_slice(s, size) for s in slices]
    if not out:
        return np.zeros((0, size, size, 3), dtype=np.float32)
    return np.stack(out)


def smooth_batch(batch: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of each image in an (n, size, size, channels) batch, ``sigma`` in model pixels (0: none).

    Why: the classifier was trained only on images resampled (bilinear) by random rotation, zoom and shift,
    so it never saw a slice as sharp as ``preprocess_slice`` makes it; what sharp inputs cost is in the
    model card's keys ``validation.without_input_smoothing`` and ``inference.input_smoothing_sweep``.
    Zero padding outside the image, like the augmentation's fill.
    """
    batch = np.asarray(batch, dtype=np.float32)
    if not sigma or len(batch) == 0:
        return batch
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(batch, sigma=(0, sigma, sigma, 0), mode="constant", cval=0.0).astype(np.float32)


def square_to_source(square_map: np.ndarray, source_shape: tuple[int, int], resample: str = "bilinear") -> np.ndarray:
    """Map a square model-grid array back onto the source slice grid (undo pad + resize).

    Used for Grad-CAM maps and segmentation probabilities, so overlays line up with the original pixels.
    """
    rows, cols = source_shape
    side = max(rows, cols)
    top, left = (side - rows) // 2, (side - cols) // 2
    method = Image.Resampling.BILINEAR if resample == "bilinear" else Image.Resampling.NEAREST
    img = Image.fromarray(square_map.astype(np.float32), mode="F").resize((side, side), resample=method)
    full = np.asarray(img, dtype=np.float32)
    return full[top : top + rows, left : left + cols]
