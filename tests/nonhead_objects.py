"""Test objects that are not heads (issue 31, item 3), made in code: an ACR-like phantom, a stripe pattern, a
series with NaN/inf slices, and photo-like pictures. None may ever get a verdict."""

from __future__ import annotations

import numpy as np

SIZE = 256


def _grid():
    return np.mgrid[:SIZE, :SIZE]


def acr_like_phantom(n: int = 11, seed: int = 0) -> np.ndarray:
    """A water-filled cylinder (uniform signal, a little noise) with a hole-grid resolution insert, low-contrast
    discs and a ramp, in the way of the ACR MRI phantom's slices."""
    rng = np.random.default_rng(seed)
    yy, xx = _grid()
    disc = (yy - 128) ** 2 + (xx - 128) ** 2 <= 95**2
    out = np.zeros((n, SIZE, SIZE), np.float32)
    for k in range(n):
        s = np.where(disc, 1000.0, 0.0) + rng.normal(0, 15, (SIZE, SIZE)) * disc
        if k == 0:
            for cy in range(90, 120, 6):
                for cx in range(100, 160, 6):
                    s[(yy - cy) ** 2 + (xx - cx) ** 2 <= 4] = 200
        if k in (4, 5, 6):
            for a in np.linspace(0, 2 * np.pi, 10, endpoint=False):
                s[(yy - 128 - 50 * np.sin(a)) ** 2 + (xx - 128 - 50 * np.cos(a)) ** 2 <= 16] = 1050
        if k == 2:
            s[120:136, 60:200] = 300
        out[k] = s
    return out


def stripes(n: int = 12) -> np.ndarray:
    _, xx = _grid()
    return np.stack([np.sin(xx / 4.0 + k) * 500 + 600 for k in range(n)]).astype(np.float32)


def nan_inf_series(n: int = 12, seed: int = 0) -> np.ndarray:
    """Noise with rows of NaN and whole slices of inf: a broken reconstruction."""
    rng = np.random.default_rng(seed)
    vol = rng.normal(500, 100, (n, SIZE, SIZE)).astype(np.float32)
    vol[:, ::7, :] = np.nan
    vol[3:6] = np.inf
    return vol


def photo_like(n: int = 3, seed: int = 0) -> np.ndarray:
    """Smooth shading that fills the whole frame, like a photograph of a scene turned grey."""
    rng = np.random.default_rng(seed)
    yy, xx = _grid()
    return np.stack(
        [
            yy * 3 + xx * 2 + 400 * np.sin(yy / 30.0) * np.cos(xx / 25.0) + rng.normal(0, 20, (SIZE, SIZE))
            for _ in range(n)
        ]
    ).astype(np.float32)


OBJECTS = {"acr phantom": acr_like_phantom, "stripes": stripes, "nan/inf": nan_inf_series, "photo": photo_like}
