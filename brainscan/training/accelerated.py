"""Train the shipped architectures with Keras 3 on JAX (or PyTorch): for a lent GPU machine without TensorFlow.

Why: the GPU machine this project is sometimes lent has JAX and PyTorch but no TensorFlow, no network, and
takes at most 64 MiB of files. So training there goes in three steps
(``python -m brainscan.training.accelerated <step>``):

``pack`` (here)
    a run's split plus the preprocessed pixels ``brainscan train`` caches -> one ``.npz`` of WebP blobs
    (quality 90: mean absolute error about 1.3 grey levels of 255; 5712 classifier slices pack to ~22 MB).
    Keep it in a git-ignored folder: it is a copy of the data and must never be committed.
``train`` (GPU machine)
    a fixed wall-clock budget: warmup, then cosine decay planned from the measured epoch time; the weights
    are written every few epochs as float16 shards (<= 12 MB each) with a JSON-lines history beside them.
``import`` (here)
    shards -> a run folder (best.weights.h5, state.json, split.json, cache/) that
    ``brainscan export classifier|segmenter`` turns into a shipped model and card, measured here.

This module imports only numpy, Pillow, Keras and the model builders: no TensorFlow, no brainscan.io.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

SHARD_BYTES = 12_000_000
WEBP_QUALITY = 90


# ---------------------------------------------------------------- pack (development machine)


def encode_slices(pixels: np.ndarray, quality: int = WEBP_QUALITY) -> tuple[np.ndarray, np.ndarray]:
    """(n, h, w) floats in [0, 1] -> (concatenated WebP bytes, offsets of length n + 1)."""
    blobs = []
    for image in pixels:
        grey = np.round(np.clip(image.astype(np.float32), 0.0, 1.0) * 255).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(grey).save(buffer, "WEBP", quality=quality, method=6)
        blobs.append(np.frombuffer(buffer.getvalue(), np.uint8))
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    return np.concatenate(blobs), offsets


def decode_slices(blob: np.ndarray, offsets: np.ndarray, threads: int = 8) -> np.ndarray:
    """Inverse of encode_slices: (n, h, w) float32 in [0, 1]."""

    def one(i: int) -> np.ndarray:
        with Image.open(io.BytesIO(blob[offsets[i] : offsets[i + 1]].tobytes())) as img:
            return np.asarray(img.convert("L"))

    with ThreadPoolExecutor(threads) as pool:
        grey = np.stack(list(pool.map(one, range(len(offsets) - 1))))
    return grey.astype(np.float32) / 255.0


def pack_classifier(run: Path, out: Path) -> dict:
    """Pack a classifier run's split and cached pixels (``run/cache/pixels.npy``) into ``out``."""
    from brainscan.training.export_classifier import _labels

    split = json.loads((run / "split.json").read_text())
    pixels = np.load(run / "cache" / "pixels.npy")
    blob, offsets = encode_slices(pixels)
    arrays = {"kind": np.array("classifier"), "blob": blob, "offsets": offsets, "labels": _labels(split),
              "train": np.asarray(split["train"]), "val": np.asarray(split["val"])}  # fmt: skip
    return _save_pack(out, arrays)


def pack_segmenter(run: Path, cache: Path, out: Path, empty_from: Path | None = None, empty_limit: int = 0) -> dict:
    """Pack a segmenter run's split with a cache of slices and masks (``images.npy``, ``masks.npy``) at the
    size to train at (``brainscan train segmenter --size N`` writes one into its run's ``cache/``).

    ``empty_from``: a classifier run whose *training* split's ``notumor`` slices are added to the segmenter's
    training set with empty masks (so it learns to outline nothing; validation stays the tumour slices).
    """
    split = json.loads((run / "split.json").read_text())
    images, masks = np.load(cache / "images.npy"), np.load(cache / "masks.npy")
    needed = max(max(split["train"]), max(split["val"])) + 1
    if len(images) < needed or images.shape != masks.shape:
        raise SystemExit(f"error: {cache} holds {images.shape} slices, {masks.shape} masks; the split needs {needed}.")
    train = list(split["train"])
    if empty_from is not None:
        empty = notumor_training_slices(empty_from, images.shape[1], empty_limit)
        train += range(len(images), len(images) + len(empty))
        images = np.concatenate([images.astype(np.float32), empty])
        masks = np.concatenate([masks, np.zeros(empty.shape, masks.dtype)])
    blob, offsets = encode_slices(images)
    arrays = {"kind": np.array("segmenter"), "blob": blob, "offsets": offsets,
              "mask_bits": np.packbits(masks.astype(bool)), "mask_shape": np.asarray(masks.shape),
              "train": np.asarray(train), "val": np.asarray(split["val"])}  # fmt: skip
    return _save_pack(out, arrays)


def notumor_training_slices(classifier_run: Path, size: int, limit: int = 0) -> np.ndarray:
    """The ``notumor`` slices of a classifier run's training split, preprocessed like the app at ``size``."""
    from brainscan.rules import NOTUMOR_INDEX
    from brainscan.runtime.preprocess import preprocess_gray
    from brainscan.training.dataset import list_class_folders, read_image

    split = json.loads((classifier_run / "split.json").read_text())
    data = list_class_folders(Path(split["data"]))
    chosen = [i for i in split["train"] if data.labels[i] == NOTUMOR_INDEX]
    if limit:
        chosen = chosen[:: max(1, len(chosen) // limit)][:limit]
    return np.stack([preprocess_gray(read_image(data.paths[i]), size) for i in chosen]).astype(np.float32)


def unpack_masks(pack: dict) -> np.ndarray:
    """The (n, h, w) 0/1 masks a segmenter pack stores as packed bits."""
    shape = tuple(int(d) for d in pack["mask_shape"])
    return np.unpackbits(pack["mask_bits"])[: int(np.prod(shape))].reshape(shape)


def _save_pack(out: Path, arrays: dict) -> dict:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as handle:
        np.savez_compressed(handle, **arrays)  # the mask bits compress ~50x
    return {"file": str(out), "megabytes": round(out.stat().st_size / 1e6, 1), "slices": len(arrays["offsets"]) - 1}


# ---------------------------------------------------------------- train (GPU machine)


def lr_at(epoch: int, peak: float, warmup: int, total: int) -> float:
    """Linear warmup over ``warmup`` epochs, then cosine decay that reaches ~0 at epoch ``total``."""
    if epoch < warmup:
        return peak * (epoch + 1) / warmup
    progress = min(1.0, (epoch - warmup) / max(1, total - warmup))
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def plan_epochs(done: int, seconds_left: float, seconds_per_epoch: float, max_epochs: int) -> int:
    """How many epochs in all fit the remaining time (keeping 5 % in hand): at least one more, at most the cap."""
    more = int(0.95 * seconds_left / max(seconds_per_epoch, 1e-6))
    return min(max_epochs, max(done + 1, done + more))


def write_shards(weights: list, out: Path, stem: str, max_bytes: int = SHARD_BYTES) -> list[Path]:
    """Float16 copies of ``model.get_weights()`` in files of at most ``max_bytes`` (the GPU machine returns
    files of 16 MiB at most); written under temporary names, then renamed, so a reader never sees half."""
    groups: list[dict] = [{}]
    size = 0
    for index, weight in enumerate(weights):
        array = np.asarray(weight, dtype=np.float16)
        if groups[-1] and size + array.nbytes > max_bytes:
            groups.append({})
            size = 0
        groups[-1][f"w{index:03d}"] = array
        size += array.nbytes
    paths = []
    for number, group in enumerate(groups):
        path = out / f"{stem}_{number}.npz"
        tmp = out / f".{stem}_{number}.tmp"
        with open(tmp, "wb") as handle:
            np.savez(handle, **group)
        tmp.replace(path)
        paths.append(path)
    return paths


def read_shards(folder: Path, stem: str) -> list[np.ndarray]:
    """Inverse of write_shards: float32 arrays in model.get_weights() order."""
    arrays: dict[str, np.ndarray] = {}
    for path in sorted(folder.glob(f"{stem}_*.npz")):
        with np.load(path) as data:
            arrays.update({key: data[key].astype(np.float32) for key in data.files})
    if not arrays:
        raise SystemExit(f"error: no {stem}_*.npz weight shards in {folder}")
    keys = sorted(arrays)
    if keys != [f"w{i:03d}" for i in range(len(keys))]:
        raise SystemExit(f"error: the {stem} shards in {folder} are incomplete ({len(keys)} arrays, gaps)")
    return [arrays[key] for key in keys]


def budget_callback(out: Path, stem: str, weights_of, peak_lr: float, warmup: int, deadline: float,
                    max_epochs: int, save_every: int, meta: dict):  # fmt: skip
    """One callback: learning rate per epoch, epoch planning from measured time, history, shards."""
    import keras

    history = out / f"{stem}_history.jsonl"
    history.write_text(json.dumps({"meta": meta}) + "\n")
    plan = {"total": max_epochs, "fixed": False}

    class Budget(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()
            self.model.optimizer.learning_rate = lr_at(epoch, peak_lr, warmup, plan["total"])

        def on_epoch_end(self, epoch, logs=None):
            now = time.time()
            seconds = now - self.started
            done = plan["done"] = epoch + 1
            if not plan["fixed"] and done >= 2:  # epoch 1 includes compilation
                plan["total"] = plan_epochs(done, deadline - now, seconds, max_epochs)
                plan["fixed"] = done >= warmup
            last = done >= plan["total"] or now + 1.5 * seconds > deadline
            row = {key: float(value) for key, value in (logs or {}).items()}
            row["lr_used"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            row.update(epoch=done, seconds=round(seconds, 2), planned=plan["total"],
                       lr=lr_at(epoch, peak_lr, warmup, plan["total"]))  # fmt: skip
            with open(history, "a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"{stem} epoch {done}/{plan['total']}: {row}", flush=True)
            if last or done % save_every == 0:
                write_shards(weights_of(), out, stem)
                self.saved = done
            if last:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            if getattr(self, "saved", None) != plan.get("done"):
                write_shards(weights_of(), out, stem)  # fit ran out of epochs between saves

    return Budget()


def shuffled_batches(x_train: np.ndarray, y_train: np.ndarray, batch_size: int, seed: int, augment):
    """A Keras PyDataset of shuffled, host-augmented batches (``augment(x, y, rng) -> (x, y)``); each batch's
    randomness is fixed by (seed, epoch, index), so worker threads need no shared random state."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=6, use_multiprocessing=False, max_queue_size=24)
            self.epoch = 0
            self.order = np.random.default_rng((seed, 0)).permutation(len(x_train))

        def __len__(self):
            return len(x_train) // batch_size

        def __getitem__(self, index):
            rng = np.random.default_rng((seed, self.epoch, index))
            chosen = self.order[index * batch_size : (index + 1) * batch_size]
            return augment(x_train[chosen], y_train[chosen], rng)

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng((seed, self.epoch)).permutation(len(x_train))

    return Batches()


def train_classifier_pack(pack: dict, args: argparse.Namespace) -> None:
    import keras
    from keras import ops

    from brainscan.runtime.keras.vgg16 import build_classifier
    from brainscan.training.augment import augment_classifier_batch

    pixels = decode_slices(pack["blob"], pack["offsets"])
    labels = pack["labels"]
    train, val = pack["train"], pack["val"]

    class GreyToRGB(keras.layers.Layer):
        def call(self, x):
            return ops.repeat(ops.clip(x, 0.0, 1.0), 3, axis=-1)

    classifier = build_classifier("scratch", args.seed)
    if args.init_weights:
        with np.load(args.init_weights) as data:
            classifier.set_weights([data[key].astype(np.float32) for key in sorted(data.files)])
    inputs = keras.Input((*pixels.shape[1:], 1))
    trainer = keras.Model(inputs, classifier(GreyToRGB()(inputs)))
    trainer.compile(optimizer=keras.optimizers.Adam(args.lr), loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"])  # fmt: skip

    def augment(x, y, rng):
        return augment_classifier_batch(x, rng)[..., None], y

    batches = shuffled_batches(pixels[train], labels[train], args.batch_size, args.seed, augment)
    _fit(trainer, classifier, "classifier", args, batches, (pixels[val][..., None], labels[val]))


def train_segmenter_pack(pack: dict, args: argparse.Namespace) -> None:
    import keras

    from brainscan.runtime.keras.unet import build_segmenter
    from brainscan.training.augment import augment_segmentation_batch
    from brainscan.training.losses import dice_bce_loss, dice_metric

    images = decode_slices(pack["blob"], pack["offsets"])
    masks = unpack_masks(pack)
    train, val = pack["train"], pack["val"]

    def augment(x, y, rng):
        x, y = augment_segmentation_batch(x, y, rng)
        return x[..., None], y[..., None]

    model = build_segmenter(images.shape[1], base=args.base_filters, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(args.lr), loss=dice_bce_loss, metrics=[dice_metric()])
    validation = (images[val][..., None], masks[val][..., None].astype(np.float32))
    _fit(model, model, "segmenter", args, shuffled_batches(images[train], masks[train], args.batch_size,
                                                          args.seed, augment), validation)  # fmt: skip


def _fit(trainer, shipped, stem: str, args: argparse.Namespace, train_data, validation) -> None:
    import keras

    n_train = len(train_data) * args.batch_size
    meta = {"kind": stem, "backend": keras.backend.backend(), "keras": keras.__version__,
            "device": _device_name(), "batch_size": args.batch_size, "lr": args.lr, "warmup": args.warmup,
            "seed": args.seed, "budget_s": args.budget_s, "max_epochs": args.max_epochs,
            "n_train": n_train, "init_weights": str(getattr(args, "init_weights", None) or "")}  # fmt: skip
    if stem == "segmenter":
        meta.update(size=int(validation[0].shape[1]), base_filters=args.base_filters)
    callback = budget_callback(args.out, stem, shipped.get_weights, args.lr, args.warmup,
                               args.started + args.budget_s, args.max_epochs, args.save_every, meta)  # fmt: skip
    trainer.fit(train_data, epochs=args.max_epochs, validation_data=validation, callbacks=[callback], verbose=0)


def _device_name() -> str:
    try:
        import keras

        if keras.backend.backend() == "jax":
            import jax

            return str(jax.devices()[0].device_kind)
        if keras.backend.backend() == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception as exc:  # noqa: BLE001 - a name for the log only
        return f"unknown ({exc})"
    return keras.backend.backend()


# ---------------------------------------------------------------- import (development machine)


def import_run(kind: str, shards: Path, from_run: Path, run: Path) -> dict:
    """Shards + history from the GPU machine -> a run folder for ``brainscan export``, with the split (and,
    for the classifier, the pixel cache) of ``from_run``, the run that was packed."""
    rows = [json.loads(line) for line in (shards / f"{kind}_history.jsonl").read_text().splitlines() if line]
    meta, epochs = rows[0]["meta"], rows[1:]
    if not epochs:
        raise SystemExit(f"error: {shards}/{kind}_history.jsonl records no finished epoch")
    weights = read_shards(shards, kind)
    if kind == "classifier":
        from brainscan.runtime.keras.vgg16 import build_classifier

        model = build_classifier("scratch")
    else:
        from brainscan.runtime.keras.unet import build_segmenter

        model = build_segmenter(meta["size"], base=meta["base_filters"])
    model.set_weights(weights)
    run.mkdir(parents=True, exist_ok=True)
    model.save_weights(run / "best.weights.h5")
    shutil.copy(from_run / "split.json", run / "split.json")
    if kind == "classifier":
        (run / "cache").mkdir(exist_ok=True)
        for name in ("pixels.npy", "pixels.json"):
            shutil.copy(from_run / "cache" / name, run / "cache" / name)
    shutil.copy(shards / f"{kind}_history.jsonl", run / "history.jsonl")
    last = epochs[-1]
    monitor = "val_accuracy" if kind == "classifier" else "val_dice"
    state = {"epoch": last["epoch"], "epochs_planned": last["planned"], "best_epoch": last["epoch"],
             f"best_{monitor}": last.get(monitor), "steps_per_epoch": meta["n_train"] // meta["batch_size"],
             "batch_size": meta["batch_size"], "lr": meta["lr"], "seed": meta["seed"], "init": "scratch",
             "precision": "float32", "hardware": f"{meta['device']}, Keras {meta['keras']} "
             f"{meta['backend']} backend (brainscan.training.accelerated), {meta['budget_s']} s budget",
             "weights_taken": "last epoch (no selection on validation)",
             "continued_from": meta.get("init_weights") or None}  # fmt: skip
    if kind == "segmenter":
        state.update(size=meta["size"], base_filters=meta["base_filters"])
    (run / "state.json").write_text(json.dumps(state, indent=2))
    return state


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m brainscan.training.accelerated", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    steps = parser.add_subparsers(dest="step", required=True)
    pack = steps.add_parser("pack", help="run folder -> packed .npz (development machine)")
    pack.add_argument("kind", choices=("classifier", "segmenter"))
    pack.add_argument("--run", type=Path, required=True, help="run whose split.json (and cache) to pack")
    pack.add_argument("--cache", type=Path, help="segmenter: folder with images.npy/masks.npy at the train size")
    pack.add_argument("--out", type=Path, required=True)
    pack.add_argument("--empty-from", type=Path, help="segmenter: add this classifier run's training notumor slices")
    pack.add_argument("--empty-limit", type=int, default=0, help="at most this many of them (0 = all)")
    train = steps.add_parser("train", help="train from a pack (GPU machine)")
    train.add_argument("--pack", type=Path, required=True)
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--budget-s", type=float, required=True, help="wall-clock seconds from start to last epoch")
    train.add_argument("--max-epochs", type=int, default=300)
    train.add_argument("--batch-size", type=int, default=64)
    train.add_argument("--lr", type=float, default=1e-4)
    train.add_argument("--warmup", type=int, default=3, help="epochs of linear warmup")
    train.add_argument("--base-filters", type=int, default=16)
    train.add_argument("--save-every", type=int, default=5)
    train.add_argument("--seed", type=int, default=1337)
    train.add_argument("--init-weights", type=Path, help="classifier: start from these float16 .npz weights")
    train.add_argument("--limit", type=int, default=0, help="smoke test: at most N training and N validation slices")
    imp = steps.add_parser("import", help="shards -> run folder for brainscan export (development machine)")
    imp.add_argument("kind", choices=("classifier", "segmenter"))
    imp.add_argument("--shards", type=Path, required=True, help="folder the GPU machine's files came back to")
    imp.add_argument("--from-run", type=Path, required=True, help="the run that was packed")
    imp.add_argument("--run", type=Path, required=True, help="new run folder")
    args = parser.parse_args(argv)
    if args.step == "pack":
        if args.kind == "classifier":
            print(json.dumps(pack_classifier(args.run, args.out)))
        else:
            if args.cache is None:
                parser.error("pack segmenter needs --cache")
            print(json.dumps(pack_segmenter(args.run, args.cache, args.out, args.empty_from, args.empty_limit)))
    elif args.step == "train":
        args.started = time.time()
        args.out.mkdir(parents=True, exist_ok=True)
        with np.load(args.pack) as data:
            pack_arrays = {key: data[key] for key in data.files}
        kind = str(pack_arrays["kind"])
        if args.limit:
            pack_arrays["train"], pack_arrays["val"] = (
                pack_arrays["train"][: args.limit],
                pack_arrays["val"][: args.limit],
            )
        print(f"{kind}: read pack in {time.time() - args.started:.1f} s; backend "
              f"{os.environ.get('KERAS_BACKEND', 'default')}", flush=True)  # fmt: skip
        (train_classifier_pack if kind == "classifier" else train_segmenter_pack)(pack_arrays, args)
    else:
        print(json.dumps(import_run(args.kind, args.shards, args.from_run, args.run), indent=2))


if __name__ == "__main__":
    main()
