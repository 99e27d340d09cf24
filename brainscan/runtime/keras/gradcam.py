"""Grad-CAM on the Keras classifier: gradients from ``tf.GradientTape`` (needs TensorFlow).

The LiteRT route (``brainscan.runtime.gradcam.grad_cam_from_activations``) computes the same map without
TensorFlow; both end in ``cam_from_gradients``.
"""

from __future__ import annotations

import numpy as np

from brainscan.runtime.gradcam import TARGET_LAYER, cam_from_gradients
from brainscan.runtime.preprocess import preprocess_slice, smooth_batch


def grad_cam(
    model, pixels: np.ndarray, class_index: int | None = None, layer: str = TARGET_LAYER, input_smoothing: float = 0.0
) -> np.ndarray:
    """Heat map in [0, 1] with the same shape as the 2D ``pixels`` (the slice's own grid).

    Args:
        model: the Keras classifier built by ``build_classifier`` (VGG16 nested as layer "vgg16").
        pixels: one 2D slice (grey or colour), any size, as loaded.
        class_index: class to explain; the predicted class when None.
        input_smoothing: the card's input smoothing sigma (``smooth_batch``), so the map explains the input the
            classifier actually read.

    Returns:
        float32 array of shape pixels.shape[:2]; zeros when no region supports the class.
    """
    import keras
    import tensorflow as tf

    vgg = model.get_layer("vgg16")
    features = keras.Model(vgg.input, [vgg.get_layer(layer).output, vgg.output])
    head = model.layers[model.layers.index(vgg) + 1 :]
    x = tf.convert_to_tensor(smooth_batch(preprocess_slice(pixels)[None], input_smoothing))
    *hidden_layers, last = head
    with tf.GradientTape() as tape:
        conv, out = features(x, training=False)
        for part in hidden_layers:
            out = part(out, training=False)
        logits = tf.matmul(out, last.kernel) + last.bias  # the last Dense without its softmax
        index = int(tf.argmax(logits[0])) if class_index is None else int(class_index)
        score = logits[:, index]
    grads = tape.gradient(score, conv)
    return cam_from_gradients(conv[0].numpy(), grads[0].numpy(), tuple(np.asarray(pixels).shape[:2]))
