"""Model factories for batch workers (named as "module:function", so spawned processes and Dask workers can
load them): the fake models of tests/fakes.py, with a per-call delay from BRAINSCAN_TEST_MODEL_DELAY, and every
load recorded as one line (the process id) in BRAINSCAN_TEST_MODEL_LOADS when that is set."""

from __future__ import annotations

import os

from brainscan.errors import ModelError
from brainscan.runtime.loading import LoadedModels
from tests.fakes import FakeClassifier, FakeSegmenter


def _record_load() -> None:
    log = os.environ.get("BRAINSCAN_TEST_MODEL_LOADS")
    if log:
        with open(log, "a") as handle:
            handle.write(f"{os.getpid()}\n")


def fake_models() -> LoadedModels:
    _record_load()
    delay = float(os.environ.get("BRAINSCAN_TEST_MODEL_DELAY", "0"))
    return LoadedModels(FakeClassifier(delay=delay), FakeSegmenter())


def broken_models() -> LoadedModels:
    raise ModelError("The model card classifier_vgg16.json is missing; no trained model is installed.")


class _CrashOnFiveSlices(FakeClassifier):
    """Kills its own process (as a crash in native code or the out-of-memory killer would) on a 5-slice series."""

    def predict(self, slices, batch_size: int = 32):
        if len(slices) == 5:
            os._exit(3)
        return super().predict(slices, batch_size)


def crashing_models() -> LoadedModels:
    _record_load()
    return LoadedModels(_CrashOnFiveSlices(), FakeSegmenter())
