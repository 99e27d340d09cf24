"""brainscan.render.contour matches scipy's erosion-based outline without importing scipy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from scipy import ndimage

from brainscan.render import contour


def test_contour_equals_mask_minus_scipy_erosion():
    rng = np.random.default_rng(0)
    for _ in range(100):
        shape = tuple(int(v) for v in rng.integers(1, 40, size=2))
        mask = rng.random(shape) > rng.random()
        assert np.array_equal(contour(mask), mask & ~ndimage.binary_erosion(mask, border_value=0))


def test_render_does_not_import_scipy():
    code = "import sys, brainscan.render; sys.exit(1 if 'scipy' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
