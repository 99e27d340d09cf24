"""Issue 27 item 2: slices shown in the radiological convention from their direction cosines, with edge letters."""

from __future__ import annotations

import numpy as np
import pytest

from brainscan.orientation import (
    AXIAL,
    CORONAL,
    SAGITTAL,
    direction_letters,
    display_orientation,
    to_display,
    to_display_index,
)


def edges(o):
    return o.top, o.bottom, o.left, o.right


@pytest.mark.parametrize(
    "cosines, plane, expected",
    [
        ((1, 0, 0, 0, 1, 0), AXIAL, ("A", "P", "R", "L")),  # the usual axial: already radiological
        ((1, 0, 0, 0, 0, -1), CORONAL, ("S", "I", "R", "L")),
        ((0, 1, 0, 0, 0, -1), SAGITTAL, ("S", "I", "A", "P")),
    ],
)
def test_standard_planes_stored_the_usual_way_are_shown_as_stored(cosines, plane, expected):
    o = display_orientation(cosines)
    assert o.plane == plane and o.identity and not o.oblique
    assert edges(o) == expected


def test_an_axial_stored_upside_down_and_mirrored_is_turned_back():
    """As the TCGA series: rows run to the patient's right, columns to anterior (anterior at the bottom)."""
    o = display_orientation((-1, 0, 0, 0, -1, 0))
    assert o.plane == AXIAL and o.flip_rows and o.flip_cols and not o.transpose
    assert edges(o) == ("A", "P", "R", "L")


def test_a_transposed_sagittal_is_transposed_back():
    o = display_orientation((0, 0, -1, 0, 1, 0))  # along a row: to the feet; down a column: posterior
    assert o.plane == SAGITTAL and o.transpose
    assert edges(o) == ("S", "I", "A", "P")


def test_oblique_series_say_so_with_combined_letters():
    angle = np.radians(25)
    o = display_orientation((1, 0, 0, 0, np.cos(angle), -np.sin(angle)))  # axial tilted 25 degrees
    assert o.plane == AXIAL and o.oblique and "25°" in o.describe() and "nearest axial" in o.describe()
    assert o.bottom == "PI" and o.top == "AS"


def test_unknown_or_broken_cosines_give_none():
    assert display_orientation(None) is None
    assert display_orientation((0, 0, 0, 0, 0, 0)) is None
    assert display_orientation((1, 0, 0, 1, 0, 0)) is None  # parallel: no plane
    assert display_orientation((float("nan"),) * 6) is None


def test_to_display_moves_each_stored_pixel_where_to_display_index_says():
    image = np.arange(12).reshape(3, 4)
    for cosines in [(1, 0, 0, 0, 1, 0), (-1, 0, 0, 0, -1, 0), (0, 0, -1, 0, 1, 0), (0, -1, 0, 0, 0, 1)]:
        o = display_orientation(cosines)
        shown = to_display(image, o)
        assert shown.shape == o.display_shape(3, 4)
        for r in range(3):
            for c in range(4):
                assert shown[to_display_index(r, c, (3, 4), o)] == image[r, c]
    assert to_display(image, None) is image


def test_letters_point_along_a_displayed_direction():
    """Check the geometry directly: the left edge letter names where the displayed columns' start lies."""
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = np.linalg.qr(rng.normal(size=(3, 3)))[0][:, :2].T
        o = display_orientation((*a, *b))
        # the displayed right direction is the stored row or column direction, possibly negated
        stored = {"row": a, "col": b}
        horizontal = stored["col" if o.transpose else "row"] * (-1 if o.flip_cols else 1)
        assert o.right == direction_letters(horizontal) and o.left == direction_letters(-horizontal)
