"""Hostile input (issue 16), each kind built in code: no traceback, no hang, no silent garbage, no mixed patients,
bounded memory, nothing leaked. The numbers in the section titles are the issue's classes."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import tempfile
import threading
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, generate_uid

from brainscan.errors import SeriesLoadError
from brainscan.io import load, scan
from tests.dicom_factory import make_dataset, true_order, write_series
from tests.fakes import FakeClassifier, FakeSegmenter


def reasons(volume_or_info) -> dict[str, str]:
    return {s.path.name: s.reason for s in volume_or_info.skipped}


def only_series(folder: Path):
    found = scan([folder])
    assert len(found) == 1, [f.description for f in found]
    return found[0]


def dicom_bytes(ds) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
    """One explicit-VR little-endian element, for headers pydicom would refuse to write."""
    if vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"OF", b"OD"):
        return struct.pack("<HH", group, elem) + vr + b"\0\0" + struct.pack("<I", len(value)) + value
    return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value


# ---------------------------------------------------------------- 2: one series UID, two patients or studies


def test_one_series_uid_shared_by_two_patients_is_split_and_says_so(tmp_path):
    uid = generate_uid()
    write_series(tmp_path / "jane", n=3, shape=(16, 16), series_uid=uid)  # PatientID P-001
    for k in range(2):
        ds = make_dataset(np.full((16, 16), 7, np.uint16), series_uid=uid, position=(0, 0, 2.0 * k), instance=k + 1)
        ds.PatientName, ds.PatientID = "Roe^Rick", "P-002"
        ds.save_as(tmp_path / f"rick{k}.dcm", enforce_file_format=True)
    found = scan([tmp_path])
    assert sorted((f.meta.patient_id, f.slices) for f in found) == [("P-001", 3), ("P-002", 2)]
    for info in found:
        assert any("patient" in w.lower() for w in info.warnings), info.warnings
        assert all(pydicom.dcmread(p).PatientID == info.meta.patient_id for p in info.files)


def test_one_series_uid_in_two_studies_is_split(tmp_path):
    uid = generate_uid()
    write_series(tmp_path / "a", n=2, shape=(16, 16), series_uid=uid)
    ds = make_dataset(np.full((16, 16), 7, np.uint16), series_uid=uid)
    ds.StudyInstanceUID = "1.2.3.99"
    ds.save_as(tmp_path / "other_study.dcm", enforce_file_format=True)
    found = scan([tmp_path])
    assert sorted(f.slices for f in found) == [1, 2]
    assert all(any("stud" in w.lower() for w in f.warnings) for f in found)


# ---------------------------------------------------------------- 6: one malformed header never stops a scan


def malformed_headers(folder: Path) -> dict[str, str]:
    """name -> what is wrong; every file is otherwise a valid 16x16 MR image."""
    folder.mkdir(parents=True, exist_ok=True)
    base = make_dataset(np.ones((16, 16), np.uint16), series_uid=generate_uid())
    made = {}

    rows_text = make_dataset(np.ones((16, 16), np.uint16), series_uid=generate_uid())
    del rows_text.Rows
    rows_text.add_new(0x00280010, "LO", "abc")
    rows_text.save_as(folder / "rows_text.dcm", enforce_file_format=True)
    made["rows_text.dcm"] = "Rows as text"

    rows_two = make_dataset(np.ones((16, 16), np.uint16), series_uid=generate_uid())
    rows_two.Rows = [16, 16]
    rows_two.save_as(folder / "rows_two.dcm", enforce_file_format=True)
    made["rows_two.dcm"] = "Rows with two values"

    frames = make_dataset(np.ones((16, 16), np.uint16), series_uid=generate_uid())
    frames.add_new(0x00280008, "LO", "xx")
    frames.save_as(folder / "frames_xx.dcm", enforce_file_format=True)
    made["frames_xx.dcm"] = "NumberOfFrames xx"

    # 3000 nested sequences between the header and the pixel data: RecursionError inside dcmread
    pixels = base.PixelData
    del base.PixelData
    opening = element(0x0029, 0x1010, b"SQ", b"")[:-4] + struct.pack("<I", 0xFFFFFFFF)
    opening += struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    body = dicom_bytes(base) + opening * 3000 + closing * 3000 + element(0x7FE0, 0x0010, b"OW", pixels)
    (folder / "nested.dcm").write_bytes(body)
    made["nested.dcm"] = "3000 nested sequences"
    return made


def test_each_malformed_header_skips_only_its_file_with_a_reason(tmp_path):
    write_series(tmp_path / "good", n=3, shape=(16, 16))
    made = malformed_headers(tmp_path / "bad")
    info = only_series(tmp_path)
    assert info.slices == 3
    why = reasons(info)
    for name in made:
        assert name in why, f"{made[name]}: not reported"
        assert why[name] and "Traceback" not in why[name]
    assert "nested" in why["nested.dcm"].lower()
    assert load(info).n_slices == 3


def test_any_exception_while_reading_one_file_is_a_skip_reason(tmp_path, monkeypatch):
    write_series(tmp_path, n=3, shape=(16, 16))
    (tmp_path / "odd.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 64)
    real = pydicom.dcmread

    def explode(fp, *args, **kwargs):
        if Path(getattr(fp, "name", fp)).name == "odd.dcm":
            raise ZeroDivisionError("a decoder bug")
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", explode)
    info = only_series(tmp_path)
    assert info.slices == 3 and "ZeroDivisionError" in reasons(info)["odd.dcm"]


# ---------------------------------------------------------------- 8: deep trees and links out of the tree


def remove_nested(root: Path, name: str = "d") -> None:
    """Delete a chain root/d/d/d/... without recursion (pytest's own clean-up recurses and would fail)."""
    current, n = root / name, 0
    while current.is_dir():
        child, moved = current / name, None
        if child.is_dir():
            moved = root / f"flat{n}"
            n += 1
            os.rename(child, moved)
        shutil.rmtree(current)
        current = moved if moved is not None else root / "-none-"


@pytest.fixture
def nested_1100(monkeypatch):
    """A folder holding 1100 nested folders, outside pytest's tmp_path (whose clean-up recurses)."""
    root = Path(tempfile.mkdtemp(prefix="brainscan-nested-"))
    try:
        monkeypatch.chdir(root)  # keep each mkdir short: the full path nears PATH_MAX
        for _ in range(1100):
            os.mkdir("d")
            os.chdir("d")
        write_series(Path.cwd(), n=2, shape=(16, 16))
        os.chdir(root)
        yield root
    finally:
        os.chdir("/")
        remove_nested(root)
        shutil.rmtree(root)


def test_1100_nested_folders_do_not_recurse_and_the_cap_is_reported(nested_1100):
    write_series(nested_1100 / "top", n=3, shape=(16, 16))
    info = only_series(nested_1100)
    assert info.slices == 3
    assert any("deep" in s.reason for s in info.skipped), [s.reason for s in info.skipped]


def test_a_link_out_of_the_dropped_folder_is_not_followed(tmp_path):
    write_series(tmp_path / "outside" / "other_patient", n=2, shape=(16, 16))
    dropped = tmp_path / "dropped"
    write_series(dropped, n=3, shape=(16, 16))
    os.symlink(tmp_path / "outside", dropped / "link_to_outside")  # as a link to / would be (the whole disk)
    os.symlink(tmp_path / "outside" / "other_patient" / "IM0000.dcm", dropped / "file_link.dcm")
    info = only_series(dropped)
    assert info.slices == 3
    why = reasons(info)
    assert "outside" in why["link_to_outside"] and "outside" in why["file_link.dcm"]


def test_links_inside_the_dropped_folder_are_still_followed(tmp_path):
    write_series(tmp_path / "real", n=3, shape=(16, 16))
    os.symlink(tmp_path / "real", tmp_path / "alias")
    assert only_series(tmp_path).slices == 3  # each file once, through either name


def test_file_count_cap_stops_the_walk_and_says_so(tmp_path, monkeypatch):
    from brainscan.io import walk

    monkeypatch.setattr(walk, "MAX_FILES", 5)
    write_series(tmp_path, n=8, shape=(16, 16))
    files, skipped = walk.iter_files([tmp_path])
    assert len(files) == 5
    assert any("5 files" in s.reason for s in skipped)


# ---------------------------------------------------------------- 10: only regular files are opened


def test_a_fifo_in_the_folder_is_skipped_with_a_reason(tmp_path):
    write_series(tmp_path, n=3, shape=(16, 16))
    os.mkfifo(tmp_path / "pipe.dcm")
    info = only_series(tmp_path)
    assert "not a regular file" in reasons(info)["pipe.dcm"]


def load_in_thread(info) -> dict:
    box: dict = {}

    def run():
        try:
            box["volume"] = load(info)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    box["alive"] = thread.is_alive()
    return box


def release_fifo(path: Path) -> None:
    """Let a reader stuck in open() on ``path`` go (only matters before the fix)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


@pytest.mark.parametrize("kind", ["dicom", "png"])
def test_a_file_swapped_for_a_fifo_after_the_scan_does_not_hang_the_load(tmp_path, kind):
    if kind == "dicom":
        _, _, paths = write_series(tmp_path, n=3, shape=(16, 16))
    else:
        paths = []
        for k in range(3):
            Image.new("L", (16, 16), 40 * k).save(tmp_path / f"s{k}.png")
            paths.append(tmp_path / f"s{k}.png")
    info = only_series(tmp_path)
    paths[1].unlink()
    os.mkfifo(paths[1])
    try:
        box = load_in_thread(info)
    finally:
        release_fifo(paths[1])
    assert not box["alive"], "load() hung on a FIFO"
    assert box["volume"].n_slices == 2
    assert "not a regular file" in reasons(box["volume"])[paths[1].name]


# ---------------------------------------------------------------- 15: messages a user can act on


def test_dicom_without_preamble_is_read(tmp_path):
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset

    uid, _, paths = write_series(tmp_path, n=3, shape=(16, 16))
    ds = pydicom.dcmread(paths[0])
    buffer = io.BytesIO()
    fp = DicomFileLike(buffer)
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    paths[0].write_bytes(buffer.getvalue())  # no preamble, no DICM prefix, no file meta
    volume = load(only_series(tmp_path))
    assert volume.n_slices == 3 and true_order(volume) == [0, 1, 2]
    assert not volume.skipped


def test_png_named_dcm_is_read_as_an_image(tmp_path):
    for k in range(2):
        Image.new("L", (16, 16), 50 + k).save(tmp_path / f"slice{k}.dcm", format="PNG")
    volume = load(only_series(tmp_path))
    assert volume.n_slices == 2
    assert any("PNG" in w for w in volume.warnings)


def test_bad_instance_numbers_do_not_stop_the_load(tmp_path):
    for k in range(3):
        ds = make_dataset(np.full((16, 16), 100 * (k + 1), np.uint16), series_uid="1.2.9", position=(0, 0, k))
        del ds.InstanceNumber
        ds.add_new(0x00200013, "LO", ["abc", "1.5", ""][k])
        ds.save_as(tmp_path / f"a{k}.dcm", enforce_file_format=True)
    volume = load(only_series(tmp_path))
    assert volume.n_slices == 3 and volume.sorted_by == "position"


def test_broken_compressed_data_is_explained_in_words(tmp_path):
    for k in range(2):
        ds = make_dataset(np.full((16, 16), 50, np.uint8), series_uid="1.2.10", bits=8, position=(0, 0, k))
        jpeg = io.BytesIO()
        Image.fromarray(np.full((16, 16), 50, np.uint8)).save(jpeg, format="JPEG")
        ds.PixelData = encapsulate([jpeg.getvalue() if k == 0 else b"\xff\xd8 broken " * 10])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.save_as(tmp_path / f"a{k}.dcm", enforce_file_format=True)
    volume = load(only_series(tmp_path))
    reason = reasons(volume)["a1.dcm"]
    assert "0x" not in reason and "<_io" not in reason and "BytesIO" not in reason
    assert "JPEG" in reason and "damaged" in reason


def test_text_file_named_dcm_still_says_not_dicom(tmp_path):
    write_series(tmp_path, n=2, shape=(16, 16))
    (tmp_path / "notes.dcm").write_text("patient was anxious\n")
    assert "not a DICOM" in reasons(only_series(tmp_path))["notes.dcm"]


def test_missing_file_between_scan_and_load_says_so(tmp_path):
    _, _, paths = write_series(tmp_path, n=3, shape=(16, 16))
    info = only_series(tmp_path)
    paths[0].unlink()
    volume = load(info)
    assert volume.n_slices == 2 and "no longer" in reasons(volume)[paths[0].name]
    with pytest.raises(SeriesLoadError):
        for p in paths[1:]:
            p.unlink()
        load(info)


# ---------------------------------------------------------------- NIfTI: 4D, truncated, NaN data, bad zooms, FIFO


def write_nifti(path: Path, data: np.ndarray, zooms=(1.0, 1.0, 3.0)) -> Path:
    import nibabel as nib

    img = nib.Nifti1Image(data, np.diag([*zooms, 1.0]) if all(np.isfinite(zooms)) else np.eye(4))
    img.header.set_zooms(tuple(zooms) + (1.0,) * (data.ndim - 3))
    nib.save(img, str(path))
    return path


def brain_block(shape=(32, 32, 6)) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    disc = ((yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2 < (shape[0] / 3) ** 2).astype(np.float32)
    return np.repeat(disc[:, :, None] * 300.0, shape[2], axis=2)


def test_a_plain_nifti_still_loads(tmp_path):
    write_nifti(tmp_path / "t1.nii.gz", brain_block())
    volume = load(only_series(tmp_path))
    assert volume.n_slices == 6 and volume.pixels.max() == 300 and volume.slice_spacing_mm == 3.0
    assert not volume.warnings


def test_a_4d_nifti_is_refused_plainly(tmp_path):
    write_nifti(tmp_path / "bold.nii.gz", np.zeros((16, 16, 4, 5), np.float32), zooms=(2.0, 2.0, 2.0))
    with pytest.raises(SeriesLoadError, match="4D NIfTI"):
        scan([tmp_path])


@pytest.mark.parametrize("name", ["cut.nii", "cut.nii.gz"])
def test_a_truncated_nifti_is_an_error_not_a_traceback(tmp_path, name):
    path = write_nifti(tmp_path / name, np.random.default_rng(0).random((32, 32, 6)).astype(np.float32))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    try:
        info = only_series(tmp_path)
    except SeriesLoadError as exc:  # a cut .nii.gz may already fail in its header
        assert "NIfTI" in str(exc)
        return
    with pytest.raises(SeriesLoadError, match="damaged or incomplete"):
        load(info)


def test_nifti_nan_data_becomes_finite_with_a_warning(tmp_path):
    data = brain_block()
    data[4:8, 4:8, :] = np.nan
    data[0, 0, 0] = np.inf
    volume = load(only_series(write_nifti(tmp_path / "nan.nii", data).parent))
    assert np.all(np.isfinite(volume.pixels))
    assert any("NaN" in w for w in volume.warnings)


def test_an_all_nan_nifti_is_blank_and_says_so(tmp_path):
    volume = load(only_series(write_nifti(tmp_path / "nan.nii", np.full((16, 16, 3), np.nan, np.float32)).parent))
    assert np.all(np.isfinite(volume.pixels))
    assert any("Every slice is blank" in w for w in volume.warnings)


@pytest.mark.parametrize("zooms", [(0.0, 0.0, 0.0), (np.nan, np.nan, np.nan), (1.0, np.inf, 3.0)])
def test_nifti_unusable_voxel_size_is_unknown_spacing(tmp_path, zooms):
    path = write_nifti(tmp_path / "z.nii", brain_block(), zooms=(1.0, 1.0, 3.0))
    data = bytearray(path.read_bytes())
    data[80:92] = struct.pack("<3f", *zooms)  # pixdim[1:4] of the NIfTI-1 header, as a broken writer leaves it
    path.write_bytes(bytes(data))
    volume = load(only_series(tmp_path))
    assert volume.pixel_spacing_mm is None and volume.slice_spacing_mm is None
    assert any("voxel size" in w for w in volume.warnings)
    assert np.all(np.isfinite(volume.pixels))


def test_a_nifti_swapped_for_a_fifo_does_not_hang(tmp_path):
    path = write_nifti(tmp_path / "t1.nii", brain_block())
    info = only_series(tmp_path)
    path.unlink()
    os.mkfifo(path)
    try:
        box = load_in_thread(info)
    finally:
        release_fifo(path)
    assert not box["alive"], "load() hung on a FIFO"
    assert "not a regular file" in str(box["error"])


# ---------------------------------------------------------------- 1 (I/O part): no silent garbage from values


def constant_series(folder: Path, value: int = 500, n: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    for k in range(n):
        ds = make_dataset(np.full((32, 32), value, np.uint16), series_uid=uid, position=(0, 0, 3.0 * k), instance=k + 1)
        ds.save_as(folder / f"c{k}.dcm", enforce_file_format=True)


@pytest.mark.parametrize("slope", ["0", "NaN", "inf", "-inf", "1e308"])
def test_unusable_rescale_slope_is_ignored_with_a_warning(tmp_path, slope):
    uid = generate_uid()
    for k in range(3):
        pixels = np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) + k
        ds = make_dataset(pixels, series_uid=uid, position=(0, 0, 2.0 * k), instance=k + 1)
        ds.RescaleSlope, ds.RescaleIntercept = slope, "0"
        ds.save_as(tmp_path / f"s{k}.dcm", enforce_file_format=True)
    volume = load(only_series(tmp_path))
    assert np.all(np.isfinite(volume.pixels)) and all(np.isfinite(volume.window))
    assert volume.pixels[0, 1, 1] == 33  # the stored values, unscaled
    assert any("RescaleSlope" in w for w in volume.warnings), volume.warnings


def test_nan_and_inf_float_pixels_become_finite_with_a_warning(tmp_path):
    uid = generate_uid()
    for k in range(2):
        ds = make_dataset(np.zeros((16, 16), np.uint16), series_uid=uid, position=(0, 0, 2.0 * k), instance=k + 1)
        del ds.PixelData
        values = np.full((16, 16), 100.0 + k, np.float32)
        values[2:6, 2:6] = np.nan
        values[0, 0] = np.inf
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
        del ds.PixelRepresentation
        ds.FloatPixelData = values.tobytes()
        ds.save_as(tmp_path / f"f{k}.dcm", enforce_file_format=True)
    volume = load(only_series(tmp_path))
    assert np.all(np.isfinite(volume.pixels)) and all(np.isfinite(volume.window))
    assert any("NaN" in w for w in volume.warnings), volume.warnings


def test_nan_float_tiff_becomes_finite(tmp_path):
    for k in range(2):
        values = np.full((16, 16), 50.0, np.float32)
        values[k, :] = np.nan
        Image.fromarray(values, mode="F").save(tmp_path / f"f{k}.tif")
    volume = load(only_series(tmp_path))
    assert np.all(np.isfinite(volume.pixels))
    assert any("NaN" in w for w in volume.warnings)


def test_constant_series_loads_with_a_blank_warning(tmp_path):
    constant_series(tmp_path)
    volume = load(only_series(tmp_path))
    assert any("Every slice is blank" in w for w in volume.warnings), volume.warnings


@pytest.mark.parametrize("size", [(1, 1), (1, 8000), (8000, 1), (3, 3)])
def test_degenerate_image_sizes_are_refused_with_a_reason(tmp_path, size):
    Image.new("L", size, 128).save(tmp_path / "tiny.png")
    ds = make_dataset(np.full((size[1], size[0]), 5, np.uint16), series_uid=generate_uid())
    ds.save_as(tmp_path / "tiny.dcm", enforce_file_format=True)
    with pytest.raises(SeriesLoadError, match="too small to show a brain|implausible image size") as refused:
        scan([tmp_path])
    assert "tiny.png" in str(refused.value) and "tiny.dcm" in str(refused.value)


# ---------------------------------------------------------------- 3: BitsAllocated that does not match the data


@pytest.mark.parametrize("bits", [8, 1])
def test_bits_allocated_mismatch_skips_the_file_instead_of_inventing_frames(tmp_path, bits):
    uid, _, _ = write_series(tmp_path, n=3, shape=(32, 32))
    ds = make_dataset(np.full((32, 32), 900, np.uint16), series_uid=uid, position=(0, 0, 99.0), instance=9)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, bits, bits - 1  # the data stays 16-bit
    ds.save_as(tmp_path / "liar.dcm", enforce_file_format=True)
    volume = load(only_series(tmp_path))
    assert volume.n_slices == 3
    assert "does not match" in reasons(volume)["liar.dcm"] and "BitsAllocated" in reasons(volume)["liar.dcm"]
    assert any("left out" in w for w in volume.warnings)


def test_a_series_made_only_of_mismatched_files_is_an_error(tmp_path):
    ds = make_dataset(np.full((32, 32), 900, np.uint16), series_uid=generate_uid())
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.save_as(tmp_path / "liar.dcm", enforce_file_format=True)
    with pytest.raises(SeriesLoadError, match="does not match"):
        load(only_series(tmp_path))


# ---------------------------------------------------------------- 4: NaN / infinite geometry


@pytest.mark.parametrize("spacing", [["inf", "inf"], ["1e200", "1e200"], ["nan", "0.5"], ["0", "0"]])
def test_unusable_pixel_spacing_is_unknown_with_a_warning(tmp_path, spacing):
    _, _, paths = write_series(tmp_path, n=3, shape=(16, 16))
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.PixelSpacing = spacing
        ds.save_as(path, enforce_file_format=True)
    volume = load(only_series(tmp_path))
    assert volume.pixel_spacing_mm is None
    assert any("PixelSpacing" in w for w in volume.warnings)


@pytest.mark.parametrize("bad", [["inf", "0", "0"], ["nan", "nan", "nan"], ["1e300", "0", "0"]])
def test_unusable_image_position_is_ignored_with_a_warning(tmp_path, bad):
    _, _, paths = write_series(tmp_path, n=4, shape=(16, 16))
    ds = pydicom.dcmread(paths[1])
    ds.ImagePositionPatient = bad
    ds.save_as(paths[1], enforce_file_format=True)
    volume = load(only_series(tmp_path))
    assert volume.sorted_by == "instance" and volume.n_slices == 4
    assert volume.slice_spacing_mm is None
    assert any("ImagePositionPatient" in w for w in volume.warnings)


def test_absurd_slice_gaps_give_unknown_slice_spacing(tmp_path):
    write_series(tmp_path, n=3, shape=(16, 16), slice_gap=1e5)
    volume = load(only_series(tmp_path))
    assert volume.slice_spacing_mm is None
    assert any("not plausible" in w for w in volume.warnings)


def test_nan_orientation_is_treated_as_unknown(tmp_path):
    _, _, paths = write_series(tmp_path, n=3, shape=(16, 16))
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.ImageOrientationPatient = ["nan", "0", "0", "0", "1", "0"]
        ds.save_as(path, enforce_file_format=True)
    volume = load(only_series(tmp_path))
    assert volume.orientation is None and volume.sorted_by == "instance"


# ---------------------------------------------------------------- 5: multi-page TIFF and animated GIF


def test_multi_page_tiff_gives_one_slice_per_page_and_says_so(tmp_path):
    pages = [Image.new("L", (24, 16), 20 * (k + 1)) for k in range(4)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    volume = load(only_series(tmp_path))
    assert volume.n_slices == 4
    assert [round(float(s.mean())) for s in volume.pixels] == [20, 40, 60, 80]
    assert any("multi-page" in w and "4 pages" in w for w in volume.warnings)


def test_animated_gif_gives_one_slice_per_frame_and_says_so(tmp_path):
    frames = [Image.new("L", (16, 16), 60 * (k + 1)) for k in range(3)]
    frames[0].save(tmp_path / "cine.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    volume = load(only_series(tmp_path))
    assert volume.n_slices == 3
    assert any("multi-page" in w and "GIF" in w for w in volume.warnings)


# ---------------------------------------------------------------- 11: the pixel budget, from headers


def write_huge_pngs(folder: Path, count: int = 24, side: int = 4096) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Image.new("L", (side, side), 0).save(buffer, format="PNG", optimize=False)
    for k in range(count):
        (folder / f"big{k:02d}.png").write_bytes(buffer.getvalue())


def write_deflate_bomb(path: Path, frames: int = 8, side: int = 4096) -> None:
    """A deflated DICOM of about 0.1 MB whose pixel data inflates to frames x side x side x 2 bytes of zeros,
    written in chunks so that the test itself stays small in memory."""
    from pydicom.filebase import DicomFileLike
    from pydicom.filewriter import write_dataset, write_file_meta_info
    from pydicom.uid import DeflatedExplicitVRLittleEndian

    ds = make_dataset(np.zeros((8, 8), np.uint16), series_uid=generate_uid())
    del ds.PixelData
    ds.Rows = ds.Columns = side
    ds.NumberOfFrames = frames
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    path.parent.mkdir(parents=True, exist_ok=True)
    head = io.BytesIO()
    fp = DicomFileLike(head)
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    pixel_bytes = frames * side * side * 2
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    with open(path, "wb") as out:
        meta = DicomFileLike(out)
        meta.is_little_endian, meta.is_implicit_VR = True, False
        out.write(b"\0" * 128 + b"DICM")
        write_file_meta_info(meta, ds.file_meta, enforce_standard=True)
        out.write(packer.compress(head.getvalue() + element(0x7FE0, 0x0010, b"OW", b"")[:8]))
        out.write(packer.compress(struct.pack("<I", pixel_bytes)))
        zeros, remaining = bytes(1 << 22), pixel_bytes
        while remaining:
            out.write(packer.compress(zeros[: min(remaining, len(zeros))]))
            remaining -= min(remaining, len(zeros))
        out.write(packer.flush())


def test_huge_png_series_is_refused_from_headers_before_decoding(tmp_path, monkeypatch):
    write_huge_pngs(tmp_path)
    info = only_series(tmp_path)
    decoded = []
    real = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1) or real(self))
    with pytest.raises(SeriesLoadError, match="too large to analyse"):
        load(info)
    assert not decoded


def test_an_8192_pixel_png_is_refused_at_the_scan(tmp_path):
    write_huge_pngs(tmp_path, count=2, side=8192)
    with pytest.raises(SeriesLoadError, match="implausible image size"):
        scan([tmp_path])


def test_deflate_bomb_is_refused_before_inflating(tmp_path):
    write_deflate_bomb(tmp_path / "bomb.dcm")
    assert (tmp_path / "bomb.dcm").stat().st_size < 2_000_000
    with pytest.raises(SeriesLoadError, match="deflated"):
        scan([tmp_path])


def test_header_pixel_budget_holds_under_a_memory_limit(tmp_path):
    """`brainscan info` in a subprocess limited to 1 GiB of address space: refused in words, no MemoryError."""
    import resource
    import subprocess
    import sys

    write_huge_pngs(tmp_path / "pngs")
    write_deflate_bomb(tmp_path / "bomb" / "bomb.dcm", frames=24)
    limit = 1 << 30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="2")
    for folder, expected in ((tmp_path / "pngs", "too large to analyse"), (tmp_path / "bomb", "deflated")):
        done = subprocess.run(
            [sys.executable, "-m", "brainscan", "info", "--json", str(folder)],
            capture_output=True,
            text=True,
            timeout=600,
            env=env,
            preexec_fn=cap,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert done.returncode == 2, done.stderr[-2000:]
        assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr, done.stderr[-2000:]
        assert expected in done.stderr


# ---------------------------------------------------------------- CLI level (fake models, in process)


@pytest.fixture
def fake_models(monkeypatch):
    from brainscan.runtime import loading

    calls = []

    def load_models(*args, **kwargs):
        calls.append(1)
        return loading.LoadedModels(FakeClassifier(), FakeSegmenter())

    monkeypatch.setattr(loading, "load_shipped_models", load_models)
    return calls


def strict_json(text: str):
    import json

    def refuse(name):
        raise ValueError(f"{name} is not valid JSON")

    return json.loads(text, parse_constant=refuse)


def pdf_text(path: Path) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(str(path)).pages)


def phantom(folder: Path, **kwargs) -> Path:
    from tests.dicom_factory import write_phantom_series

    write_phantom_series(folder, n=4, lesion_slices=(1, 2), **kwargs)
    return folder


# ---- 4: valid JSON always, no "inf mL"


def infinite_spacing_series(folder: Path) -> Path:
    phantom(folder)
    for path in folder.iterdir():
        ds = pydicom.dcmread(path)
        ds.PixelSpacing = ["inf", "inf"]
        ds.ImagePositionPatient = [0, 0, "1e200"] if path.name.endswith("1.dcm") else ds.ImagePositionPatient
        ds.save_as(path, enforce_file_format=True)
    return folder


def test_info_json_is_valid_with_infinite_geometry(tmp_path, capsys):
    from brainscan import cli

    assert cli.main(["info", "--json", str(infinite_spacing_series(tmp_path / "s"))]) == 0
    (entry,) = strict_json(capsys.readouterr().out)
    assert entry["pixel_spacing_mm"] is None and entry["slice_spacing_mm"] is None


def test_analyze_json_and_pdf_are_valid_with_infinite_geometry(tmp_path, fake_models):
    from brainscan import cli

    out, pdf = tmp_path / "out.json", tmp_path / "out.pdf"
    folder = infinite_spacing_series(tmp_path / "s")
    assert cli.main(["analyze", str(folder), "--json", str(out), "--pdf", str(pdf), "--no-history", "--quiet"]) == 0
    data = strict_json(out.read_text())
    assert data["volume_ml"] is None and data["area_unit"] == "px"
    assert any("PixelSpacing" in w for w in data["series"]["warnings"])
    text = pdf_text(pdf)
    assert not re.search(r"(inf|nan)\s*(mL|mm|px)", text, re.IGNORECASE), text


def test_json_writer_never_writes_nan():
    from brainscan.jsonsafe import dumps

    assert strict_json(dumps({"a": float("nan"), "b": [float("inf"), np.float32(2.5)], "c": (1, -np.inf)})) == {
        "a": None,
        "b": [None, 2.5],
        "c": [1, None],
    }


# ---- 9: output paths checked before the work; a PDF failure keeps the JSON


@pytest.mark.parametrize("where", ["missing_folder", "a_folder", "pdf_missing_folder"])
def test_unwritable_outputs_are_refused_before_any_analysis(tmp_path, fake_models, capsys, where):
    from brainscan import cli

    folder = phantom(tmp_path / "s")
    (tmp_path / "taken").mkdir()
    option = {
        "missing_folder": ["--json", str(tmp_path / "nowhere" / "out.json")],
        "a_folder": ["--json", str(tmp_path / "taken")],
        "pdf_missing_folder": ["--pdf", str(tmp_path / "nowhere" / "out.pdf")],
    }[where]
    assert cli.main(["analyze", str(folder), *option, "--no-history", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "cannot be written" in err and "Nothing was analysed" in err
    assert not fake_models  # the models were never even loaded


def test_a_pdf_failure_keeps_the_json(tmp_path, fake_models, monkeypatch, capsys):
    from brainscan import cli, reports
    from brainscan.errors import ReportError

    def broken(*args, **kwargs):
        raise ReportError("The report could not be saved: disk full.")

    monkeypatch.setattr(reports, "write_pdf", broken)
    out = tmp_path / "out.json"
    folder = phantom(tmp_path / "s")
    code = cli.main(["analyze", str(folder), "--json", str(out), "--pdf", str(tmp_path / "r.pdf"), "--quiet"])
    assert code == 1 and "disk full" in capsys.readouterr().err
    assert strict_json(out.read_text())["verdict"]["tumour"] is True


# ---- 12: de-identified output holds no path, folder or file name


def test_deidentified_outputs_hold_no_path_folder_or_file_name(tmp_path, fake_models, capsys):
    from brainscan import cli

    images = tmp_path / "Smith_John_MRI"
    images.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(images / f"Smith_slice{k}.png")
    (images / "Smith_John_notes.txt").write_text("not an image")
    no_uid = tmp_path / "Doe_Jane_2024"
    phantom(no_uid)
    for path in no_uid.iterdir():
        ds = pydicom.dcmread(path)
        del ds.SeriesInstanceUID
        ds.save_as(path, enforce_file_format=True)
    out, pdf = tmp_path / "out.json", tmp_path / "report.pdf"
    code = cli.main(
        ["analyze", str(images), str(no_uid), "--deidentify", "--json", str(out), "--pdf", str(pdf), "--quiet"]
    )
    assert code == 0
    printed = capsys.readouterr()
    texts = {"json": out.read_text(), "pdf": pdf_text(pdf), "pdf-2": pdf_text(tmp_path / "report-2.pdf")}
    texts["stdout"], texts["stderr"] = printed.out, printed.err
    for where, text in texts.items():
        for secret in ("Smith", "Doe_Jane", "notes.txt", str(tmp_path), ".png", ".dcm"):
            assert secret not in text, f"{secret!r} leaked into {where}"
    reasons = [s["reason"] for entry in strict_json(texts["json"]) for s in entry["series"]["skipped"]]
    assert reasons and all("removed" in r or "not a DICOM" in r for r in reasons)


# ---- 13: the history and the data folder are private


def test_history_file_and_data_folder_are_created_private(tmp_path, monkeypatch):
    from brainscan.config import user_home
    from brainscan.storage import HistoryStore, default_history_path

    monkeypatch.setenv("BRAINSCAN_HOME", str(tmp_path / "fresh" / "BrainScan"))
    os.umask(0o022)
    HistoryStore(default_history_path()).close()
    assert (user_home().stat().st_mode & 0o777) == 0o700
    assert (default_history_path().stat().st_mode & 0o777) == 0o600


def test_existing_history_and_data_folder_are_tightened_on_start(tmp_path, monkeypatch):
    from brainscan.storage import HistoryStore, default_history_path

    home = tmp_path / "old"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    monkeypatch.setenv("BRAINSCAN_HOME", str(home))
    HistoryStore(home / "history.sqlite").close()
    os.chmod(home / "history.sqlite", 0o644)
    os.chmod(home, 0o755)
    HistoryStore(default_history_path()).close()
    assert (home.stat().st_mode & 0o777) == 0o700
    assert (default_history_path().stat().st_mode & 0o777) == 0o600


# ---- 14: control characters never reach the terminal; LIKE wildcards are literal


def test_info_strips_control_characters_from_headers_and_names(tmp_path, capsys):
    from brainscan import cli

    evil = "T1\x1b[2J\x1b]0;pwned\x07 AX\r\nsecond line\x9b"
    folder = tmp_path / "series\x1b[31m"
    write_series(folder, n=2, shape=(16, 16), description=evil)
    (folder / "bad\x07name.dcm").write_bytes(b"")
    for args in (["info", str(folder)], ["info", "--json", str(folder)]):
        assert cli.main(args) == 0
        printed = capsys.readouterr()
        for stream in (printed.out, printed.err):
            assert not any(ch in stream for ch in "\x1b\x07\x9b\r"), repr(stream)
        assert "T1" in printed.out and "AX" in printed.out


def test_history_search_treats_percent_and_underscore_literally(tmp_path):
    from brainscan.storage import HistoryStore
    from brainscan.types import StudyMeta, StudyRecord

    store = HistoryStore(tmp_path / "h.sqlite")
    for name in ("Ann 100% sure", "Bob_Smith", "Carl", "Dana\\x"):
        store.add(
            StudyRecord(
                source_path="/data",
                series_uid="1",
                description="T1",
                verdict_label="notumor",
                tumour=False,
                tumour_probability=0.1,
                probabilities={},
                meta=StudyMeta(patient_name=name),
            )
        )
    assert [r.meta.patient_name for r in store.list("%")] == ["Ann 100% sure"]
    assert [r.meta.patient_name for r in store.list("_")] == ["Bob_Smith"]
    assert [r.meta.patient_name for r in store.list("\\")] == ["Dana\\x"]
    assert len(store.list("100")) == 1 and len(store.list("")) == 4


# ---- 7: folder names that are not UTF-8


def test_non_utf8_folder_is_analysed_saved_and_coded(tmp_path, fake_models):
    from brainscan import cli
    from brainscan.storage import HistoryStore, default_history_path

    folder = os.fsencode(tmp_path) + b"/Patient M\xfcller"  # Latin-1, not UTF-8
    os.mkdir(folder)
    rng = np.random.default_rng(1)
    for k in range(3):
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(os.fsdecode(folder + b"/s%d.png" % k))
    out = tmp_path / "out.json"
    assert cli.main(["analyze", os.fsdecode(folder), "--json", str(out), "--pdf", str(tmp_path / "r.pdf")]) == 0
    data = strict_json(out.read_text(encoding="utf-8"))
    assert data["study"]["study_code"].startswith("BS-") and "M\ufffdller" in data["series"]["source"]
    (record,) = HistoryStore(default_history_path()).list()
    assert "M\ufffdller" in record.source_path


# ---- 1 end to end: blank, NaN and tiny series never get a verdict (with brainscan.pipeline.assessability)


def nan_float_series(folder: Path) -> None:
    folder.mkdir(parents=True)
    uid = generate_uid()
    for k in range(4):
        ds = make_dataset(np.zeros((64, 64), np.uint16), series_uid=uid, position=(0, 0, 3.0 * k), instance=k + 1)
        del ds.PixelData, ds.PixelRepresentation
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
        ds.FloatPixelData = np.full((64, 64), np.nan, np.float32).tobytes()
        ds.save_as(folder / f"n{k}.dcm", enforce_file_format=True)


def huge_slope_series(folder: Path, slope: str) -> None:
    folder.mkdir(parents=True)
    uid = generate_uid()
    for k in range(4):
        ds = make_dataset(np.full((64, 64), 7, np.uint16), series_uid=uid, position=(0, 0, 3.0 * k), instance=k + 1)
        ds.RescaleSlope, ds.RescaleIntercept = slope, "0"
        ds.save_as(folder / f"h{k}.dcm", enforce_file_format=True)


def png_series(folder: Path, size: tuple[int, int], value: int = 500) -> None:
    folder.mkdir(parents=True)
    for k in range(4):
        Image.fromarray(np.full(size[::-1], value, np.uint16)).save(folder / f"p{k}.png")


BLANK_KINDS = {
    "nan_float_pixels": nan_float_series,
    "slope_1e308_on_constant": lambda f: huge_slope_series(f, "1e308"),
    "slope_nan_on_constant": lambda f: huge_slope_series(f, "NaN"),
    "constant_png": lambda f: png_series(f, (64, 64)),
    "tiny_12px_png": lambda f: png_series(f, (12, 12)),
}


@pytest.mark.parametrize("kind", sorted(BLANK_KINDS))
def test_blank_nan_and_tiny_series_get_no_verdict(tmp_path, overconfident_models, capsys, kind):
    from brainscan import cli

    BLANK_KINDS[kind](tmp_path / kind)
    out, pdf = tmp_path / "out.json", tmp_path / "out.pdf"
    code = cli.main(["analyze", str(tmp_path / kind), "--json", str(out), "--pdf", str(pdf), "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    verdict = strict_json(out.read_text())["verdict"]
    assert verdict["tumour"] is False and verdict["label"] == "cannot assess", verdict
    assert "TUMOUR" not in printed.out.upper().replace("NO TUMOUR", "")
    text = pdf_text(pdf)
    assert "Cannot assess this series" in text and "Tumour suspected" not in text


@pytest.mark.parametrize("size", [(1, 1), (1, 8000), (5, 5)])
def test_degenerate_image_series_is_an_error_not_a_verdict(tmp_path, overconfident_models, capsys, size):
    from brainscan import cli

    folder = tmp_path / "degenerate"
    folder.mkdir()
    for k in range(3):
        Image.new("L", size, 100 + k).save(folder / f"d{k}.png")
    out = tmp_path / "out.json"
    assert cli.main(["analyze", str(folder), "--json", str(out), "--quiet", "--no-history"]) == 2
    err = capsys.readouterr().err
    assert "too small to show a brain" in err or "implausible image size" in err
    assert "Traceback" not in err and not out.exists()
