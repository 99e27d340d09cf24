"""What every output of an analysis shows the same way: the headline, disclaimer, study code, report header,
slice images.

A base-level module (it imports only brainscan.types, brainscan.text, brainscan.rules and brainscan.render) so
that both the pipeline's JSON/history summary (brainscan.pipeline.summary) and the PDF report (brainscan.reports)
can use it without one of those packages importing the other.

De-identification removes the patient name, ID and birth date, the accession number and the institution,
and puts a study code in their place. The code is ``BS-`` plus the first 8 hex digits of SHA-256 over the
study and series UIDs: the same study always gets the same code, and the code does not reveal the UIDs.

It also removes every path, folder and file name (folder names often carry patient names): the description
of an image folder or NIfTI file is its name, so it is replaced by what the series is (``series_label``),
and ``redact`` takes the names of the series' own files and folders out of warnings and reasons as a last
guard.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from brainscan.render import compose, window_to_uint8
from brainscan.rules import outline_gate, slice_threshold
from brainscan.text import display_path, unicode_safe
from brainscan.types import ABNORMAL as ABNORMAL_LABEL
from brainscan.types import CANNOT_ASSESS as CANNOT_ASSESS_LABEL
from brainscan.types import (
    CLASS_NAMES,
    IMAGE_SET,
    NO_TUMOUR,
    NOT_ASSESSED,
    AnalysisResult,
    SeriesInfo,
    SeriesVerdict,
)

DISCLAIMER = (
    "Decision support, not a diagnosis. BrainScan's models were trained on public MRI collections and can be "
    "wrong; a qualified clinician must read the images."
)
REMOVED = "(removed)"
IDENTIFYING_FIELDS = ("patient_name", "patient_id", "patient_birth_date", "accession_number", "institution")
"""Header fields that de-identification replaces with REMOVED."""


def study_code(result: AnalysisResult) -> str:
    """Stable pseudonym for a study (see module docstring)."""
    info = result.info
    key = unicode_safe(f"{info.meta.study_uid}|{info.series_uid}").encode()
    return "BS-" + hashlib.sha256(key).hexdigest()[:8].upper()


def series_label(info: SeriesInfo, deidentify: bool = False) -> str:
    """The series description to show; de-identified, image folders and NIfTI files (whose description is
    their folder or file name) are named by what they are instead."""
    if not deidentify or info.kind == "dicom":
        return info.description
    if info.kind == "nifti":
        plane = next((p for p in ("axial", "coronal", "sagittal") if info.description.endswith(f"{p})")), "")
        return f"NIfTI volume ({plane})" if plane else "NIfTI volume"
    return f"image slices ({info.rows} x {info.columns} pixels)"


MIN_REDACTED = 3
"""Names shorter than this are not redacted from free text (they would cut through ordinary words)."""


def identifying_names(result: AnalysisResult) -> list[str]:
    """Paths and names (folders and files) of this series, longest first, for ``redact``."""
    volume = result.volume
    return series_names(result.info, [*volume.slice_files, *(s.path for s in volume.skipped)])


def series_names(info: SeriesInfo, more_paths=()) -> list[str]:
    """Paths and names of a series' folder and files (and ``more_paths``), longest first, for ``redact``."""
    paths = [info.source, *info.files, *(s.path for s in info.skipped), *more_paths]
    names: set[str] = set()
    for path in paths:
        names.add(display_path(path))
        names.add(display_path(os.path.basename(os.fspath(path))))
    return sorted((n for n in names if len(n) >= MIN_REDACTED), key=len, reverse=True)


def redact(value, names: list[str]):
    """``value`` (text, or dicts and lists of text) with every one of ``names`` replaced by REMOVED."""
    if isinstance(value, str):
        for name in names:
            if name in value:
                value = value.replace(name, REMOVED)
        return value
    if isinstance(value, dict):
        return {key: redact(item, names) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, names) for item in value]
    return value


def person_name(name: str) -> str:
    """A DICOM person name for display: first non-empty component group, ``^`` as spaces ("Doe^Jane" -> "Doe Jane").

    DICOM PN values may hold up to three groups separated by "=" (alphabetic, ideographic, phonetic).
    """
    groups = [g for g in str(name).split("=") if g.replace("^", "").strip()]
    if not groups:
        return ""
    return " ".join(groups[0].replace("^", " ").split())


def dicom_date(value: str) -> str:
    """DICOM DA "YYYYMMDD" -> "YYYY-MM-DD"; anything else unchanged."""
    value = (value or "").strip()
    if len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value


def header_meta(result: AnalysisResult, deidentify: bool) -> dict[str, str]:
    """Patient and study fields for a report header, de-identified on request.

    Identifying fields that had a value become ``"(removed)"``; empty ones stay empty. ``study_code`` is
    always present.
    """
    meta = result.info.meta
    header = {
        "patient_name": meta.patient_name,
        "patient_id": meta.patient_id,
        "patient_birth_date": meta.patient_birth_date,
        "accession_number": meta.accession_number,
        "study_date": meta.study_date,
        "study_description": meta.study_description,
        "institution": meta.institution,
        "series_description": series_label(result.info, deidentify),
        "study_code": study_code(result),
    }
    if deidentify:
        for key in IDENTIFYING_FIELDS:
            header[key] = REMOVED if header[key] else ""
    return header


def render_slice(result: AnalysisResult, index: int, opacity: float = 0.35, heat: bool = False) -> np.ndarray:
    """RGB uint8 rendering of slice ``index`` with its outline (and heat map on request), default window."""
    center, width = result.volume.window
    grey = window_to_uint8(result.volume.pixels[index], center, width)
    seg = result.segmentations.get(index)
    heatmap = result.heatmaps.get(index) if heat else None
    return compose(grey, seg.mask if seg else None, heatmap, opacity, set_apart=result.set_apart.get(index))


# ---- the headline: the verdict with everything that changes how far it can be trusted ------------------------

LABEL_NAMES = {
    "glioma": "Glioma",
    "meningioma": "Meningioma",
    "notumor": "No tumour",
    "pituitary": "Pituitary",
    NOT_ASSESSED: "Not assessed",
    CANNOT_ASSESS_LABEL: "Cannot assess",
    ABNORMAL_LABEL: "Abnormal, not typical of a tumour",
    IMAGE_SET: "A set of unrelated images, each judged on its own",
}
TUMOUR_TYPES = tuple(name for name in CLASS_NAMES if name != NO_TUMOUR)
SERIES_PROBABILITY = (
    "P(tumour) of the series: for a volume, the series model's probability from the evidence a tumour leaves "
    "(one compact region outlined alike from slice to slice, inside the head, unlike its mirror side); for image "
    "folders and short series, the highest slice tumour probability (1 - P(no tumour)) that most of a few "
    "neighbouring assessed slices reach (see the verdict rule)"
)
"""The one definition of the series tumour probability (the verdict's ``tumour_probability``) every output uses."""
TYPE_PROBABILITIES = "Tumour type, given a tumour"
"""What the class bars show: the tumour-type probabilities over the tumour-positive slices, among tumour types."""

TUMOUR, NO_TUMOUR_FOUND, LIMITED, CANNOT_ASSESS = "tumour", "no_tumour", "limited", "cannot_assess"
ABNORMAL = "abnormal"
COLOURS = {
    TUMOUR: "#c62828", NO_TUMOUR_FOUND: "#2e7d32", LIMITED: "#b35c00", CANNOT_ASSESS: "#546e7a", ABNORMAL: "#6a1b9a",
}  # fmt: skip
"""Headline colour per state: red, green, amber (a caution limits the verdict), blue-grey (no verdict), purple
(abnormal, not typical of a tumour)."""


@dataclass(frozen=True)
class Headline:
    """The verdict as every output leads with it (screen, PDF page 1, JSON verdict object, history row).

    ``state`` is TUMOUR, NO_TUMOUR_FOUND, LIMITED (a verdict with cautions that change how far it can be
    trusted) or CANNOT_ASSESS (no verdict at all); ``cautions`` are those reasons, shown right under the title.
    """

    state: str
    title: str
    probability: str
    cautions: tuple[str, ...] = ()

    @property
    def colour(self) -> str:
        return COLOURS[self.state]

    @property
    def text(self) -> str:
        """Title and probability on one line (the history row, the CLI, the JSON ``headline``)."""
        return f"{self.title} ({self.probability})" if self.probability else self.title


TYPE_MARGIN = 0.15
"""The top two tumour types closer than this (in type share) leave the type uncertain."""
TYPE_MIN_SHARE = 0.6
"""A top tumour type with a smaller share than this leaves the type uncertain."""


def uncertain_type(types: Mapping[str, float] | None) -> tuple[str, str] | None:
    """The two most likely tumour types when the type is not sure (their shares within TYPE_MARGIN of each other,
    or the top one below TYPE_MIN_SHARE), else None. ``types``: the type shares given a tumour
    (``type_probabilities``)."""
    ranked = sorted((types or {}).items(), key=lambda item: -item[1])
    if len(ranked) < 2:
        return None
    (first, p1), (second, p2) = ranked[0], ranked[1]
    if p1 - p2 < TYPE_MARGIN or p1 < TYPE_MIN_SHARE:
        return first, second
    return None


def type_words(label: str, types: Mapping[str, float] | None) -> str:
    """The tumour type as the headline says it: 'Meningioma', or 'type uncertain (Meningioma or Glioma)'."""
    unsure = uncertain_type(types)
    if unsure:
        return f"type uncertain ({LABEL_NAMES.get(unsure[0], unsure[0])} or {LABEL_NAMES.get(unsure[1], unsure[1])})"
    return LABEL_NAMES.get(label, label)


def image_set_title(images: int, suggest: int, why: str) -> str:
    """The headline of a set of unrelated images (brainscan.pipeline.verdict.image_set_verdict)."""
    reason = f" ({why})" if why else ""
    return (
        f"A set of {images} unrelated images{reason}: each image is judged on its own; {suggest} of {images} "
        "suggest a tumour"
    )


def headline(
    tumour: bool,
    label: str,
    tumour_probability: float | None,
    cautions: Sequence[str] = (),
    cannot_assess: str = "",
    types: Mapping[str, float] | None = None,
    image_set: Mapping | None = None,
    type_doubt: str = "",
) -> Headline:
    """The headline for a verdict; the one place its wording and colour are decided.

    Args:
        tumour, label, tumour_probability: the series verdict (brainscan.pipeline.verdict).
        cautions: warnings that change how far the verdict can be trusted (``AnalysisResult.cautions``): with
            any, the title says "Limited reliability" and the colour turns amber, whatever the verdict.
        cannot_assess: why the series could not be assessed (empty when it could): the headline then says so
            and shows no verdict and no probability.
        types: the tumour-type shares given a tumour: when the type is not sure (``uncertain_type``) the title
            says "type uncertain (X or Y)" instead of one type.
        image_set: for a set of unrelated images, {"images": N, "suggest_tumour": K, "reason": why}: the title
            says so, and there is no series probability.
        type_doubt: why the named type does not fit the lesion (brainscan.pipeline.type_plausibility): the title
            says "type not recognised" instead of a type.
    """
    cautions = tuple(dict.fromkeys(c for c in cautions if c))
    if cannot_assess:
        return Headline(CANNOT_ASSESS, "Cannot assess this series", "", (cannot_assess, *cautions))
    probability = f"P(tumour) {tumour_probability:.2f}" if tumour_probability is not None else ""
    if label == IMAGE_SET:
        state = TUMOUR if tumour else NO_TUMOUR_FOUND
        finding = (
            image_set_title(
                int(image_set["images"]), int(image_set["suggest_tumour"]), str(image_set.get("reason", ""))
            )
            if image_set
            else LABEL_NAMES[IMAGE_SET]
        )
        probability = ""
    elif tumour:
        kind = "type not recognised" if type_doubt else type_words(label, types)
        finding, state = f"Tumour suspected: {kind}", TUMOUR
    elif label == ABNORMAL_LABEL:
        finding, state = LABEL_NAMES[ABNORMAL_LABEL], ABNORMAL
    else:
        finding, state = "No tumour found", NO_TUMOUR_FOUND
    if cautions:
        return Headline(LIMITED, f"Limited reliability. {finding}", probability, cautions)
    return Headline(state, finding, probability)


def cannot_assess_reason(verdict) -> str:
    """Why a SeriesVerdict (or its JSON object) gives no verdict; empty when it gives one."""
    if isinstance(verdict, Mapping):
        if verdict.get("assessable", True):
            return ""
        return str(verdict.get("cannot_assess_reason") or TOO_FEW_ASSESSED)
    if getattr(verdict, "assessable", True):
        return ""
    return str(getattr(verdict, "reason", "") or TOO_FEW_ASSESSED)


TOO_FEW_ASSESSED = "Too few slices could be assessed."


def result_headline(result: AnalysisResult) -> Headline:
    """The headline of a fresh result (the PDF, and through the JSON the screen, CLI and history)."""
    v = result.verdict
    return headline(
        v.tumour,
        v.label,
        v.tumour_probability,
        result.cautions,
        cannot_assess_reason(v),
        types=type_probabilities(v.probabilities),
        image_set=image_set_of(result),
        type_doubt=v.type_doubt,
    )


def image_set_of(result: AnalysisResult) -> dict | None:
    """What the headline says of a set of unrelated images (None for one series): the JSON ``image_set``."""
    if result.verdict.label != IMAGE_SET:
        return None
    return {
        "images": len(result.predictions),
        "suggest_tumour": result.verdict.positive_slices,
        "reason": result.volume.image_set,
    }


def summary_headline(summary: Mapping) -> Headline:
    """The headline of a result_to_dict() dict, fresh or stored in the history by an older BrainScan."""
    v = summary["verdict"]
    return headline(
        bool(v.get("tumour")),
        str(v.get("label", "")),
        v.get("tumour_probability"),
        v.get("cautions", ()),
        cannot_assess_reason(v),
        types=summary_type_probabilities(summary),
        image_set=v.get("image_set"),
        type_doubt=str(v.get("type_doubt") or ""),
    )


def verdict_line(verdict: SeriesVerdict, cautions: Sequence[str] = ()) -> str:
    """The headline of a bare SeriesVerdict as one line (a terminal, a list)."""
    head = headline(verdict.tumour, verdict.label, verdict.tumour_probability, cautions, cannot_assess_reason(verdict))
    return head.text


def type_probabilities(probabilities: Mapping[str, float]) -> dict[str, float]:
    """Tumour-type probabilities given a tumour, from the verdict's class probabilities ({} when it has none,
    as for a series that cannot be assessed).

    The verdict's class probabilities are P(tumour)-weighted means over the tumour-positive slices and still
    hold some P(no tumour); dividing the tumour types by their sum gives the type distribution among tumour
    types, which is what the class bars are for (whether there is a tumour at all is the headline's P(tumour)).
    """
    types = {name: max(float(probabilities.get(name, 0.0)), 0.0) for name in TUMOUR_TYPES}
    total = sum(types.values())
    if not probabilities or total <= 0:
        return {}
    return {name: p / total for name, p in types.items()}


def summary_type_probabilities(summary: Mapping) -> dict[str, float]:
    """``tumour_type_given_tumour`` of a result_to_dict() verdict (older stored results: from ``probabilities``)."""
    v = summary["verdict"]
    if "tumour_type_given_tumour" in v:
        return dict(v["tumour_type_given_tumour"] or {})
    return type_probabilities(v.get("probabilities") or {})


HEATMAP_CAVEAT = (
    "Heat maps show where the classifier looked, not where the tumour is: measured on expert-outlined slices, "
    "their peak rarely falls on the tumour (docs/heatmaps.md)."
)
"""What the viewer, the menu and the report say about Grad-CAM heat maps (numbers: docs/heatmaps.md)."""


# ---- why a slice has no outline -----------------------------------------------------------------------------

OUTLINED, NOT_FOUND, NOT_GATED, NO_SEGMENTER = "outlined", "none_found", "not_gated", "no_segmenter"
DETACHED = "set_apart"
UNASSESSED, PENDING = "not_assessed", "pending"
OUTLINE_REASONS = {
    OUTLINED: "",
    UNASSESSED: "not outlined: the slice was not assessed",
    NOT_FOUND: "no outline: the segmentation model found no tumour on this slice",
    NOT_GATED: "not outlined: only slices with P(tumour) at or above the outline threshold in a tumour series (in a "
    "volume also the slices that continue the outlined tumour) are outlined",
    DETACHED: "not measured: what the segmentation model outlined here lies apart from the largest outlined region "
    "(drawn as a cyan line)",
    NO_SEGMENTER: "not outlined: no segmentation model is installed",
    PENDING: "outline pending: the outlines are still being computed",
}
PRELIMINARY = "Preliminary: outlines, measurements and heat maps are still being computed."
"""The warning of the preliminary result brainscan.pipeline.analyze hands ``on_verdict`` (verdict only)."""


def is_preliminary(result: AnalysisResult) -> bool:
    """Whether ``result`` is the verdict shown while outlines, measurements and heat maps are still computed."""
    return PRELIMINARY in result.warnings and not result.segmented


def outline_status(result: AnalysisResult, index: int) -> str:
    """OUTLINED, NOT_FOUND (segmented, nothing found), DETACHED (its outline was set apart from the tumour region),
    NOT_GATED (never segmented), UNASSESSED, NO_SEGMENTER, or PENDING (a preliminary result: the outline gate lets
    the slice through, its outline is not computed yet)."""
    if index in result.segmentations:
        return OUTLINED
    if index in result.set_apart:
        return DETACHED
    if any(p.index == index and not p.assessed for p in result.predictions):
        return UNASSESSED
    if is_preliminary(result):
        threshold = slice_threshold(next((p.tumour_threshold for p in result.predictions), None))
        gated = outline_gate(result.predictions, result.verdict.tumour, threshold)
        return PENDING if index in gated else NOT_GATED
    if result.segmented is None:
        return NO_SEGMENTER if result.verdict.tumour else NOT_GATED
    return NOT_FOUND if index in result.segmented else NOT_GATED
