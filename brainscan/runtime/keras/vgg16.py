"""The VGG16 tumour classifier network (Keras), built exactly as in the seed design."""

from __future__ import annotations

from brainscan.types import CLASS_NAMES

INPUT_SHAPE = (128, 128, 3)
TRAINABLE_BLOCK = "block5"


def build_classifier(init: str = "scratch", seed: int = 1337):
    """Build VGG16(include_top=False) + Flatten, Dropout(0.3), Dense(128, relu), Dropout(0.2), Dense(4).

    Args:
        init: ``"scratch"`` (random weights, every layer trainable; what we ship) or ``"imagenet"``
            (the seed's recipe: ImageNet weights downloaded by Keras, all layers frozen except block5).
        seed: seed for the random initialisation.

    For ``scratch`` the conv kernels are re-drawn with He-normal initialisation (Keras' VGG16 uses
    Glorot-uniform, which suits the pretrained path but starves 13 stacked ReLU layers trained from
    zero). The layers, shapes and names are unchanged.

    Raises:
        ValueError: for an unknown ``init``.
    """
    if init not in ("scratch", "imagenet"):
        raise ValueError(f"init must be 'scratch' or 'imagenet', not {init!r}")
    import keras

    keras.utils.set_random_seed(seed)
    weights = "imagenet" if init == "imagenet" else None
    base = keras.applications.VGG16(include_top=False, input_shape=INPUT_SHAPE, weights=weights)
    if init == "imagenet":
        for layer in base.layers:
            layer.trainable = layer.name.startswith(TRAINABLE_BLOCK)
    else:
        for number, layer in enumerate(base.layers):
            if isinstance(layer, keras.layers.Conv2D):
                # one seeded initializer per layer: a shared seeded initializer repeats the same draw
                he = keras.initializers.HeNormal(seed=seed + number)
                kernel, bias = layer.get_weights()
                layer.set_weights([keras.ops.convert_to_numpy(he(kernel.shape)), bias * 0])
            layer.trainable = True
    model = keras.Sequential(
        [
            keras.Input(shape=INPUT_SHAPE, name="slice"),
            base,
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dropout(0.3, name="dropout_1"),
            keras.layers.Dense(128, activation="relu", name="dense_1"),
            keras.layers.Dropout(0.2, name="dropout_2"),
            keras.layers.Dense(len(CLASS_NAMES), activation="softmax", name="probabilities", dtype="float32"),
        ],
        name="brainscan_vgg16_classifier",
    )
    return model
