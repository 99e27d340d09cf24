"""Frozen dataclasses that cross package boundaries.

Nothing here holds Qt objects, pydicom Datasets or TensorFlow tensors: plain Python and numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# Class order and the slice rule live in brainscan.rules; CLASS_NAMES and NO_TUMOUR are re-exported here.
from brainscan.rules import CLASS_NAMES, NO_TUMOUR, predicted_classes, tumour_probability

__all__ = ["CLASS_NAMES", "NO_TUMOUR"]  # plus the dataclasses below
CANNOT_ASSESS = "cannot assess"
ABNORMAL = "abnormal"
"""Series verdict label: an abnormality whose evidence does not look like a tumour (e.g. multiple sclerosis)."""
IMAGE_SET = "image set"
"""Verdict label of a set of unrelated images: each image has its own verdict, the set has none."""
NOT_ASSESSED = "not assessed"
"""Series verdict label when too few slices could be assessed (brainscan.pipeline.verdict): no guess is made."""


@dataclass(frozen=True)
class SkippedFile:
    """A file that was found but not used, with a reason a person can act on."""

    path: Path
    reason: str


@dataclass(frozen=True)
class StudyMeta:
    """Patient and study identifiers copied from DICOM (empty strings when unknown)."""

    patient_name: str = ""
    patient_id: str = ""
    patient_birth_date: str = ""
    study_date: str = ""
    study_time: str = ""
    study_uid: str = ""
    study_description: str = ""
    accession_number: str = ""
    institution: str = ""


@dataclass(frozen=True)
class SeriesInfo:
    """What a header-only scan found: one series, ready to be loaded on demand."""

    kind: str  # "dicom", "nifti" or "images"
    series_uid: str
    description: str
    modality: str
    files: tuple[Path, ...]
    rows: int
    columns: int
    source: Path
    meta: StudyMeta = field(default_factory=StudyMeta)
    frames: int = 0  # total frames (multi-frame DICOM counts each frame)
    skipped: tuple[SkippedFile, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def slices(self) -> int:
        """Number of 2D slices this series will load into."""
        return self.frames or len(self.files)


@dataclass(frozen=True, eq=False)
class Volume:
    """Pixels of one series, sorted, in physical units where the source had them.

    ``pixels`` has shape (slices, rows, columns), float32, with rescale slope/intercept applied and
    MONOCHROME1 inverted. Spacings are in millimetres, or None when the source does not say (JPEG/PNG).
    """

    pixels: np.ndarray
    info: SeriesInfo
    pixel_spacing_mm: tuple[float, float] | None
    slice_spacing_mm: float | None
    sorted_by: str  # "position", "instance", "filename"
    window: tuple[float, float]  # (center, width)
    positions_mm: np.ndarray | None = None  # (slices, 3) ImagePositionPatient, when known
    orientation: tuple[float, ...] | None = None  # 6 direction cosines, when known
    slice_files: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    damaged_slices: tuple[int, ...] = ()  # slices that held NaN/inf values (read as 0): never assessed
    image_set: str = ""
    """Non-empty for a folder of unrelated 2D images (not one series): why, in a few words ("different sizes and
    content"); brainscan.io.images decides, and the analysis then judges each image on its own."""

    @property
    def n_slices(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.pixels.shape)  # type: ignore[return-value]


@dataclass(frozen=True)
class SlicePrediction:
    """Classifier output for one slice: calibrated probabilities in CLASS_NAMES order, and the model card's
    operating point (None: the most probable class; see brainscan.rules)."""

    index: int
    probabilities: tuple[float, ...]
    tumour_threshold: float | None = None
    assessed: bool = True
    reason: str = ""  # why the slice was not assessed (brainscan.pipeline.assessability)

    @property
    def class_index(self) -> int:
        return int(predicted_classes(np.asarray(self.probabilities)[None], self.tumour_threshold)[0])

    @property
    def label(self) -> str:
        """The slice's class, or "not assessed" for a slice the classifier may not judge."""
        return CLASS_NAMES[self.class_index] if self.assessed else NOT_ASSESSED

    @property
    def tumour_probability(self) -> float:
        return tumour_probability(self.probabilities)


@dataclass(frozen=True)
class SeriesVerdict:
    """One answer for a whole series (see brainscan.pipeline.verdict for the rule)."""

    tumour: bool
    label: str
    probabilities: dict[str, float]  # empty when the series cannot be assessed
    tumour_probability: float | None  # None when the series cannot be assessed
    key_slices: tuple[int, ...]
    rule: str
    assessable: bool = True
    reason: str = ""  # why the series cannot be assessed
    assessed_slices: int = 0
    positive_slices: int = 0
    basis: str = ""  # what the verdict rests on, in words (the series evidence for volumes)
    abnormal_probability: float | None = None  # the series model's P(abnormal, not a tumour), when it decided
    evidence: dict = field(default_factory=dict)  # the series evidence it weighed (brainscan.pipeline.evidence)
    type_doubt: str = ""  # why the named tumour type does not fit the lesion (brainscan.pipeline.type_plausibility)


@dataclass(frozen=True)
class StudyRecord:
    """One analysed study as kept in the history database."""

    source_path: str
    series_uid: str
    description: str
    verdict_label: str
    tumour: bool
    tumour_probability: float | None  # None: the series could not be assessed
    probabilities: dict[str, float]
    meta: StudyMeta = field(default_factory=StudyMeta)
    volume_ml: float | None = None
    longest_diameter_mm: float | None = None
    models: tuple[dict, ...] = ()
    thumbnail_png: bytes = b""
    result_json: str = "{}"
    created_at: str = ""
    id: int | None = None


@dataclass(frozen=True)
class ModelInfo:
    """Which model produced a result: shown in the result panel, the report, the JSON and the history."""

    name: str
    version: str
    sha256: str
    validation: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def sha256_prefix(self) -> str:
        return self.sha256[:12]

    def to_dict(self) -> dict:
        return {"name": self.name, "version": self.version, "sha256": self.sha256, "validation": self.validation}


@dataclass(frozen=True, eq=False)
class SegmentationResult:
    """Tumour outline of one slice on the slice's own pixel grid, after post-processing."""

    index: int
    mask: np.ndarray  # bool, shape (rows, columns)
    area: float  # in ``area_unit``
    area_unit: str  # "mm2" or "px"
    longest_diameter: float | None  # mm, or px when spacing is unknown


@dataclass(frozen=True, eq=False)
class AnalysisResult:
    """Everything one analysis of one series produced; the GUI, CLI, report and history all read this.

    ``segmentations`` holds only slices the gate let through (see brainscan.pipeline.analyze) whose cleaned
    mask is not empty; ``segmented`` lists every slice the segmenter ran on (None: no segmentation model), so
    a slice without an outline can say why; ``set_apart`` holds, by slice, what was outlined apart from the
    tumour's largest region (brainscan.pipeline.extent: drawn apart and reported, never measured). ``heatmaps``
    holds Grad-CAM maps in [0, 1] on the slice grid for the key slices. ``cautions`` are the warnings that change
    how far the verdict can be trusted (every output shows them in its headline, brainscan.presentation.headline);
    ``warnings`` are the others.
    """

    volume: Volume
    predictions: tuple[SlicePrediction, ...]
    verdict: SeriesVerdict
    segmentations: dict[int, SegmentationResult]
    heatmaps: dict[int, np.ndarray]
    volume_ml: float | None
    longest_diameter: float | None
    area_unit: str
    models: tuple[ModelInfo, ...]
    gate: str
    timings_s: dict[str, float] = field(default_factory=dict)
    analysed_at: str = ""
    warnings: tuple[str, ...] = ()
    cautions: tuple[str, ...] = ()
    segmented: tuple[int, ...] | None = ()
    set_apart: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def info(self) -> SeriesInfo:
        return self.volume.info

    def area_of(self, index: int) -> float:
        """Tumour area of slice ``index`` in ``area_unit`` (0 when no tumour was outlined there)."""
        seg = self.segmentations.get(index)
        return seg.area if seg is not None else 0.0
