"""The segmenter's slice gate: slices it rejects get an empty map, others keep theirs; a damaged, mismatched or
missing gate stops loading with a clear message instead of outlining ungated."""

from __future__ import annotations

import json

import numpy as np
import pytest

from brainscan.errors import ModelError
from brainscan.runtime.batching import BatchedSegmenter
from brainscan.runtime.integrity import sha256_of
from brainscan.runtime.slice_gate import MAP_FEATURES, SliceGate, card_slice_gate, map_features
from brainscan.runtime.spec import read_spec
from tests.fakes import write_card

SIZE = 32


class BrightFeature(BatchedSegmenter):
    """Map = the slice itself; one network feature = the slice's mean brightness (what the toy gate reads)."""

    size = SIZE

    def raw_maps_and_features(self, batch):
        maps = batch[..., 0].astype(np.float32)
        return maps, maps.mean(axis=(1, 2))[:, None]


def brightness_gate(threshold: float, views: int = 1) -> SliceGate:
    """Logit = 10 x (mean brightness - 0.3); map features weigh nothing."""
    n = 1 + len(MAP_FEATURES)
    weights = np.zeros(n)
    weights[0] = 10.0
    return SliceGate(np.zeros(n), np.ones(n), weights, -3.0, threshold, views)


def test_map_features_count_outline_sized_components_only():
    maps = np.zeros((3, SIZE, SIZE), np.float32)
    maps[1, 4:14, 4:14] = 0.9  # 100 px outline
    maps[2, 0:2, 0:2] = 0.9  # 4 px speck: under the outline minimum
    features = map_features(maps, 0.4)
    assert features.shape == (3, len(MAP_FEATURES))
    assert features[0].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert features[1, 0] == pytest.approx(0.9) and features[1, 2] == pytest.approx(np.log1p(100))
    assert features[2, 0] == pytest.approx(0.9) and features[2, 2] == 0.0 and features[2, 3] == 0.0


def test_rejected_slices_get_an_empty_map_and_kept_slices_keep_theirs():
    segmenter = BrightFeature()
    segmenter.gate = brightness_gate(threshold=0.0)  # keeps slices brighter than 0.3 on average
    dim = np.zeros((SIZE, SIZE), np.float32)
    dim[8:16, 8:16] = 1.0  # mostly dark: mean brightness about 0.06 after percentile scaling
    bright = 1.0 - dim  # mostly bright: about 0.94
    maps = segmenter.predict([dim, bright])
    assert not maps[0].any()
    assert maps[1].max() > 0.5
    segmenter.gate = None
    assert segmenter.predict([dim])[0].max() > 0.5  # the same slice, ungated, is outlined


def test_a_runtime_without_gate_features_refuses_a_gated_card():
    class NoFeatures(BatchedSegmenter):
        size = SIZE

        def raw_maps(self, batch):
            return batch[..., 0]

    segmenter = NoFeatures()
    segmenter.gate = brightness_gate(0.0)
    with pytest.raises(ModelError, match="export litert"):
        segmenter.predict([np.eye(SIZE, dtype=np.float32)])


def test_gate_features_are_averaged_over_the_views():
    segmenter = BrightFeature()
    segmenter.views = 2
    batch = np.random.default_rng(0).random((2, SIZE, SIZE, 1)).astype(np.float32)
    squares, features = segmenter.averaged_maps_and_features(batch)
    assert np.allclose(squares, batch[..., 0], atol=1e-6)
    assert np.allclose(features[:, 0], batch[..., 0].mean(axis=(1, 2)))


def gated_card(tmp_path, views_in_card: int = 2, views_in_gate: int = 2, corrupt: bool = False):
    gate = brightness_gate(0.5, views_in_gate)
    np.savez(tmp_path / "gate.npz", **gate.as_arrays())
    digest = sha256_of(tmp_path / "gate.npz")
    if corrupt:
        (tmp_path / "gate.npz").write_bytes(b"not a gate")
    entry = {"file": "gate.npz", "sha256": digest, "threshold_logit": 0.5, "views": views_in_gate}
    path = write_card(
        tmp_path / "card.json", input_shape=[SIZE, SIZE, 1], labels=["tumour"], inference={"views": views_in_card},
        slice_gate=entry,
    )  # fmt: skip
    return read_spec(path)


def test_card_gate_is_read_and_checked(tmp_path):
    gate = card_slice_gate(gated_card(tmp_path))
    assert gate.threshold == 0.5 and gate.views == 2 and gate.n_network_features == 1
    assert card_slice_gate(read_spec(write_card(tmp_path / "plain.json"))) is None


def test_a_gate_fitted_for_other_views_is_refused(tmp_path):
    with pytest.raises(ModelError, match="fitted for 1 views"):
        card_slice_gate(gated_card(tmp_path, views_in_card=2, views_in_gate=1))


def test_a_damaged_gate_file_is_refused(tmp_path):
    with pytest.raises(ModelError, match="damaged or was replaced"):
        card_slice_gate(gated_card(tmp_path, corrupt=True))


def test_gate_arrays_that_do_not_fit_are_refused():
    arrays = brightness_gate(0.0).as_arrays()
    with pytest.raises(ModelError, match="do not fit"):
        SliceGate.from_arrays({**arrays, "weights": arrays["weights"][:-1]}, 0.0, 1)
    with pytest.raises(ModelError, match="damaged"):
        SliceGate.from_arrays({k: v for k, v in arrays.items() if k != "bias"}, 0.0, 1)


def test_gate_logits_refuse_features_of_another_network():
    gate = brightness_gate(0.0)
    with pytest.raises(ModelError, match="expects 1"):
        gate.logits(np.zeros((1, 5)), np.zeros((1, SIZE, SIZE)), 0.4)


def test_card_json_of_a_gate_round_trips(tmp_path):
    spec = gated_card(tmp_path)
    assert json.loads((tmp_path / "card.json").read_text())["slice_gate"]["file"] == "gate.npz"
    assert spec.views == 2
