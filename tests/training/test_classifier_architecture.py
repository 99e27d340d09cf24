"""The classifier is the seed design, layer for layer."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]


def test_scratch_model_matches_seed_design():
    from brainscan.runtime.keras.vgg16 import build_classifier

    model = build_classifier("scratch")
    names = [layer.name for layer in model.layers]
    assert names == ["vgg16", "flatten", "dropout_1", "dense_1", "dropout_2", "probabilities"]
    vgg = model.layers[0]
    assert vgg.layers[-1].output.shape[1:] == (4, 4, 512)
    assert [layer.name for layer in vgg.layers if "conv" in layer.name][-1] == "block5_conv3"
    assert model.layers[2].rate == 0.3 and model.layers[4].rate == 0.2
    assert model.layers[3].units == 128 and model.layers[5].units == 4
    assert model.compute_output_shape((None, 128, 128, 3)) == (None, 4)
    assert all(layer.trainable for layer in vgg.layers)
    assert model.count_params() == 15_763_908
    # layers of the same shape get their own random draw (a shared seeded initializer repeats it)
    import numpy as np

    a, b = vgg.get_layer("block3_conv2").get_weights()[0], vgg.get_layer("block3_conv3").get_weights()[0]
    assert not np.allclose(a, b)


def test_imagenet_mode_freezes_all_but_block5(monkeypatch):
    import keras

    from brainscan.runtime.keras import vgg16

    real_vgg = keras.applications.VGG16

    def offline_vgg(**kwargs):  # no network in tests: same graph, random weights
        kwargs["weights"] = None
        return real_vgg(**kwargs)

    monkeypatch.setattr(keras.applications, "VGG16", offline_vgg)
    model = vgg16.build_classifier("imagenet")
    for layer in model.layers[0].layers:
        assert layer.trainable == layer.name.startswith("block5"), layer.name
