"""Grad-CAM (Selvaraju et al., 2017) for the VGG16 classifier, returned on the source slice grid.

Two routes to the same heat map:

- ``brainscan.runtime.keras.gradcam.grad_cam(model, pixels)``: the Keras model, gradients from
  ``tf.GradientTape`` (needs TensorFlow);
- ``grad_cam_from_activations(activations, head, pixels)``: block5_conv3 activations from any runtime (the
  LiteRT model outputs them) and the classifier head's weights; the gradient of the class score is computed in
  numpy through block5_pool, Flatten, Dense(128, relu) and the last Dense. No TensorFlow.

The class score is the class's logit (the last Dense before its softmax), as in the paper. Why not the
probability: when the model is sure (p = 0.999998), d p / d logits = p (1 - p) is about 1e-6 and float32
rounding of 1 - p alone moves the map by a few per cent; the logit's gradient does not vanish.

Both end in ``cam_from_gradients``, the one post-processing (channel weights = spatial mean of the gradients,
ReLU of the weighted sum, peak-normalised, resized bilinearly to the 128 px model grid, mapped back onto the
slice), so the two routes differ only by float rounding. This module never imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from brainscan.runtime.preprocess import CLASSIFIER_SIZE, square_to_source

TARGET_LAYER = "block5_conv3"
#: Keys of the classifier head weights used by ``head_gradient`` (Dense(128, relu) then Dense(4, softmax)).
HEAD_KEYS = ("dense_1_kernel", "dense_1_bias", "probabilities_kernel", "probabilities_bias")


def cam_from_gradients(activations: np.ndarray, gradients: np.ndarray, source_shape: tuple[int, int]) -> np.ndarray:
    """Grad-CAM post-processing shared by every runtime.

    Args:
        activations: (h, w, channels) target-layer activations for one slice.
        gradients: d score / d activations, same shape.
        source_shape: (rows, cols) of the slice the map is drawn on.

    Returns:
        float32 map of ``source_shape`` in [0, 1]; zeros when no region supports the class.
    """
    activations = np.asarray(activations, dtype=np.float32)
    weights = np.mean(np.asarray(gradients, dtype=np.float32), axis=(0, 1))  # (channels,)
    cam = np.maximum(np.sum(activations * weights[None, None, :], axis=-1), 0.0)
    peak = float(cam.max())
    cam = cam / peak if peak > 0 else np.zeros_like(cam)
    square = resize_bilinear(cam, CLASSIFIER_SIZE)
    return np.clip(square_to_source(square, source_shape), 0.0, 1.0).astype(np.float32)


def resize_bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Resize a 2D map to (size, size) as ``tf.image.resize(method="bilinear")`` does (half-pixel centres).

    Exact for upsampling, which is how Grad-CAM uses it (TensorFlow only antialiases when asked to).
    """
    image = np.asarray(image, dtype=np.float32)

    def axis(n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        position = (np.arange(size, dtype=np.float32) + 0.5) * np.float32(n_in / size) - 0.5
        floor = np.floor(position)
        lower = np.clip(floor, 0, n_in - 1).astype(np.intp)
        upper = np.clip(floor + 1, 0, n_in - 1).astype(np.intp)
        return lower, upper, (position - floor).astype(np.float32)

    y0, y1, fy = axis(image.shape[0])
    x0, x1, fx = axis(image.shape[1])
    top = image[y0][:, x0] + (image[y0][:, x1] - image[y0][:, x0]) * fx[None, :]
    bottom = image[y1][:, x0] + (image[y1][:, x1] - image[y1][:, x0]) * fx[None, :]
    return (top + (bottom - top) * fy[:, None]).astype(np.float32)


def max_pool_2x2(activations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling, stride 2, of an (h, w, c) map; returns the pooled map and the argmax per window.

    The argmax indexes the window in row-major order (0 top-left .. 3 bottom-right); on ties it is the first
    maximum in that order, as TensorFlow's CPU MaxPoolGrad routes the gradient.
    """
    h, w, c = activations.shape
    windows = activations.reshape(h // 2, 2, w // 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(h // 2, w // 2, 4, c)
    argmax = windows.argmax(axis=2)
    return np.take_along_axis(windows, argmax[:, :, None, :], axis=2)[:, :, 0, :], argmax


def head_gradient(
    activations: np.ndarray, head: Mapping[str, np.ndarray], class_index: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """d logit[class] / d block5_conv3 activations through block5_pool, Flatten, Dense(relu), the last Dense.

    Args:
        activations: (8, 8, 512) block5_conv3 activations of one slice.
        head: the head weights under ``HEAD_KEYS`` (kernels as (inputs, units), as Keras stores them).
        class_index: class whose logit is differentiated; the most probable class when None.

    Returns:
        (gradient shaped like ``activations`` (float64), head probabilities (4,), class index used).
    """
    a = np.asarray(activations, dtype=np.float64)
    w1, b1, w2, b2 = (np.asarray(head[k], dtype=np.float64) for k in HEAD_KEYS)
    pooled, argmax = max_pool_2x2(a)
    pre = pooled.reshape(-1) @ w1 + b1
    hidden = np.maximum(pre, 0.0)
    logits = hidden @ w2 + b2
    exp = np.exp(logits - logits.max())
    probs = exp / exp.sum()
    index = int(np.argmax(probs)) if class_index is None else int(class_index)
    d_logits = np.zeros_like(probs)
    d_logits[index] = 1.0  # the score is the chosen class's logit
    d_pre = (w2 @ d_logits) * (hidden > 0)  # ReLU passes the gradient where its output is positive
    d_pooled = (w1 @ d_pre).reshape(pooled.shape)
    h, w, c = a.shape
    d_windows = np.zeros((h // 2, w // 2, 4, c))
    np.put_along_axis(d_windows, argmax[:, :, None, :], d_pooled[:, :, None, :], axis=2)
    d_a = d_windows.reshape(h // 2, w // 2, 2, 2, c).transpose(0, 2, 1, 3, 4).reshape(h, w, c)
    return d_a, probs, index


def grad_cam_from_activations(
    activations: np.ndarray, head: Mapping[str, np.ndarray], pixels_shape: tuple[int, ...], class_index: int | None
) -> np.ndarray:
    """Grad-CAM without TensorFlow, from block5_conv3 activations (8, 8, 512) and the head weights.

    Returns:
        float32 map of ``pixels_shape[:2]`` in [0, 1], as ``grad_cam`` computes it.
    """
    gradients, _, _ = head_gradient(activations, head, class_index)
    return cam_from_gradients(activations, gradients, tuple(pixels_shape[:2]))
