"""The tumour outline as a DICOM Segmentation (SEG), written with highdicom.

Why highdicom: it builds the multi-frame functional groups, dimension index, per-frame source references
and segment descriptions that 3D Slicer, OHIF and Weasis need to lay a SEG over the source images, from a
plain mask array and the source headers; written by hand with pydicom these are easy to get subtly wrong.

What is written: one BINARY segment "Tumour" (segmented property category SCT 49755003 "Morphologically
Abnormal Structure", type SCT 108369006 "Neoplasm", anatomic region SCT 12738006 "Brain", algorithm type
AUTOMATIC with the segmenter's name and version), one frame per outlined slice (empty slices are left out),
each referring to the source instance (and frame) it outlines. The masks are the app's cleaned masks on
each slice's own pixel grid, unchanged.
"""

from __future__ import annotations

import warnings

import numpy as np
from pydicom.sr.codedict import codes

from brainscan import __version__
from brainscan.errors import ReportError
from brainscan.reports.dicom_source import SourceImages, identity_headers, mark_deidentified, new_uid
from brainscan.types import AnalysisResult

SEG_SERIES_NUMBER = 990
SEGMENT_LABEL = "Tumour"
SERIES_DESCRIPTION = "BrainScan tumour outline"
CONTENT_DESCRIPTION = "BrainScan tumour outline - decision support, not a diagnosis"
MANUFACTURER = "BrainScan"
DEVICE_SERIAL_NUMBER = "none (software)"
DISPLAY_COLOUR_LAB = (53.0, 80.0, 67.0)  # CIE L*a*b* red, the outline colour of the app


def segment_description(result: AnalysisResult):
    """The one segment: "Tumour", with its coded category, type, anatomic region and algorithm."""
    import highdicom as hd

    segmenter = result.models[1] if len(result.models) > 1 else None
    algorithm = hd.AlgorithmIdentificationSequence(
        name=f"BrainScan {segmenter.name}" if segmenter else "BrainScan",
        version=segmenter.version if segmenter else __version__,
        family=codes.cid7162.ArtificialIntelligence,
    )
    return hd.seg.SegmentDescription(
        segment_number=1,
        segment_label=SEGMENT_LABEL,
        segmented_property_category=codes.SCT.MorphologicallyAbnormalStructure,
        segmented_property_type=codes.SCT.Neoplasm,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=algorithm,
        anatomic_regions=[codes.SCT.Brain],
        display_color=hd.color.CIELabColor(*DISPLAY_COLOUR_LAB),
    )


def mask_frames(result: AnalysisResult, sources: SourceImages) -> np.ndarray:
    """(source frames, rows, columns) bool: each outlined slice's mask at its source frame, others empty."""
    volume = result.volume
    frames = np.zeros((volume.n_slices, volume.shape[1], volume.shape[2]), dtype=bool)
    for index, seg in result.segmentations.items():
        frames[sources.frame_of_slice[index]] = np.asarray(seg.mask, dtype=bool)
    return frames


def _fill_slice_thickness(result: AnalysisResult, headers) -> None:
    """SliceThickness is type 2 (it may be empty or, in sparse headers, missing), but a SEG's pixel measures need
    it: the measured slice spacing stands in, as a viewer assumes for contiguous slices."""
    for header in headers:
        if header.get("SliceThickness") in (None, ""):
            header.SliceThickness = result.volume.slice_spacing_mm or float(header.get("SpacingBetweenSlices") or 1.0)


def build_segmentation(result: AnalysisResult, sources: SourceImages, deidentify: bool = False):
    """A highdicom ``Segmentation`` of ``result``'s outlines, or None when nothing was outlined.

    Raises:
        ReportError: when highdicom refuses the source geometry (its reason is in the message).
    """
    import highdicom as hd

    if not result.segmentations:
        return None
    headers = [identity_headers(ds, result, deidentify) for ds in sources.datasets]
    _fill_slice_thickness(result, headers)
    try:
        with warnings.catch_warnings():
            # highdicom warns about one-component person names ("anonymized"), common in real data
            warnings.filterwarnings("ignore", message=".*unlikely to represent the intended person name.*")
            seg = hd.seg.Segmentation(
                source_images=headers,
                pixel_array=mask_frames(result, sources),
                segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
                segment_descriptions=[segment_description(result)],
                series_instance_uid=new_uid(),
                series_number=SEG_SERIES_NUMBER,
                sop_instance_uid=new_uid(),
                instance_number=1,
                manufacturer=MANUFACTURER,
                manufacturer_model_name="BrainScan",
                software_versions=__version__,
                device_serial_number=DEVICE_SERIAL_NUMBER,
                content_label="TUMOUR",
                content_description=CONTENT_DESCRIPTION,
                series_description=SERIES_DESCRIPTION,
            )
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise ReportError(f"The tumour outline could not be written as a DICOM Segmentation: {exc}") from exc
    if deidentify:
        mark_deidentified(seg)
    return seg
