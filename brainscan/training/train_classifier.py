"""`brainscan train classifier`: resumable VGG16 training with a checkpoint every epoch.

Run folder layout (``--out``): ``train.log`` (text log), ``history.csv`` (metrics per epoch),
``split.json`` (which files are validation), ``last.keras`` (model + optimizer, for --resume),
``state.json`` (epochs done, best validation accuracy), ``best.weights.h5`` (best validation accuracy),
``cache/`` (decoded, preprocessed pixels).

An "epoch" is ``--steps-per-epoch`` batches (default: one full pass over the training split). On this
2-core CPU a full pass costs about 40 minutes, so shorter epochs give more frequent checkpoints.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from brainscan.runtime.keras.vgg16 import build_classifier
from brainscan.runtime.preprocess import CLASSIFIER_SIZE
from brainscan.training.augment import augmenter
from brainscan.training.dataset import build_cache, duplicate_aware_split, list_class_folders
from brainscan.types import CLASS_NAMES

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from brainscan.config import data_dir

    parser.add_argument("--data", type=Path, default=data_dir() / "classification" / "Training")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--steps-per-epoch", type=int, default=0, help="0 = one full pass")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--init", choices=("scratch", "imagenet"), default="scratch")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--val-fraction", type=float, default=0.15)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--precision", choices=("float32", "mixed_bfloat16"), default="float32")
    add_finetune_arguments(parser, "classifier-pack")


def add_finetune_arguments(parser: argparse.ArgumentParser, pack_command: str) -> None:
    """--volume-pack, --pack-weight and --finetune-from, shared by the classifier and segmenter trainers."""
    parser.add_argument(
        "--volume-pack", type=Path, default=None,
        help=f"slices from whole volumes (`brainscan train {pack_command}`): its train part is mixed into training, "
        "its held-out part into validation",
    )  # fmt: skip
    parser.add_argument("--pack-weight", type=float, default=0.5, help="share of each batch drawn from the pack")
    parser.add_argument("--finetune-from", type=Path, default=None, help="start from these float16 .npz weights")


def make_datasets(pixels, labels, train_idx, val_idx, batch_size, seed, pack=None, pack_weight=0.5):
    """Augmented, endless training batches and fixed validation batches.

    With a volume ``pack`` each training example is drawn from the pack with probability ``pack_weight`` (else
    from Training), and the pack's held-out slices are appended to validation.
    """
    import tensorflow as tf

    aug = augmenter(seed)

    def to_rgb(x):
        return tf.repeat(tf.clip_by_value(x, 0.0, 1.0), 3, axis=-1)

    x_train = pixels[train_idx][..., None]
    examples = (
        tf.data.Dataset.from_tensor_slices((x_train, labels[train_idx]))
        .shuffle(len(train_idx), seed=seed, reshuffle_each_iteration=True)
        .repeat()
    )
    val_x, val_y = pixels[val_idx][..., None], labels[val_idx]
    if pack is not None:
        chosen = pack["split"] == "train"
        from_pack = (
            tf.data.Dataset.from_tensor_slices((pack["images"][chosen][..., None], pack["labels"][chosen]))
            .shuffle(int(chosen.sum()), seed=seed + 1, reshuffle_each_iteration=True)
            .repeat()
        )
        examples = tf.data.Dataset.sample_from_datasets(
            [examples, from_pack], weights=[1.0 - pack_weight, pack_weight], seed=seed
        )
        held = pack["split"] == "val"
        val_x = np.concatenate([val_x, pack["images"][held][..., None]])
        val_y = np.concatenate([val_y, pack["labels"][held]])
    train = (
        examples.batch(batch_size, drop_remainder=True)
        .map(
            lambda x, y: (to_rgb(aug(tf.cast(x, tf.float32), training=True)), y),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(2)
    )
    val = (
        tf.data.Dataset.from_tensor_slices((val_x, val_y))
        .batch(64)
        .map(lambda x, y: (to_rgb(tf.cast(x, tf.float32)), y))
        .prefetch(2)
    )
    return train, val


class RunState:
    """Checkpoint bookkeeping in ``state.json``: completed epochs and best validation accuracy."""

    def __init__(self, out: Path):
        self.file = out / "state.json"
        self.data = json.loads(self.file.read_text()) if self.file.exists() else {"epoch": 0, "best_val_accuracy": 0.0}

    def save(self) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2))
        tmp.replace(self.file)


def make_checkpoint_callback(out: Path, state: RunState, images_per_epoch: int, monitor: str = "val_accuracy"):
    """Per-epoch checkpointing shared by the classifier and segmenter runs (higher ``monitor`` is better)."""
    import keras

    best_key = f"best_{monitor}"

    class Checkpoint(keras.callbacks.Callback):
        """Saves last.keras and state.json atomically each epoch; best weights on improvement."""

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            seconds = time.time() - self.started
            val_acc = float(logs.get(monitor, 0.0))
            if val_acc > state.data.get(best_key, 0.0):
                state.data[best_key] = val_acc
                state.data["best_epoch"] = epoch + 1
                self.model.save_weights(out / "best.weights.h5")
            from brainscan.runtime.keras.weights import save_float16_weights

            (out / "epochs").mkdir(exist_ok=True)
            save_float16_weights(self.model, out / "epochs" / f"e{epoch + 1:03d}.npz")
            tmp = out / "last.tmp.keras"
            self.model.save(tmp)
            tmp.replace(out / "last.keras")
            state.data["epoch"] = epoch + 1
            state.save()
            log.info(
                "epoch %d: loss %.4f val_loss %.4f %s %.4f | %.0f s, %.2f img/s",
                epoch + 1,
                logs.get("loss", math.nan),
                logs.get("val_loss", math.nan),
                monitor,
                val_acc,
                seconds,
                images_per_epoch / seconds,
            )

    return Checkpoint()


def configure_run_logging(out: Path) -> None:
    """Log to ``out/train.log`` and to stderr (progress and throughput)."""
    out.mkdir(parents=True, exist_ok=True)
    for handler in (logging.FileHandler(out / "train.log"), logging.StreamHandler()):
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)


def fit_run(model, train_ds, val_ds, out: Path, state: RunState, epochs: int, steps: int, batch_size: int,
            monitor: str = "val_accuracy") -> None:  # fmt: skip
    """model.fit from the run's saved epoch, with the CSV log and per-epoch checkpoints."""
    import keras

    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        initial_epoch=state.data["epoch"],
        steps_per_epoch=steps,
        verbose=2,
        callbacks=[
            keras.callbacks.CSVLogger(str(out / "history.csv"), append=True),
            make_checkpoint_callback(out, state, steps * batch_size, monitor=monitor),
        ],
    )


def train(args: argparse.Namespace) -> Path:
    """Train (or resume) and return the run folder."""
    import keras

    out: Path = args.out
    configure_run_logging(out)

    data = list_class_folders(args.data)
    split_file = out / "split.json"
    if split_file.exists():
        split = json.loads(split_file.read_text())
        train_idx, val_idx = np.asarray(split["train"]), np.asarray(split["val"])
    else:
        train_idx, val_idx = duplicate_aware_split(data, args.val_fraction, args.seed)
        split_file.write_text(
            json.dumps(
                {
                    "data": str(args.data),
                    "seed": args.seed,
                    "val_fraction": args.val_fraction,
                    "classes": list(CLASS_NAMES),
                    "val_files": [str(data.paths[i].relative_to(args.data)) for i in val_idx],
                    "train": train_idx.tolist(),
                    "val": val_idx.tolist(),
                }
            )
        )
    log.info("train %d, validation %d images from %s", len(train_idx), len(val_idx), args.data)
    pixels = build_cache(data, CLASSIFIER_SIZE, out / "cache" / "pixels.npy")

    keras.mixed_precision.set_global_policy(args.precision)
    steps = args.steps_per_epoch or len(train_idx) // args.batch_size
    pack = dict(np.load(args.volume_pack)) if getattr(args, "volume_pack", None) else None
    if pack is not None:
        log.info("volume pack %s: %d train, %d held-out slices", args.volume_pack,
                 int((pack["split"] == "train").sum()), int((pack["split"] == "val").sum()))  # fmt: skip
    train_ds, val_ds = make_datasets(
        pixels, data.labels, train_idx, val_idx, args.batch_size, args.seed, pack, getattr(args, "pack_weight", 0.5)
    )
    state = RunState(out)
    if args.resume and (out / "last.keras").exists():
        model = keras.models.load_model(out / "last.keras")
        log.info("resumed from epoch %d", state.data["epoch"])
    else:
        state.data = {"epoch": 0, "best_val_accuracy": 0.0}
        model = build_classifier(args.init, args.seed)
        if getattr(args, "finetune_from", None):
            from brainscan.runtime.keras.weights import load_float16_weights

            load_float16_weights(model, args.finetune_from)
            log.info("fine-tuning from %s", args.finetune_from)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=args.epochs * steps, warmup_target=args.lr, warmup_steps=min(300, steps * 2)
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    state.data.update(
        {
            "epochs_planned": args.epochs,
            "steps_per_epoch": steps,
            "batch_size": args.batch_size,
            "init": args.init,
            "seed": args.seed,
            "lr": args.lr,
            "precision": args.precision,
            "volume_pack": str(args.volume_pack) if getattr(args, "volume_pack", None) else None,
            "pack_weight": getattr(args, "pack_weight", None),
            "finetune_from": str(args.finetune_from) if getattr(args, "finetune_from", None) else None,
        }
    )
    state.save()
    fit_run(model, train_ds, val_ds, out, state, args.epochs, steps, args.batch_size)
    return out
