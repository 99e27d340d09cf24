"""A folder of unrelated images (different people) is a set of single images, not one series (issue 27 item 4).

The thresholds were measured on real data (brainscan.io.images.MIN_NEIGHBOUR_SIMILARITY); these fixtures are
made in code: 'heads' of different shapes, places and textures against the phantom series' alike slices.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from brainscan.io import load, scan
from brainscan.io.images import image_set_reason, thumbnail
from tests.dicom_factory import phantom_slices


def unrelated_head(rng: np.random.Generator, shape=(64, 64), lesion: bool = False) -> np.ndarray:
    """One 'head' of its own: an ellipse of random size and place with a random texture, uint8."""
    rows, cols = shape
    yy, xx = np.mgrid[:rows, :cols]
    cy, cx = rows * rng.uniform(0.4, 0.6), cols * rng.uniform(0.4, 0.6)
    ry, rx = rows * rng.uniform(0.25, 0.45), cols * rng.uniform(0.25, 0.45)
    head = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    texture = 100 + 80 * np.sin(xx / rng.uniform(1.5, 6) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(1.5, 6))
    out = np.where(head, texture, 0.0)
    if lesion:
        out[(yy - cy) ** 2 + (xx - cx) ** 2 <= 25] = 250
    return out.clip(0, 255).astype(np.uint8)


def write_unrelated(folder, n=12, sizes=((64, 64),), seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for k in range(n):
        Image.fromarray(unrelated_head(rng, sizes[k % len(sizes)], lesion=k % 3 == 0)).save(folder / f"img{k:02d}.png")
    return folder


def write_series(folder, n=10):
    folder.mkdir(parents=True, exist_ok=True)
    for k, pixels in enumerate(phantom_slices(n, lesion_slices=(3, 4, 5))):
        Image.fromarray((pixels // 4).astype(np.uint8)).save(folder / f"slice{k:02d}.png")
    return folder


def test_unrelated_images_of_one_size_are_a_set(tmp_path):
    volume = load(scan([write_unrelated(tmp_path / "set")])[0])
    assert volume.image_set == "different content"
    assert any("not one series (different content" in w for w in volume.warnings)


def test_unrelated_images_of_several_sizes_say_so(tmp_path):
    folder = write_unrelated(tmp_path / "set", sizes=((64, 64), (48, 64), (80, 60)))
    volume = load(scan([folder])[0])
    assert volume.image_set == "different sizes and content"


def test_slices_of_one_series_are_not_a_set(tmp_path):
    volume = load(scan([write_series(tmp_path / "series")])[0])
    assert volume.image_set == ""
    assert not any("not one series" in w for w in volume.warnings)


def test_a_series_whose_slices_change_steadily_is_not_a_set():
    """Thick slices through the top of a head: each unlike the one two further on, but alike its neighbour."""
    yy, xx = np.mgrid[:64, :64]
    looks = []
    for k in range(12):
        radius = 28 - 2 * k
        pixels = np.where((yy - 32) ** 2 + (xx - 32) ** 2 <= radius**2, 100 + 50 * np.sin(xx / (2 + k / 3)), 0.0)
        looks.append(((64, 64), thumbnail(pixels)))
    assert image_set_reason(looks) == ("", "")


def test_too_few_or_flat_images_are_never_a_set():
    rng = np.random.default_rng(1)
    two = [((64, 64), thumbnail(unrelated_head(rng).astype(np.float32))) for _ in range(2)]
    assert image_set_reason(two) == ("", "")
    flat = [((8, 8), np.full((32, 32), float(k))) for k in range(5)]
    assert image_set_reason(flat) == ("", "")
