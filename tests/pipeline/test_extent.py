"""brainscan.pipeline.extent: a tumour volume's outlines as one region, followed into neighbouring slices."""

from __future__ import annotations

import numpy as np

from brainscan.pipeline.extent import connected_to, largest_region, tumour_region


def disc(centre, radius, shape=(32, 32)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def test_the_largest_region_across_slices_is_kept_and_the_rest_set_apart():
    tumour = {i: disc((10, 10), 5) for i in (3, 4, 5)}
    spot = disc((25, 25), 2)
    outlines = {**tumour, 8: spot, 4: tumour[4] | spot}  # slice 4 holds the tumour and a separate spot
    kept, detached = largest_region(outlines)
    assert sorted(kept) == [3, 4, 5] and all(np.array_equal(kept[i], tumour[i]) for i in kept)
    assert sorted(detached) == [4, 8] and np.array_equal(detached[4], spot) and np.array_equal(detached[8], spot)


def test_outlines_touching_diagonally_across_adjacent_slices_are_one_region():
    a = np.zeros((16, 16), bool)
    b = np.zeros((16, 16), bool)
    a[4:8, 4:8] = True
    b[8:12, 8:12] = True  # its corner touches a's corner one slice up
    kept, detached = largest_region({2: a, 3: b})
    assert sorted(kept) == [2, 3] and detached == {}
    kept, detached = largest_region({2: a, 4: b})  # a slice between them: two regions
    assert len(kept) == 1 and len(detached) == 1


def test_no_outlines_no_region_and_no_calls():
    calls = []
    region = tumour_region({}, np.ones(10, bool), lambda idx: calls.append(idx) or {}, tried=set())
    assert region.kept == {} and region.detached == {} and calls == []
    assert largest_region({1: np.zeros((8, 8), bool)}) == ({}, {})


def test_the_region_is_followed_into_followable_neighbours_whose_outline_connects():
    n = 12
    tumour = {i: disc((10, 10), 5) for i in (4, 5, 6)}
    more = {3: disc((11, 10), 4), 2: disc((12, 10), 3), 7: disc((10, 9), 4), 8: disc((25, 25), 2)}
    followable = np.zeros(n, bool)
    followable[[1, 2, 3, 7, 8]] = True  # slice 9 continues the tumour too but is not followable
    more[9] = disc((10, 10), 3)
    asked = []

    def outline_more(indices):
        asked.append(list(indices))
        return {i: more[i] for i in indices if i in more}

    region = tumour_region(tumour, followable, outline_more, tried={4, 5, 6})
    assert sorted(region.kept) == [2, 3, 4, 5, 6, 7]
    assert region.followed == frozenset({2, 3, 7})
    assert 8 not in region.kept and region.detached == {}  # a followed slice's stray outline is no outline
    flat = [i for call in asked for i in call]
    assert len(flat) == len(set(flat)) and not {4, 5, 6, 9} & set(flat)  # never twice, never the tried
    assert asked[0] == [3, 7] and 1 in flat  # round by round from the region's ends
    assert region.tried == frozenset({1, 2, 3, 4, 5, 6, 7, 8})


def test_a_followed_slice_can_join_an_outline_that_was_apart():
    n = 8
    outlines = {2: disc((10, 10), 5), 3: disc((10, 10), 5), 5: disc((10, 10), 2)}
    followable = np.zeros(n, bool)
    followable[4] = True
    region = tumour_region(outlines, followable, lambda idx: {4: disc((10, 10), 4)}, tried={2, 3, 5})
    assert sorted(region.kept) == [2, 3, 4, 5] and region.detached == {}


def test_connected_to_keeps_every_region_the_seed_touches():
    outlines = {1: disc((8, 8), 3) | disc((24, 24), 3), 2: disc((8, 8), 3)}
    kept, detached = connected_to(outlines, {2: disc((8, 8), 3)})
    assert np.array_equal(kept[1], disc((8, 8), 3)) and np.array_equal(detached[1], disc((24, 24), 3))


def test_slice_numbers_in_the_warning_read_as_runs():
    from brainscan.pipeline.analyze import slice_ranges

    assert slice_ranges([0, 1, 2, 5, 7, 8]) == "1-3, 6, 8-9" and slice_ranges([4]) == "5" and slice_ranges([]) == ""
