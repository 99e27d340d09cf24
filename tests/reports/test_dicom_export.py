"""DICOM results: the SEG read back with pydicom and highdicom against the app's masks, the Encapsulated PDF,
de-identification, UIDs, and the input that gets no DICOM output (with the reason)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import EncapsulatedPDFStorage, EnhancedMRImageStorage, SegmentationStorage
from pypdf import PdfReader

from brainscan.errors import ReportError
from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze
from brainscan.reports import write_dicom
from brainscan.reports.dicom_source import read_sources, require_dicom
from tests.dicom_factory import LESION_VALUE, make_dataset, phantom_slices, write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter


def analysed(folder: Path, **kwargs):
    write_phantom_series(folder, **kwargs)
    (info,) = scan([folder])
    return analyze(load(info), FakeClassifier(), FakeSegmenter(), explain=False)


@pytest.fixture
def result(tmp_path):
    return analysed(tmp_path / "series", n=8, lesion_slices=(3, 4, 5))


def source_uid_of_slice(result, index: int) -> str:
    return str(pydicom.dcmread(result.volume.slice_files[index], stop_before_pixels=True).SOPInstanceUID)


def test_seg_frames_equal_the_app_masks_and_reference_the_source_instances(result, tmp_path):
    written = write_dicom(result, tmp_path / "out")
    assert written.seg is not None and written.seg.name.endswith("-SEG.dcm")
    outlined = sorted(result.segmentations)
    assert outlined == [3, 4, 5]

    # pydicom: one frame per outlined slice, each naming its source instance
    ds = pydicom.dcmread(written.seg)
    assert ds.SOPClassUID == SegmentationStorage and ds.Modality == "SEG" and ds.SegmentationType == "BINARY"
    assert int(ds.NumberOfFrames) == len(outlined)
    frames = ds.pixel_array.reshape(len(outlined), ds.Rows, ds.Columns).astype(bool)
    by_source = {}
    for frame, item in zip(frames, ds.PerFrameFunctionalGroupsSequence, strict=True):
        source = item.DerivationImageSequence[0].SourceImageSequence[0]
        by_source[str(source.ReferencedSOPInstanceUID)] = frame
    for index in outlined:
        assert np.array_equal(by_source[source_uid_of_slice(result, index)], result.segmentations[index].mask)
    referenced = {
        str(i.ReferencedSOPInstanceUID) for s in ds.ReferencedSeriesSequence for i in s.ReferencedInstanceSequence
    }
    assert referenced == {source_uid_of_slice(result, i) for i in range(result.volume.n_slices)}
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == result.info.series_uid

    # highdicom: the same masks by source instance, and a properly coded segment
    seg = hd.seg.segread(written.seg)
    for index in range(result.volume.n_slices):
        uid = source_uid_of_slice(result, index)
        expected = result.segmentations[index].mask if index in outlined else None
        if expected is None:
            assert uid not in by_source
            continue
        pixels = seg.get_pixels_by_source_instance([uid], segment_numbers=[1])
        assert np.array_equal(pixels[0, :, :, 0].astype(bool), expected)
    (segment,) = ds.SegmentSequence
    assert segment.SegmentLabel == "Tumour" and segment.SegmentAlgorithmType == "AUTOMATIC"
    assert segment.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert segment.SegmentedPropertyTypeCodeSequence[0].CodeValue == "108369006"
    assert segment.SegmentedPropertyTypeCodeSequence[0].CodingSchemeDesignator == "SCT"
    assert "fake-segmenter" in segment.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName

    # same patient and study, new series and instance under the default root
    source = pydicom.dcmread(result.volume.slice_files[0], stop_before_pixels=True)
    assert (ds.PatientName, ds.PatientID, ds.StudyInstanceUID) == (source.PatientName, "P-001", "1.2.3.4")
    assert ds.FrameOfReferenceUID == source.FrameOfReferenceUID
    assert ds.SeriesInstanceUID.startswith("2.25.") and ds.SOPInstanceUID.startswith("2.25.")
    assert ds.SeriesInstanceUID != result.info.series_uid


def test_report_is_an_encapsulated_pdf_in_the_same_study(result, tmp_path):
    written = write_dicom(result, tmp_path / "out")
    ds = pydicom.dcmread(written.report)
    assert ds.SOPClassUID == EncapsulatedPDFStorage and ds.Modality == "DOC"
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.StudyInstanceUID == "1.2.3.4" and ds.PatientID == "P-001" and ds.BurnedInAnnotation == "YES"
    document = bytes(ds.EncapsulatedDocument)[: int(ds.EncapsulatedDocumentLength)]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)
    assert "BrainScan report" in text and "Tumour suspected: Glioma" in text
    referenced = {str(item.ReferencedSOPInstanceUID) for item in ds.SourceInstanceSequence}
    assert referenced == {source_uid_of_slice(result, i) for i in range(result.volume.n_slices)}
    seg = pydicom.dcmread(written.seg)
    assert ds.SeriesInstanceUID not in (seg.SeriesInstanceUID, result.info.series_uid)


def test_deidentified_results_carry_the_study_code_only(tmp_path):
    result = analysed(tmp_path / "series", n=6, lesion_slices=(2,), patient_name="Secret^Person")
    written = write_dicom(result, tmp_path / "out", deidentify=True)
    for path in written.files:
        ds = pydicom.dcmread(path)
        code = path.name.split("-SEG")[0].split("-report")[0]
        assert str(ds.PatientName) == code and ds.PatientID == code and code.startswith("BS-")
        assert not ds.PatientBirthDate and ds.PatientIdentityRemoved == "YES"
        raw = path.read_bytes()
        assert b"Secret" not in raw and b"P-001" not in raw and b"19700101" not in raw
        assert ds.StudyInstanceUID == "1.2.3.4"  # kept, so the references still resolve
    report = pydicom.dcmread(written.report)
    assert report.BurnedInAnnotation == "NO"


def test_no_outline_writes_the_report_only(tmp_path):
    result = analysed(tmp_path / "series", n=5, lesion_slices=())
    written = write_dicom(result, tmp_path / "out")
    assert written.seg is None and written.files == (written.report,)
    assert "No tumour was outlined" in written.notes[0]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [written.report.name]


@pytest.mark.parametrize(("kind", "reason"), [("images", "JPEG/PNG images"), ("nifti", "a NIfTI file")])
def test_non_dicom_input_says_why_it_gets_no_dicom_output(result, tmp_path, kind, reason):
    info = replace(result.info, kind=kind)
    other = replace(result, volume=replace(result.volume, info=info))
    with pytest.raises(ReportError, match=f"DICOM results need DICOM input.*{reason}"):
        require_dicom(other)
    with pytest.raises(ReportError, match="DICOM results need DICOM input"):
        write_dicom(other, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_uid_root_from_the_environment(result, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINSCAN_UID_ROOT", "1.2.826.0.1.3680043.10.9999.")
    written = write_dicom(result, tmp_path / "out")
    for path in written.files:
        ds = pydicom.dcmread(path)
        assert ds.SOPInstanceUID.startswith("1.2.826.0.1.3680043.10.9999.") and len(ds.SOPInstanceUID) <= 64
    monkeypatch.setenv("BRAINSCAN_UID_ROOT", "not-a-root")
    with pytest.raises(ReportError, match="not a usable DICOM UID root"):
        write_dicom(result, tmp_path / "out2")


def test_missing_source_file_is_a_clear_error(result, tmp_path):
    result.volume.slice_files[2].unlink()
    with pytest.raises(ReportError, match="can no longer be read"):
        write_dicom(result, tmp_path / "out")


def test_multiframe_source_frames_follow_the_file_not_the_sorted_volume(tmp_path):
    """A multi-frame file stored out of order: each SEG frame must point at the source frame it outlines."""
    order = [2, 0, 5, 3, 1, 4]  # stored frame k holds slice order[k]
    slices = phantom_slices(6, (64, 64), lesion_slices=(1, 2), radius=6)
    yy, xx = np.mgrid[:64, :64]
    slices[2][(yy - 26) ** 2 + (xx - 35) ** 2 <= 100] = LESION_VALUE  # a larger lesion on slice 2
    ds = make_dataset(slices[0], series_uid=pydicom.uid.generate_uid(), position=None, spacing=None)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    ds.NumberOfFrames = 6
    ds.PixelData = slices[order].tobytes()
    shared, orient, measures = Dataset(), Dataset(), Dataset()
    orient.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing = [0.9, 0.9]
    measures.SliceThickness = 4.0
    shared.PlaneOrientationSequence = Sequence([orient])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for stored_slice in order:
        item, position = Dataset(), Dataset()
        position.ImagePositionPatient = [0.0, 0.0, 4.0 * stored_slice]
        item.PlanePositionSequence = Sequence([position])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    del ds.ImageOrientationPatient
    ds.save_as(tmp_path / "enhanced.dcm", enforce_file_format=True)
    (info,) = scan([tmp_path / "enhanced.dcm"])
    result = analyze(load(info), FakeClassifier(), FakeSegmenter(), explain=False)
    assert sorted(result.segmentations) == [1, 2]
    assert read_sources(result).frame_of_slice == (1, 4, 0, 3, 5, 2)
    written = write_dicom(result, tmp_path / "out")
    seg = pydicom.dcmread(written.seg)
    frames = seg.pixel_array.astype(bool)
    by_frame = {}
    for frame, item in zip(frames, seg.PerFrameFunctionalGroupsSequence, strict=True):
        by_frame[int(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber)] = frame
    assert sorted(by_frame) == [1, 5]  # 1-based stored frames of slices 2 and 1
    assert np.array_equal(by_frame[5], result.segmentations[1].mask)
    assert np.array_equal(by_frame[1], result.segmentations[2].mask)


def test_real_series_from_shared_data(shared_data, tmp_path):
    """The shared Siemens MPRAGE (normal brain): a SEG from a fake outline on 3 of 24 slices reads back."""
    from brainscan.types import SegmentationResult

    (info,) = scan([shared_data / "dicom" / "SAG-anon_siemens_skyra_mprage"])
    info = replace(info, files=info.files[84:108])
    volume = load(info)
    result = analyze(volume, FakeClassifier(), None, explain=False)
    masks = {}
    for index in (10, 11, 12):
        mask = np.zeros(volume.shape[1:], bool)
        mask[100:130, 90:140] = True
        masks[index] = SegmentationResult(index, mask, float(mask.sum()), "mm2", 10.0)
    result = replace(result, segmentations=masks)
    written = write_dicom(result, tmp_path / "out")
    seg = hd.seg.segread(written.seg)
    assert seg.number_of_segments == 1 and int(seg.NumberOfFrames) == 3
    for index in (10, 11, 12):
        uid = source_uid_of_slice(result, index)
        pixels = seg.get_pixels_by_source_instance([uid], segment_numbers=[1])
        assert np.array_equal(pixels[0, :, :, 0].astype(bool), masks[index].mask)


def test_seg_on_an_enhanced_source_with_per_frame_orientation(tmp_path):
    """Issue 27 item 5: an enhanced MR written as Siemens XA does (orientation only per frame) gets a volume, and
    its SEG points each frame at the stored source frame it outlines."""
    from tests.dicom_factory import write_enhanced_series

    order = [2, 0, 5, 3, 1, 4]
    slices = phantom_slices(6, (64, 64), lesion_slices=(1, 2), radius=6)
    write_enhanced_series(tmp_path / "xa.dcm", slices=slices, stored_order=order, slice_gap=4.0)
    (info,) = scan([tmp_path / "xa.dcm"])
    volume = load(info)
    assert volume.sorted_by == "position" and volume.slice_spacing_mm == pytest.approx(4.0)
    result = analyze(volume, FakeClassifier(), FakeSegmenter(), explain=False)
    assert sorted(result.segmentations) == [1, 2]
    seg = pydicom.dcmread(write_dicom(result, tmp_path / "out").seg)
    referenced = {
        int(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedFrameNumber): frame
        for frame, item in zip(seg.pixel_array.astype(bool), seg.PerFrameFunctionalGroupsSequence, strict=True)
    }
    assert sorted(referenced) == sorted([order.index(1) + 1, order.index(2) + 1])
    assert np.array_equal(referenced[order.index(1) + 1], result.segmentations[1].mask)


def test_seg_of_a_series_shown_turned_still_lands_on_the_source_pixels(tmp_path):
    """Issue 27 item 2: a series stored mirrored and upside down is turned only on screen; the SEG frame of each
    outlined slice marks exactly the lesion pixels of the source file it references, in the stored grid."""
    result = analysed(tmp_path / "flipped", n=8, lesion_slices=(3, 4), orientation=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0))
    assert sorted(result.segmentations) == [3, 4]
    seg = pydicom.dcmread(write_dicom(result, tmp_path / "out").seg)
    by_uid = {str(pydicom.dcmread(p).SOPInstanceUID): p for p in result.volume.slice_files}
    checked = 0
    for frame, item in zip(seg.pixel_array.astype(bool), seg.PerFrameFunctionalGroupsSequence, strict=True):
        source = pydicom.dcmread(
            by_uid[str(item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID)]
        )
        assert np.array_equal(frame, source.pixel_array == LESION_VALUE)
        checked += 1
    assert checked == 2
