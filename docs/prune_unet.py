"""Structured pruning of the shipped U-Net to a narrower width, and LiteRT timing of U-Net widths.

The tried-and-not-shipped "narrower U-Net for speed" of docs/real-scans.md: every conv keeps the output channels
with the largest batch-norm scale, every upsampling conv the output channels with the largest kernel norm, and each
consumer's input channels are sliced to match (the skip concatenations included). The result is a float16 .npz for
``brainscan train segmenter --base-filters WIDTH --finetune-from OUT.npz``.

    python docs/prune_unet.py --width 12 --out PRUNED.npz     (needs the [train] extras)
    python docs/prune_unet.py --time 16,12,10,8               (ms per slice, 2 views, batch 4, random weights)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from brainscan.config import resources_dir
from brainscan.runtime.keras.unet import build_segmenter, with_gate_features
from brainscan.runtime.keras.weights import load_float16_weights, save_float16_weights

DEPTH = 4


def prune(source: Path, width: int, size: int = 256):
    """A width-``width`` U-Net whose weights are the kept channels of ``source`` (a base-16 U-Net)."""
    big = build_segmenter(size, base=16, depth=DEPTH)
    load_float16_weights(big, source)
    small = build_segmenter(size, base=width, depth=DEPTH)
    weights = {layer.name: layer.get_weights() for layer in big.layers}

    def top(values: np.ndarray, k: int) -> np.ndarray:
        return np.sort(np.argsort(-np.abs(values))[:k])

    def conv_bn(conv: str, bn: str, inputs: np.ndarray, k: int) -> np.ndarray:
        (kernel,), (gamma, beta, mean, var) = weights[conv], weights[bn]
        kept = top(gamma, k)
        small.get_layer(conv).set_weights([kernel[:, :, inputs][:, :, :, kept]])
        small.get_layer(bn).set_weights([gamma[kept], beta[kept], mean[kept], var[kept]])
        return kept

    def block(name: str, inputs: np.ndarray, k: int) -> np.ndarray:
        return conv_bn(f"{name}_conv2", f"{name}_bn2", conv_bn(f"{name}_conv1", f"{name}_bn1", inputs, k), k)

    kept, skips = np.arange(1), []
    for level in range(DEPTH):
        kept = block(f"enc{level + 1}", kept, width * 2**level)
        skips.append(kept)
    kept = block("bottleneck", kept, width * 2**DEPTH)
    for level in reversed(range(DEPTH)):
        kernel, bias = weights[f"up{level + 1}"]  # (2, 2, out, in)
        k = width * 2**level
        norms = np.linalg.norm(np.moveaxis(kernel[:, :, :, kept], 2, 0).reshape(kernel.shape[2], -1), axis=1)
        up = np.sort(np.argsort(-norms)[:k])
        small.get_layer(f"up{level + 1}").set_weights([kernel[:, :, up][:, :, :, kept], bias[up]])
        kept = block(f"dec{level + 1}", np.concatenate([up, kernel.shape[2] + skips[level]]), k)
    kernel, bias = weights["tumour"]
    small.get_layer("tumour").set_weights([kernel[:, :, kept], bias])
    return small


def time_widths(widths: list[int], size: int = 256) -> None:
    from brainscan.runtime.litert_runtime import LiteRTRunner
    from brainscan.training.litert_convert import to_tflite

    batch = np.random.default_rng(0).random((4, size, size, 1)).astype(np.float32)
    for width in widths:
        runner = LiteRTRunner(content=to_tflite(with_gate_features(build_segmenter(size, base=width)), float16=False))
        runner.run(batch)
        best = float("inf")
        for _ in range(7):
            start = time.perf_counter()
            runner.run(batch)
            runner.run(np.ascontiguousarray(batch[:, :, ::-1]))
            best = min(best, time.perf_counter() - start)
        print(f"width {width}: {1000 * best / len(batch):.1f} ms per slice (2 views, batch 4, fastest of 7)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=12)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--source", type=Path, default=resources_dir() / "models" / "segmenter_unet.npz")
    parser.add_argument("--time", help="comma-separated widths to time instead of pruning")
    args = parser.parse_args()
    if args.time:
        time_widths([int(w) for w in args.time.split(",")])
        return 0
    if args.out is None:
        parser.error("--out is required to prune")
    save_float16_weights(prune(args.source, args.width), args.out)
    print(f"wrote {args.out} (width {args.width})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
