"""The shared slice preprocessing: deterministic, any input to 128x128x3 in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.runtime.preprocess import preprocess_slice, square_to_source


@pytest.mark.parametrize(
    "pixels",
    [
        np.random.default_rng(0).integers(0, 255, (512, 512), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 4095, (256, 200), dtype=np.uint16),
        np.random.default_rng(2).integers(0, 255, (300, 420, 3), dtype=np.uint8),
        np.random.default_rng(3).integers(0, 255, (64, 64, 4), dtype=np.uint8),
        np.random.default_rng(4).normal(size=(90, 33)).astype(np.float64),
        np.zeros((10, 10)),
        np.full((7, 300), 1000.0),
    ],
)
def test_any_slice_becomes_model_input(pixels):
    out = preprocess_slice(pixels)
    assert out.shape == (128, 128, 3) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(out, preprocess_slice(pixels.copy()))
    assert np.array_equal(out[..., 0], out[..., 2])


def test_intensity_scale_invariance_8_vs_16_bit():
    base = np.random.default_rng(5).integers(0, 255, (128, 128)).astype(np.float64)
    assert np.allclose(preprocess_slice(base), preprocess_slice(base * 16 + 100), atol=1e-5)


def test_padding_keeps_aspect_and_maps_back():
    pixels = np.zeros((100, 200))
    pixels[:, 150:] = 1000.0
    out = preprocess_slice(pixels)[..., 0]
    assert out[:30].max() == 0.0  # top padding band
    back = square_to_source(out, (100, 200))
    assert back.shape == (100, 200)
    assert back[:, 160:].mean() > 0.9 and back[:, :140].mean() < 0.05


def test_rejects_non_images():
    with pytest.raises(ValueError):
        preprocess_slice(np.zeros((4, 4, 4, 4)))
