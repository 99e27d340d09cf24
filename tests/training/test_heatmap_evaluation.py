"""Heat-map scores (pointing game, mass inside the mask), CAM variants and the figure: pure numpy, no TensorFlow."""

from __future__ import annotations

import numpy as np

from brainscan.training.heatmap_evaluation import (
    SHIPPED,
    cam,
    draw_figure,
    evenly_spaced,
    finish,
    format_report,
    mass_inside,
    pointing_hit,
)


def test_pointing_game_and_mass_inside():
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:4] = True
    heat = np.zeros((10, 10))
    heat[3, 3] = 1.0
    heat[8, 8] = 0.5
    assert pointing_hit(heat, mask) and mass_inside(heat, mask) == 1.0 / 1.5
    heat[8, 8] = 2.0
    assert not pointing_hit(heat, mask) and mass_inside(heat, mask) == 1.0 / 3.0
    assert not pointing_hit(np.zeros((10, 10)), mask) and mass_inside(np.zeros((10, 10)), mask) == 0.0
    uniform = np.ones((10, 10))
    assert mass_inside(uniform, mask) == mask.mean()  # the chance level the report quotes


def test_gradcam_averages_gradients_hirescam_does_not():
    activations = np.zeros((2, 2, 2), np.float32)
    activations[0, 0, 0] = 1.0  # channel 0 lives top-left
    activations[1, 1, 1] = 1.0  # channel 1 lives bottom-right
    gradients = np.zeros((2, 2, 2), np.float32)
    gradients[0, 0, 0] = 4.0  # the score rises with channel 0 only where it lives
    gradients[0, 0, 1] = 1.0  # and with channel 1 only top-left, where it is absent
    grad = cam(activations, gradients, "gradcam")
    hires = cam(activations, gradients, "hirescam")
    assert grad[0, 0] == 1.0 and grad[1, 1] == 0.25  # averaged weights credit channel 1 where it does not matter
    assert hires[0, 0] == 1.0 and hires[1, 1] == 0.0


def test_finish_maps_onto_the_slice_grid_and_blurs():
    square = np.zeros((128, 128), np.float32)
    square[64, 64] = 1.0
    sharp, blurred = finish(square, 0.0, (64, 128)), finish(square, 4.0, (64, 128))
    assert sharp.shape == (64, 128) and blurred.max() == 1.0
    assert (blurred > 0.5).sum() > (sharp > 0.5).sum()


def test_evenly_spaced_is_deterministic_and_covers_the_list():
    items = list(range(100))
    picked = evenly_spaced(items, 5)
    assert picked == [0, 25, 50, 74, 99] and evenly_spaced(items, None) == items


def test_report_table_and_figure():
    report = {
        "slices": 4,
        "called_tumour": 3,
        "scored": 3,
        "uniform_map_mass_inside": 0.02,
        "classifier": {"name": "clf", "version": "1"},
        "variants": {
            SHIPPED.name: {"layer": "block5_conv3", "pointing_game": 0.05, "mass_inside_mean": 0.03,
                           "mass_inside_median": 0.02},
            "Brightness": {"layer": "brightness", "pointing_game": 0.35, "mass_inside_mean": 0.04,
                           "mass_inside_median": 0.03},
        },
    }  # fmt: skip
    text = format_report(report)
    assert "3 slices scored (3 of 4 called tumour)" in text and "5.0%" in text
    image = draw_figure(report)
    assert image.size[0] > 600 and image.getpixel((image.size[0] // 2, image.size[1] // 2)) is not None
