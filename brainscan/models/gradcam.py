"""Grad-CAM (Selvaraju et al., 2017) for the VGG16 classifier, returned on the source slice grid."""

from __future__ import annotations

import numpy as np

from brainscan.models.preprocess import CLASSIFIER_SIZE, preprocess_slice, square_to_source

TARGET_LAYER = "block5_conv3"


def grad_cam(model, pixels: np.ndarray, class_index: int | None = None, layer: str = TARGET_LAYER) -> np.ndarray:
    """Heat map in [0, 1] with the same shape as the 2D ``pixels`` (the slice's own grid).

    Args:
        model: the Keras classifier built by ``build_classifier`` (VGG16 nested as layer "vgg16").
        pixels: one 2D slice (grey or colour), any size, as loaded.
        class_index: class to explain; the predicted class when None.

    Returns:
        float32 array of shape pixels.shape[:2]; zeros when no region supports the class.
    """
    import keras
    import tensorflow as tf

    vgg = model.get_layer("vgg16")
    features = keras.Model(vgg.inputs, [vgg.get_layer(layer).output, vgg.output])
    head = model.layers[model.layers.index(vgg) + 1 :]
    x = tf.convert_to_tensor(preprocess_slice(pixels)[None])
    with tf.GradientTape() as tape:
        conv, out = features(x, training=False)
        for part in head:
            out = part(out, training=False)
        index = int(tf.argmax(out[0])) if class_index is None else int(class_index)
        score = out[:, index]
    grads = tape.gradient(score, conv)
    weights = tf.reduce_mean(grads, axis=(1, 2))  # (1, channels)
    cam = tf.nn.relu(tf.reduce_sum(conv * weights[:, None, None, :], axis=-1))[0].numpy()
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    square = np.asarray(tf.image.resize(cam[..., None], (CLASSIFIER_SIZE, CLASSIFIER_SIZE), method="bilinear")[..., 0])
    return np.clip(square_to_source(square, tuple(np.asarray(pixels).shape[:2])), 0.0, 1.0).astype(np.float32)
