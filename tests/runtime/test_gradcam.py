"""Grad-CAM returns a map on the slice's own grid that actually varies."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]


def test_gradcam_shape_range_and_not_constant():
    from brainscan.runtime.keras.gradcam import grad_cam
    from brainscan.runtime.keras.vgg16 import build_classifier

    model = build_classifier("scratch", seed=3)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 4000, (200, 150)).astype(np.float32)
    pixels[50:120, 40:100] += 3000  # a bright blob
    cams = [grad_cam(model, pixels, class_index=k) for k in range(4)]
    for cam in cams:
        assert cam.shape == (200, 150) and cam.dtype == np.float32
        assert cam.min() >= 0.0 and cam.max() <= 1.0
    assert max(float(c.std()) for c in cams) > 0.01
