"""A corpus of bad input: nothing crashes, good slices still load, every skipped file says why."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from brainscan.errors import SeriesLoadError
from brainscan.io import load, scan
from tests.dicom_factory import make_dataset, true_order, write_series


def good_series(folder: Path, n: int = 4) -> str:
    uid, _, _ = write_series(folder, n=n, shape=(16, 16))
    return uid


def skipped_reasons(volume_or_info) -> dict[str, str]:
    return {s.path.name: s.reason for s in volume_or_info.skipped}


def load_single(folder: Path):
    found = scan([folder])
    assert len(found) == 1, [f.description for f in found]
    return load(found[0])


def test_zero_byte_file(tmp_path):
    good_series(tmp_path)
    (tmp_path / "empty.dcm").write_bytes(b"")
    volume = load_single(tmp_path)
    assert volume.n_slices == 4 and "0 bytes" in skipped_reasons(volume)["empty.dcm"]


def test_truncated_dicom_is_skipped_at_load(tmp_path):
    _, _, paths = write_series(tmp_path, n=4, shape=(64, 64))
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[: len(data) - 4000])
    volume = load_single(tmp_path)
    assert volume.n_slices == 3
    assert "could not be decoded" in skipped_reasons(volume)[paths[0].name]


def test_dicom_without_pixel_data_structured_report(tmp_path):
    good_series(tmp_path)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.11"  # Basic Text SR
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    sr.Modality = "SR"
    sr.SOPClassUID = meta.MediaStorageSOPClassUID
    sr.SeriesInstanceUID = generate_uid()
    sr.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    volume = load_single(tmp_path)
    assert "without an image" in skipped_reasons(volume)["report.dcm"]


def test_dicomdir_is_skipped(tmp_path):
    good_series(tmp_path)
    dicomdir = pydicom.dcmread(pydicom.data.get_testdata_file("DICOMDIR"))
    dicomdir.save_as(tmp_path / "DICOMDIR")
    volume = load_single(tmp_path)
    assert "DICOMDIR" in skipped_reasons(volume)["DICOMDIR"]


def test_non_image_file_named_dcm(tmp_path):
    good_series(tmp_path)
    (tmp_path / "notes.dcm").write_text("patient was anxious\n")
    volume = load_single(tmp_path)
    assert "not a DICOM" in skipped_reasons(volume)["notes.dcm"]


def write_png(path: Path, value: int, size=(20, 20), mode="L"):
    Image.new(mode, size, value if mode == "L" else (value, value, value)).save(path, format="PNG")


def test_jpeg_with_corrupt_body_is_skipped_at_load(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(tmp_path / f"s{k}.jpg")
    data = bytearray((tmp_path / "s1.jpg").read_bytes())
    (tmp_path / "s1.jpg").write_bytes(bytes(data[: len(data) // 2]))  # header intact, scan data cut
    volume = load_single(tmp_path)
    assert volume.n_slices == 2
    assert "could not be decoded" in skipped_reasons(volume)["s1.jpg"]


def test_corrupt_jpeg(tmp_path):
    for k in range(3):
        Image.new("L", (20, 20), 50 * k).save(tmp_path / f"s{k}.jpg", format="JPEG")
    data = (tmp_path / "s1.jpg").read_bytes()
    (tmp_path / "s1.jpg").write_bytes(data[:200])
    volume = load_single(tmp_path)
    assert volume.n_slices == 2
    reason = skipped_reasons(volume)["s1.jpg"]
    assert "not a readable image" in reason or "could not be decoded" in reason


def test_png_named_jpg_loads(tmp_path):
    write_png(tmp_path / "a1.jpg", 10)
    write_png(tmp_path / "a2.jpg", 20, mode="RGB")
    volume = load_single(tmp_path)
    assert volume.n_slices == 2 and volume.pixel_spacing_mm is None and volume.slice_spacing_mm is None


def test_slices_of_different_sizes_become_separate_series(tmp_path):
    uid = pydicom.uid.generate_uid()
    write_series(tmp_path, n=3, shape=(16, 16), series_uid=uid)
    odd = make_dataset(np.ones((20, 16), np.uint16), series_uid=uid, position=(0, 0, 99))
    odd.save_as(tmp_path / "odd.dcm", enforce_file_format=True)
    found = scan([tmp_path])
    assert sorted(f.slices for f in found) == [1, 3]
    assert all("split" in " ".join(f.warnings) for f in found)
    assert all(load(f).n_slices >= 1 for f in found)


def test_duplicate_positions_warn_and_keep_all(tmp_path):
    uid, _, paths = write_series(tmp_path, n=3, shape=(16, 16))
    copy = pydicom.dcmread(paths[0])
    copy.SOPInstanceUID = generate_uid()
    copy.save_as(tmp_path / "copy.dcm", enforce_file_format=True)
    volume = load_single(tmp_path)
    assert volume.n_slices == 4
    assert any("share a position" in w for w in volume.warnings)


def test_missing_image_position_on_some_slices_falls_back(tmp_path):
    _, _, paths = write_series(tmp_path, n=4, shape=(16, 16))
    ds = pydicom.dcmread(paths[1])
    del ds.ImagePositionPatient
    ds.save_as(paths[1], enforce_file_format=True)
    volume = load_single(tmp_path)
    assert volume.sorted_by == "instance" and volume.n_slices == 4


def test_absurd_rows_columns(tmp_path):
    good_series(tmp_path)
    ds = make_dataset(np.ones((4, 4), np.uint16), series_uid=generate_uid())
    ds.Rows = 60000
    ds.save_as(tmp_path / "absurd.dcm", enforce_file_format=True)
    volume = load_single(tmp_path)
    assert "implausible" in skipped_reasons(volume)["absurd.dcm"]


def test_unreadable_file(tmp_path, monkeypatch):
    good_series(tmp_path)
    locked = tmp_path / "locked.dcm"
    make_dataset(np.ones((16, 16), np.uint16), series_uid=generate_uid()).save_as(locked, enforce_file_format=True)
    locked.chmod(0)
    real = pydicom.dcmread

    def deny(path, *args, **kwargs):  # root ignores file modes, so refuse the way the OS would
        if Path(getattr(path, "name", path)).name == "locked.dcm":
            raise PermissionError(13, "Permission denied")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", deny)
    found = scan([tmp_path])
    assert len(found) == 1
    assert "permission denied" in skipped_reasons(found[0])["locked.dcm"]
    locked.chmod(0o600)


def test_symlink_loop(tmp_path):
    good_series(tmp_path / "series")
    os.symlink(tmp_path, tmp_path / "series" / "loop")
    os.symlink(tmp_path / "nowhere", tmp_path / "dangling")
    volume = load_single(tmp_path)
    assert volume.n_slices == 4


def test_empty_folder_raises_clear_error(tmp_path):
    with pytest.raises(SeriesLoadError, match="empty"):
        scan([tmp_path])


def test_folder_with_nothing_usable_lists_reasons(tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "b.dcm").write_bytes(b"")
    with pytest.raises(SeriesLoadError) as err:
        scan([tmp_path])
    assert "no readable MRI images" in str(err.value) and "b.dcm" in str(err.value)


def test_deeply_nested_folders(tmp_path):
    deep = tmp_path
    for level in range(40):
        deep = deep / f"level{level}"
    good_series(deep)
    assert load_single(tmp_path).n_slices == 4


def test_non_utf8_file_names(tmp_path):
    folder = os.fsencode(tmp_path) + b"/s\xe9rie"
    os.mkdir(folder)
    for k in range(2):
        name = folder + b"/coupe\xff" + str(k).encode() + b".png"
        buf = io.BytesIO()
        Image.new("L", (12, 12), 30 * (k + 1)).save(buf, format="PNG")
        with open(name, "wb") as handle:
            handle.write(buf.getvalue())
    volume = load_single(tmp_path)
    assert volume.n_slices == 2


def test_mixed_good_and_bad_keeps_good_order(tmp_path):
    write_series(tmp_path, n=5, shape=(16, 16))
    (tmp_path / "junk.bin").write_bytes(os.urandom(300))
    (tmp_path / "zero.dcm").write_bytes(b"")
    volume = load_single(tmp_path)
    assert true_order(volume) == list(range(5))
    assert set(skipped_reasons(volume)) == {"junk.bin", "zero.dcm"}


def test_missing_path_is_reported(tmp_path):
    good_series(tmp_path)
    found = scan([tmp_path, tmp_path / "gone"])
    assert "does not exist" in skipped_reasons(found[0])["gone"]
