"""Training slices cut from whole volumes: the paired augmentation and the segmenter pack (synthetic NIfTI)."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from brainscan.training.segmentation_volumes import build_segmentation_pack, pack_summary
from brainscan.training.volume_slices import HELD_OUT, realistic_augment, realistic_augment_pair


def _slice_with_blob(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 0.4, size=(96, 80)).astype(np.float32)
    mask = np.zeros(x.shape, dtype=np.uint8)
    mask[30:50, 20:44] = 1
    x[mask > 0] = 1.0
    return x, mask


@pytest.mark.parametrize("seed", range(12))
def test_paired_augmentation_moves_mask_with_the_slice(seed):
    x, mask = _slice_with_blob()
    got, moved = realistic_augment_pair(x, mask, np.random.default_rng(seed))
    assert moved.shape == got.shape
    assert moved.sum() > 0
    # the blob is the brightest thing before the intensity changes: after them it still lies under the mask
    assert np.median(got[moved > 0]) > np.median(got[moved == 0])


def test_paired_augmentation_draws_the_same_slice_as_the_single_one():
    x, mask = _slice_with_blob()
    single = realistic_augment(x, np.random.default_rng(7))
    paired, _ = realistic_augment_pair(x, mask, np.random.default_rng(7))
    np.testing.assert_array_equal(single, paired)


def _write_case(root, name: str, seed: int) -> None:
    """A 1 mm BraTS-like case: a brain-shaped ellipsoid with a bright enhancing core (label 4) and oedema (2)."""
    rng = np.random.default_rng(seed)
    shape = (48, 56, 40)
    grid = np.indices(shape).astype(np.float32)
    centre = np.array(shape, dtype=np.float32)[:, None, None, None] / 2
    brain = (((grid - centre) / (np.array(shape)[:, None, None, None] * 0.4)) ** 2).sum(axis=0) <= 1.0
    image = np.where(brain, 300.0, 0.0) + rng.normal(0, 5, shape)
    labels = np.zeros(shape, dtype=np.int16)
    labels[20:32, 24:36, 16:26] = 2
    labels[22:30, 26:34, 18:24] = 4
    image[labels == 4] = 900.0
    case = root / "volumes" / "tumour" / "brats2018" / name
    case.mkdir(parents=True)
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])
    nib.save(nib.Nifti1Image(image.astype(np.float32), affine), str(case / "t1ce.nii.gz"))
    nib.save(nib.Nifti1Image(labels, affine), str(case / "seg.nii.gz"))


def test_segmentation_pack_splits_by_volume_and_aligns_masks(tmp_path):
    _write_case(tmp_path, "Brats18_train_case", 1)
    _write_case(tmp_path, HELD_OUT[0], 2)
    pack = build_segmentation_pack(tmp_path, seed=3, stride=2, variants=2, size=64)

    assert pack["images"].shape[1:] == (64, 64) and pack["masks"].shape == pack["images"].shape
    train, val = pack["split"] == "train", pack["split"] == "val"
    assert set(pack["source"][val]) == {f"{HELD_OUT[0]}/t1ce"}
    assert set(pack["source"][train]) == {"Brats18_train_case/t1ce"}
    assert not pack["augmented"][val].any() and pack["augmented"][train].any()
    assert set(pack["plane"]) == {"axial", "coronal", "sagittal"}
    assert np.all(pack["masks"].reshape(len(pack["masks"]), -1).sum(axis=1) > 0)  # only slices with a core
    clean = ~pack["augmented"]
    images, masks = pack["images"][clean].astype(np.float32), pack["masks"][clean] > 0
    # the outlined pixels are the enhancing core: the brightest part of each slice
    assert all(np.median(img[m]) > 0.9 for img, m in zip(images, masks, strict=True))
    summary = pack_summary(pack)
    assert summary["val"]["images"] == int(val.sum()) and summary["mask"].startswith("tumour core")


def test_segmentation_pack_without_volumes_says_where_it_looked(tmp_path):
    with pytest.raises(SystemExit, match="brats2018"):
        build_segmentation_pack(tmp_path)


@pytest.mark.slow
@pytest.mark.needs_tf
def test_segmenter_batches_mix_in_the_pack_and_validate_on_its_held_out_part():
    from brainscan.training.train_segmenter import make_datasets

    images = np.zeros((10, 16, 16), np.float16)
    masks = np.zeros((10, 16, 16), np.uint8)
    pack = {
        "images": np.ones((6, 16, 16), np.float16),
        "masks": np.ones((6, 16, 16), np.uint8),
        "split": np.array(["train"] * 4 + ["val"] * 2),
    }
    train, val = make_datasets(images, masks, np.arange(8), np.arange(8, 10), 8, 1, pack, pack_weight=0.5)
    x, y = next(iter(train))
    from_pack = float(np.asarray(y).reshape(8, -1).max(axis=1).mean())
    assert x.shape == (8, 16, 16, 1) and 0.0 < from_pack < 1.0
    assert sum(int(b[0].shape[0]) for b in val) == 2 + 2


def test_pack_slices_are_scored_per_volume_with_the_outlined_area():
    from brainscan.training.segmentation_evaluation import evaluate_pack_slices
    from tests.fakes import LESION_THRESHOLD, FakeSegmenter

    images = np.full((4, 32, 32), LESION_THRESHOLD / 8, np.float32)
    masks = np.zeros((4, 32, 32), np.uint8)
    masks[:, 8:20, 8:20] = 1
    images[masks > 0] = LESION_THRESHOLD * 1.25
    images[3, 8:20, 8:14] = LESION_THRESHOLD / 8  # the fake outlines only the bright half of the last tumour
    pack = {
        "images": images, "masks": masks,
        "source": np.array(["a/t1ce", "a/t1ce", "b/t1ce", "b/t1ce"]), "split": np.array(["val"] * 4),
    }  # fmt: skip
    got = evaluate_pack_slices(FakeSegmenter(), pack, "val")
    assert got["slices"] == 4
    assert got["by_source"]["a/t1ce"] == {"slices": 2, "dice_mean": 1.0, "outlined_over_true_area": 1.0}
    assert got["by_source"]["b/t1ce"]["outlined_over_true_area"] == pytest.approx((144 + 72) / 288)
    assert got["dice_mean"] < 1.0


def test_classifier_pack_holds_out_the_volumes_it_is_told_to():
    from brainscan.training.volume_slices import SourceVolume, build_pack, pack_summary

    rng = np.random.default_rng(0)
    head = np.zeros((40, 48, 36), np.float32)
    head[6:34, 6:42, 4:32] = rng.uniform(200, 400, (28, 36, 28))
    sources = [SourceVolume(name, head, np.ones(3), None, "t1") for name in ("volunteer_a", "volunteer_b")]
    pack = build_pack(sources, seed=1, stride=4, variants=1, held_out=("volunteer_b",))
    assert set(pack["source"][pack["split"] == "val"]) == {"volunteer_b/t1"}
    assert set(pack["source"][pack["split"] == "train"]) == {"volunteer_a/t1"}
    assert pack_summary(pack, ("volunteer_b",))["held_out"] == ["volunteer_b"]
