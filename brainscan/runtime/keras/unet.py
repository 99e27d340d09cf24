"""Tumour segmentation CNN: a U-Net whose encoder uses VGG-style blocks (two 3x3 convs, then 2x2 pooling).

Why this shape: VGG-style blocks match the classifier's design family; batch normalisation after each conv
lets it train from scratch on a CPU in a few epochs; ``base`` filters 16 (0.1x the width of VGG16) keep one
256x256 slice near 2.6 GFLOP per forward pass. Fully convolutional, so the input size is a training choice
(``brainscan train segmenter --size``; the card's ``input_shape`` records it): smaller inputs train faster,
and predictions are resized back to each slice's own grid.
"""

from __future__ import annotations

SEGMENTER_SIZE = 256


def conv_block(x, filters: int, name: str):
    import keras

    for i in (1, 2):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, kernel_initializer="he_normal", name=f"{name}_conv{i}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"{name}_relu{i}")(x)
    return x


def build_segmenter(size: int = SEGMENTER_SIZE, base: int = 16, depth: int = 4, seed: int = 1337):
    """U-Net: input (size, size, 1) in [0, 1], output (size, size, 1) tumour probability (sigmoid)."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((size, size, 1), name="slice")
    skips = []
    x = inputs
    for level in range(depth):
        x = conv_block(x, base * 2**level, f"enc{level + 1}")
        skips.append(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{level + 1}")(x)
    x = conv_block(x, base * 2**depth, "bottleneck")
    for level in reversed(range(depth)):
        x = keras.layers.Conv2DTranspose(base * 2**level, 2, strides=2, name=f"up{level + 1}")(x)
        x = keras.layers.Concatenate(name=f"skip{level + 1}")([x, skips[level]])
        x = conv_block(x, base * 2**level, f"dec{level + 1}")
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="tumour")(x)
    return keras.Model(inputs, outputs, name="brainscan_unet_segmenter")


def with_gate_features(model):
    """The same U-Net with a second output: the slice gate's network features (n, F), the global mean and max
    of each of ``FEATURE_LAYERS`` (brainscan.runtime.slice_gate) concatenated. No new weights."""
    import keras

    from brainscan.runtime.slice_gate import FEATURE_LAYERS

    pooled = []
    for name in FEATURE_LAYERS:
        activations = model.get_layer(name).output
        pooled.append(keras.layers.GlobalAveragePooling2D(name=f"gate_mean_{name}")(activations))
        pooled.append(keras.layers.GlobalMaxPooling2D(name=f"gate_max_{name}")(activations))
    features = keras.layers.Concatenate(name="gate_features", dtype="float32")(pooled)
    return keras.Model(model.input, [model.output, features], name=f"{model.name}_with_gate_features")
