"""The PDF report of one analysed series: ``write_pdf(result, path, deidentify=False)``.

Library choice: fpdf2, a small pure-Python PDF writer, rather than Qt's QPdfWriter. Reports are written by
the CLI (``brainscan analyze --pdf``) and by tests on machines without a display, so the report must not
pull in Qt (the core never imports it; see tests/test_core_imports.py). fpdf2 writes real, searchable and
copyable text (not a picture of a page), embeds the slice images as PNG, and needs nothing else.

Contents, in order: title and disclaimer; patient/study header (or, de-identified, the study code in place
of name, ID, birth date, accession number and institution); on page 1, the headline (the verdict as
brainscan.presentation.headline words and colours it everywhere) with any caution that limits it right
under it, the one series tumour probability, the tumour-type bars and the verdict rule; measurements (area
per shown slice, or why a slice has no outline; volume, longest diameter); 3 to 6 slices with the tumour
outline (and, on request, the Grad-CAM heat map beside it); the models (name, version, SHA-256 prefix,
validation metrics); warnings; dates; and "Page x of y" on every page.

Text uses DejaVu Sans (resources/fonts, embedded as a subset), which covers Latin, Greek and Cyrillic
scripts, so names such as "Ő", "Ψ" or "Ж" print as written. Every string passes through :func:`pdf_text`,
which maps typographic punctuation to ASCII, strips accents the font cannot show and replaces any other
character (CJK, and right-to-left scripts, which would need text shaping) with "?", so no name (DICOM names
may hold any script) can make the report fail. DICOM person names are shown with their ``^`` separators as
spaces.

The file is written atomically: the PDF is built in memory, written to a temporary file in the target
folder and moved over ``path`` with ``os.replace``; on any failure no partial file is left behind.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import logging
import os
import tempfile
import unicodedata
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from brainscan import __version__
from brainscan.config import resources_dir
from brainscan.errors import ReportError
from brainscan.orientation import DisplayOrientation, display_orientation, to_display
from brainscan.presentation import (
    ABNORMAL,
    CANNOT_ASSESS,
    DETACHED,
    DISCLAIMER,
    HEATMAP_CAVEAT,
    LIMITED,
    NO_SEGMENTER,
    NO_TUMOUR_FOUND,
    NOT_FOUND,
    NOT_GATED,
    OUTLINE_REASONS,
    SERIES_PROBABILITY,
    TUMOUR,
    TYPE_PROBABILITIES,
    UNASSESSED,
    dicom_date,
    header_meta,
    identifying_names,
    outline_status,
    person_name,
    redact,
    render_slice,
    result_headline,
    type_probabilities,
)
from brainscan.render import png_bytes
from brainscan.types import NO_TUMOUR, AnalysisResult

log = logging.getLogger(__name__)

FONT = "DejaVuSans"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
"""The report's font by style, in resources/fonts (with its licence)."""
MIN_SLICES = 3
MAX_SLICES = 6
IMAGE_MAX_SIDE = 384  # pixels per embedded slice image (about 200 dpi at the printed size)
UNSHOWN = "?"

_PUNCTUATION = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "-",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2248": "~",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
    "\t": " ",
    "\r": " ",
}


def font_path(style: str = "") -> Path:
    return resources_dir() / "fonts" / FONT_FILES[style]


@functools.lru_cache(maxsize=1)
def _font_characters() -> frozenset[int]:
    """Code points every style of the report font has a glyph for (empty when the font files are missing)."""
    from fontTools.ttLib import TTFont

    covered = None
    for style in FONT_FILES:
        try:
            with TTFont(font_path(style), lazy=True) as font:
                cmap = set(font.getBestCmap())
        except OSError:
            return frozenset()
        covered = cmap if covered is None else covered & cmap
    return frozenset(covered or ())


def _drawable(ch: str) -> bool:
    """Whether the report font draws ``ch`` correctly without text shaping (no right-to-left scripts)."""
    return ord(ch) in _font_characters() and unicodedata.bidirectional(ch) not in ("R", "AL", "AN")


def pdf_text(text: object, keep_newlines: bool = False) -> str:
    """``text`` as a string the report font can draw, never raising.

    Characters the font has (Latin, Greek, Cyrillic, e.g. "Ø", "ő", "Ψ", "Ж", "µ", "²") are kept; typographic
    punctuation becomes ASCII; other accented letters lose their accent; anything else becomes "?". Control
    characters become spaces (newlines too, unless ``keep_newlines``).
    """
    out = []
    for ch in unicodedata.normalize("NFC", str(text)):
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in _PUNCTUATION:
            out.append(_PUNCTUATION[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            out.append(" ")
        elif _drawable(ch):
            out.append(ch)
        else:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if _drawable(c) and not unicodedata.combining(c)
            )
            out.append(base if base.strip() else UNSHOWN)
    return "".join(out)


def display_label(label: str) -> str:
    """Class name for people: "notumor" -> "no tumour"."""
    return "no tumour" if label == NO_TUMOUR else label


def _timestamp(value: str) -> str:
    """ISO timestamp -> "YYYY-MM-DD HH:MM UTC" (or the value unchanged when it does not parse)."""
    try:
        moment = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value or "unknown"
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")


def _percent(p: float) -> str:
    return f"{100.0 * float(p):.1f}%"


def _length_unit(result: AnalysisResult) -> str:
    return "mm" if result.area_unit == "mm2" else "px"


def _area_unit(result: AnalysisResult) -> str:
    return "mm\u00b2" if result.area_unit == "mm2" else "px"


def report_slices(result: AnalysisResult) -> list[int]:
    """Slices the report shows, in series order: the verdict's key slices (up to 6), topped up to 3.

    With fewer than 3 key slices, the neighbours of the key slices are added first, then slices around the
    middle of the series, so that a tumour is shown with its context and a negative series shows 3 slices.
    """
    n = result.volume.n_slices
    chosen = [i for i in dict.fromkeys(result.verdict.key_slices) if 0 <= i < n][:MAX_SLICES]
    if len(chosen) < MIN_SLICES:
        middle = n // 2
        candidates = [k + d for d in (1, -1, 2, -2) for k in list(chosen)]
        candidates += sorted(range(n), key=lambda i: (abs(i - middle), i))
        for i in candidates:
            if len(chosen) >= min(MIN_SLICES, n):
                break
            if 0 <= i < n and i not in chosen:
                chosen.append(i)
    return sorted(chosen)


IMAGE_SET_MEASURE = "not measured (a set of unrelated images: only per image)"


def _volume_text(result: AnalysisResult) -> str:
    if result.volume.image_set:
        return IMAGE_SET_MEASURE
    if result.volume_ml is not None:
        return f"{result.volume_ml:.2f} mL"
    volume = result.volume
    if volume.pixel_spacing_mm is None or volume.slice_spacing_mm is None or result.area_unit != "mm2":
        return "not available (no slice spacing)"
    return "not available (no segmentation model)"


def _diameter_text(result: AnalysisResult) -> str:
    if result.volume.image_set:
        return IMAGE_SET_MEASURE
    if result.longest_diameter is None:
        return "not measured (no tumour outlined)"
    return f"{result.longest_diameter:.1f} {_length_unit(result)}"


def _metric(value: object) -> str | None:
    """A validation metric as short text; None for values a summary cannot show (matrices, nested data)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, str):
        return value if len(value) <= 60 else value[:57] + "..."
    return None


class _Document(FPDF):
    """A4 portrait with a footer on every page: disclaimer short form, study code, "Page x of y"."""

    def __init__(self, footer_note: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        for style in FONT_FILES:
            if not font_path(style).is_file():
                raise ReportError(f"The report font {font_path(style)} is missing; reinstall BrainScan.")
            self.add_font(FONT, style, font_path(style))
        self.footer_note = footer_note
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self) -> None:
        self.set_y(-13)
        self.set_font(FONT, size=7.5)
        self.set_text_color(90, 90, 90)
        self.cell(0, 4, pdf_text(self.footer_note), align="L")
        self.set_x(self.l_margin)
        self.cell(0, 4, f"Page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0, 0, 0)

    # small helpers -----------------------------------------------------------------------------------
    @property
    def content_width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def heading(self, text: str) -> None:
        self.ensure(14)
        self.ln(2)
        self.set_font(FONT, "B", 11.5)
        self.cell(0, 7, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(170, 170, 170)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1.5)
        self.set_font(FONT, size=9.5)

    def paragraph(self, text: str, size: float = 9.5, style: str = "", height: float = 4.6) -> None:
        self.set_font(FONT, style, size)
        self.multi_cell(0, height, pdf_text(text, keep_newlines=True), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(FONT, size=9.5)

    def fields(self, rows: list[tuple[str, str]], key_width: float = 42) -> None:
        for key, value in rows:
            self.set_font(FONT, "B", 9.5)
            self.cell(key_width, 5, pdf_text(key))
            self.set_font(FONT, size=9.5)
            self.multi_cell(0, 5, pdf_text(value), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def ensure(self, height: float) -> None:
        """Start a new page unless ``height`` mm still fit above the bottom margin."""
        if self.get_y() + height > self.page_break_trigger:
            self.add_page()


def _header_section(doc: _Document, result: AnalysisResult, deidentify: bool) -> None:
    header = header_meta(result, deidentify)
    volume = result.volume
    rows: list[tuple[str, str]] = []
    if deidentify:
        rows.append(("Study code", header["study_code"]))
    else:
        name = person_name(header["patient_name"])
        shown = pdf_text(name)
        if UNSHOWN in shown and UNSHOWN not in name:
            shown += "  (characters this report's font cannot show are printed as ?)"
        rows += [
            ("Patient", shown or "not recorded"),
            ("Patient ID", header["patient_id"] or "not recorded"),
            ("Birth date", dicom_date(header["patient_birth_date"]) or "not recorded"),
        ]
        if header["accession_number"]:
            rows.append(("Accession number", header["accession_number"]))
        if header["institution"]:
            rows.append(("Institution", header["institution"]))
        rows.append(("Study code", header["study_code"]))
    rows.append(("Study date", dicom_date(header["study_date"]) or "not recorded"))
    if header["study_description"]:
        rows.append(("Study", header["study_description"]))
    spacing = (
        f"pixel spacing {volume.pixel_spacing_mm[0]:.2f} x {volume.pixel_spacing_mm[1]:.2f} mm"
        if volume.pixel_spacing_mm
        else "pixel spacing unknown"
    )
    if volume.slice_spacing_mm:
        spacing += f", slice spacing {volume.slice_spacing_mm:.2f} mm"
    kind = {"dicom": "DICOM", "nifti": "NIfTI", "images": "JPEG/PNG images"}.get(result.info.kind, result.info.kind)
    rows.append(
        (
            "Series",
            f"{header['series_description'] or 'unnamed'} - {kind}, {volume.n_slices} slices of "
            f"{volume.shape[1]} x {volume.shape[2]} pixels, {spacing}",
        )
    )
    if not deidentify:
        rows.append(("Source", str(result.info.source)))
    rows.append(("Analysed", _timestamp(result.analysed_at)))
    rows.append(("Report created", _timestamp(dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))))
    doc.heading("Patient and study" if not deidentify else "Study (de-identified)")
    doc.fields(rows)
    if deidentify:
        doc.paragraph(
            "De-identified report: patient name, ID, birth date, accession number, institution and file paths "
            "were removed. The study code is derived from the study and series UIDs without revealing them: the "
            "same study always gets the same code.",
            size=8,
            style="I",
            height=4,
        )


_HEADLINE_RGB = {
    TUMOUR: (170, 20, 20),
    NO_TUMOUR_FOUND: (20, 110, 40),
    LIMITED: (150, 75, 0),
    CANNOT_ASSESS: (70, 90, 100),
    ABNORMAL: (100, 30, 140),
}
"""PDF versions of presentation.COLOURS (a shade darker, for print)."""
_NO_OUTLINE = {
    NOT_FOUND: "none found",
    DETACHED: "set apart",
    NOT_GATED: "not outlined",
    NO_SEGMENTER: "no model",
    UNASSESSED: "-",
}
"""Short forms of presentation.OUTLINE_REASONS for table cells; the full reasons follow the table."""


def _verdict_section(doc: _Document, result: AnalysisResult) -> None:
    """The headline (brainscan.presentation.headline: the same wording and colour as the screen), its cautions
    right under it, the one series P(tumour) and the tumour-type bars."""
    verdict = result.verdict
    head = result_headline(result)
    doc.heading("Result")
    doc.set_font(FONT, "B", 13)
    doc.set_text_color(*_HEADLINE_RGB[head.state])
    doc.multi_cell(0, 6.5, pdf_text(head.title), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_text_color(0, 0, 0)
    if head.cautions:
        doc.ln(0.5)
        doc.set_fill_color(255, 236, 204)
        doc.set_draw_color(200, 120, 30)
        doc.set_font(FONT, "B", 9.5)
        text = "\n".join(f"Caution: {c}" for c in head.cautions)
        doc.multi_cell(
            0, 4.6, pdf_text(text, keep_newlines=True), border=1, fill=True, padding=1.5, align="L",
            new_x=XPos.LMARGIN, new_y=YPos.NEXT,
        )  # fmt: skip
        doc.ln(1)
    if head.state == CANNOT_ASSESS:
        doc.paragraph(
            "Too few slices show enough of the head, carry usable signal or look like the images the model learned "
            f"from, so BrainScan gives no tumour probability rather than a guess. Verdict rule: {verdict.rule}.",
            size=8.5,
            height=4.2,
        )
        return
    if result.volume.image_set:  # unrelated images: no series probability, no type across people
        doc.paragraph(
            f"No series tumour probability: these images are not one series ({result.volume.image_set}); each "
            "image is judged on its own (its P(tumour) is in the table below).",
            size=10.5,
            style="B",
        )
        if verdict.basis:
            doc.paragraph(f"What the verdict rests on: {verdict.basis}.", size=8.5, height=4.2)
        doc.paragraph(f"Verdict rule: {verdict.rule}.", size=8.5, height=4.2)
        return
    doc.paragraph(f"Series tumour probability: {_percent(verdict.tumour_probability)}", size=10.5, style="B")
    doc.paragraph(f"{SERIES_PROBABILITY}.", size=8.5, height=4.2)
    if verdict.basis:
        doc.paragraph(f"What the verdict rests on: {verdict.basis}.", size=8.5, height=4.2)
    doc.ln(1)
    doc.set_font(FONT, "B", 9.5)
    # without a tumour, or with a type that does not fit the lesion, bars would suggest a type where there is none
    show_types = verdict.tumour and not verdict.type_doubt
    if show_types:
        doc.cell(0, 5, pdf_text(f"{TYPE_PROBABILITIES}:"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    bar_x, bar_w = doc.l_margin + 58, 80
    types = type_probabilities(verdict.probabilities) if show_types else {}
    for name, p in types.items():
        y = doc.get_y()
        bold = verdict.tumour and name == verdict.label
        doc.set_font(FONT, "B" if bold else "", 9.5)
        doc.cell(36, 5, pdf_text(display_label(name)))
        doc.cell(20, 5, _percent(p), align="R")
        doc.set_draw_color(150, 150, 150)
        doc.set_fill_color(235, 235, 235)
        doc.rect(bar_x, y + 1, bar_w, 3, style="DF")
        if p > 0:
            doc.set_fill_color(*((190, 40, 40) if verdict.tumour else (150, 150, 150)))
            doc.rect(bar_x, y + 1, bar_w * min(max(p, 0.0), 1.0), 3, style="F")
        doc.set_xy(doc.l_margin, y + 5)
    doc.set_font(FONT, size=9.5)
    doc.ln(1.5)
    not_assessed = sum(not p.assessed for p in result.predictions)
    doc.paragraph(
        f"Verdict rule: {verdict.rule}. A slice's tumour probability is 1 - P(no tumour). The tumour type is the "
        "tumour class with the highest probability over the tumour-positive slices"
        + ("; the bars above share out 100% among the three tumour types" if show_types else "")
        + f". Outlines: {result.gate}. "
        f"{verdict.assessed_slices} of {len(result.predictions)} slices were assessed"
        + (
            f"; {not_assessed} were not (too little head, no usable signal, or unlike the training images) and "
            "do not count."
            if not_assessed
            else "."
        ),
        size=8.5,
        height=4.2,
    )


def _slice_probabilities(result: AnalysisResult) -> dict[int, str]:
    """Each slice's P(tumour) as shown, or "not assessed" (with no number) for a slice the model may not judge."""
    return {p.index: _percent(p.tumour_probability) if p.assessed else "not assessed" for p in result.predictions}


def _measurements_section(doc: _Document, result: AnalysisResult, shown: list[int]) -> None:
    n = result.volume.n_slices
    unit = _area_unit(result)
    length = _length_unit(result)
    probabilities = _slice_probabilities(result)
    key = set(result.verdict.key_slices)
    doc.heading("Measurements")
    widths = (38, 30, 40, 42)
    headings = ("Slice", "P(tumour)", f"Tumour area ({unit})", f"Longest diameter ({length})")
    doc.set_font(FONT, "B", 9)
    doc.set_fill_color(230, 230, 230)
    for w, text in zip(widths, headings, strict=True):
        doc.cell(w, 6, pdf_text(text), border=1, fill=True, align="C")
    doc.ln(6)
    doc.set_font(FONT, size=9)
    missing: list[str] = []
    for index in shown:
        seg = result.segmentations.get(index)
        label = f"{index + 1} of {n}" + (" (key)" if index in key else "")
        status = outline_status(result, index)
        if not seg and status not in missing:
            missing.append(status)
        cells = (
            label,
            probabilities.get(index, "-"),
            f"{seg.area:.1f}" if seg else _NO_OUTLINE[status],
            f"{seg.longest_diameter:.1f}" if seg and seg.longest_diameter is not None else "-",
        )
        doc.ensure(6)
        for w, text in zip(widths, cells, strict=True):
            doc.cell(w, 5.5, pdf_text(text), border=1, align="C")
        doc.ln(5.5)
    for status in missing:
        if status != UNASSESSED:
            doc.paragraph(f"{_NO_OUTLINE[status]}: {OUTLINE_REASONS[status]}.", size=8, height=4)
    reasons = {p.index: p.reason for p in result.predictions if not p.assessed}
    for index in shown:
        if index in reasons:
            doc.paragraph(f"Slice {index + 1} not assessed: {reasons[index] or 'unlike the training images'}.", size=8)
    doc.ln(1.5)
    rows = [
        ("Tumour volume", _volume_text(result)),
        (
            "Longest diameter",
            _diameter_text(result) + (" (largest single outlined region, in-plane)" if result.longest_diameter else ""),
        ),
        ("Outlined slices", f"{len(result.segmentations)} of {n}"),
    ]
    if result.area_unit != "mm2":
        rows.append(("Units", "areas in px (pixels) and lengths in px: the images carry no pixel spacing"))
    doc.fields(rows, key_width=36)


def _image_fit(
    doc: _Document, rgb, x: float, y: float, box: float, orientation: DisplayOrientation | None = None
) -> None:
    """Place an RGB image inside a ``box`` x ``box`` mm square at (x, y), keeping its aspect ratio; with an
    ``orientation``, turned to the radiological convention as on screen, with the letters on its edges."""
    rgb = to_display(rgb, orientation)
    rows, cols = rgb.shape[:2]
    scale = box / max(rows, cols)
    w, h = cols * scale, rows * scale
    doc.set_fill_color(0, 0, 0)
    doc.rect(x, y, box, box, style="F")
    doc.image(io.BytesIO(png_bytes(rgb, max_side=IMAGE_MAX_SIDE)), x=x + (box - w) / 2, y=y + (box - h) / 2, w=w, h=h)
    doc.set_draw_color(120, 120, 120)
    doc.rect(x, y, box, box)
    if orientation is not None:
        _edge_letters(doc, orientation, x, y, box)


def _edge_letters(doc: _Document, o: DisplayOrientation, x: float, y: float, box: float) -> None:
    """The orientation letters inside the edges of a ``box`` mm square image (yellow on the black frame)."""
    size = 7 if box >= 40 else 5.5
    doc.set_font(FONT, "B", size)
    doc.set_text_color(255, 255, 160)
    h = size * 0.3528  # points to mm
    for text, cx, cy in (
        (o.top, x + box / 2, y + 0.6 + h / 2),
        (o.bottom, x + box / 2, y + box - 0.6 - h / 2),
        (o.left, x + 0.8 + doc.get_string_width(o.left) / 2, y + box / 2),
        (o.right, x + box - 0.8 - doc.get_string_width(o.right) / 2, y + box / 2),
    ):
        w = doc.get_string_width(text)
        doc.set_xy(cx - w / 2, cy - h / 2)
        doc.cell(w, h, text)
    doc.set_text_color(0, 0, 0)


def _slices_section(doc: _Document, result: AnalysisResult, shown: list[int], heatmaps: bool) -> None:
    n = result.volume.n_slices
    unit = _area_unit(result)
    probabilities = _slice_probabilities(result)
    key = set(result.verdict.key_slices)
    orientation = display_orientation(result.volume.orientation)
    main, small, gap = 50.0, 32.0, 3.0
    row_height = main + 13
    doc.ensure(row_height + 24)  # keep the heading with the first row of images
    doc.heading("Key slices")
    legend = "Yellow line and red fill: the tumour outline."
    if any(index in result.set_apart for index in result.verdict.key_slices):
        legend += " Cyan line: outlined apart from the tumour's largest region, not measured (see the warnings)."
    if heatmaps:
        legend += (
            " Beside a slice, where computed: the Grad-CAM heat map (where the classifier looked; blue = little, "
            f"red = most). {HEATMAP_CAVEAT}"
        )
    doc.paragraph(legend, size=8, height=4)
    doc.ln(1)
    column_width = doc.content_width / 2
    for start in range(0, len(shown), 2):
        doc.ensure(row_height)
        top = doc.get_y()
        for column, index in enumerate(shown[start : start + 2]):
            x = doc.l_margin + column * column_width
            _image_fit(doc, render_slice(result, index), x, top, main, orientation)
            if heatmaps and index in result.heatmaps:
                _image_fit(doc, render_slice(result, index, heat=True), x + main + gap, top, small, orientation)
                doc.set_xy(x + main + gap, top + small + 0.5)
                doc.set_font(FONT, size=7.5)
                doc.cell(small, 4, "Grad-CAM heat map", align="C")
            seg = result.segmentations.get(index)
            role = "key slice" if index in key else "context"
            doc.set_xy(x, top + main + 1)
            doc.set_font(FONT, "B", 8.5)
            doc.cell(column_width - 2, 4.5, pdf_text(f"Slice {index + 1} of {n} ({role})"))
            doc.set_xy(x, top + main + 5.5)
            doc.set_font(FONT, size=8.5)
            area = f"{seg.area:.1f} {unit}" if seg else _NO_OUTLINE[outline_status(result, index)]
            text = f"Tumour area {area}; P(tumour) {probabilities.get(index, '-')}"
            doc.cell(column_width - 2, 4.5, pdf_text(text))
        doc.set_xy(doc.l_margin, top + row_height)


def _models_section(doc: _Document, result: AnalysisResult) -> None:
    doc.heading("Models")
    if not result.models:
        doc.paragraph("No model information was recorded.")
    for model in result.models:
        doc.ensure(12)
        doc.paragraph(
            f"{model.name}, version {model.version}, SHA-256 {model.sha256_prefix or 'unknown'}", size=9.5, style="B"
        )
        metrics = [(str(k), _metric(v)) for k, v in sorted(model.validation.items())]
        shown = [f"{k.replace('_', ' ')} {v}" for k, v in metrics if v is not None]
        doc.paragraph(
            "Validation: " + ("; ".join(shown) if shown else "no validation metrics in the model card"),
            size=8.5,
            height=4.2,
        )
    doc.paragraph(f"BrainScan {__version__}", size=8, height=4)


def _warnings_section(doc: _Document, result: AnalysisResult, deidentify: bool) -> None:
    cautions = [f"{c} (limits the result: see page 1)" for c in result.cautions]
    warnings = list(dict.fromkeys(cautions + list(result.warnings) + list(result.volume.warnings)))
    doc.heading("Warnings")
    if not warnings:
        doc.paragraph("None.")
        return
    if deidentify:  # no path, folder or file name in a de-identified report
        warnings = redact(warnings, identifying_names(result))
    for warning in warnings:
        doc.paragraph(f"- {warning}", size=9, height=4.4)


def build_pdf(result: AnalysisResult, deidentify: bool = False, followup=None, heatmaps: bool = False) -> bytes:
    """The report as PDF bytes (see module docstring for its contents); ``followup`` (a
    brainscan.followup.FollowUp) adds the comparison with the patient's previous study after the measurements;
    ``heatmaps`` adds the Grad-CAM maps beside the key slices."""
    header = header_meta(result, deidentify)
    doc = _Document(f"BrainScan {__version__} - decision support, not a diagnosis - {header['study_code']}")
    doc.set_title(f"BrainScan report {header['study_code']}")
    doc.set_creator(f"BrainScan {__version__}")
    doc.set_subject("Brain MRI decision-support report")
    doc.add_page()
    doc.set_font(FONT, "B", 17)
    doc.cell(0, 9, "BrainScan report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    doc.set_fill_color(255, 243, 205)
    doc.set_draw_color(200, 160, 60)
    doc.set_font(FONT, "B", 9)
    doc.multi_cell(
        0, 4.6, pdf_text(DISCLAIMER), border=1, fill=True, padding=1.5, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    shown = report_slices(result)
    _header_section(doc, result, deidentify)
    _verdict_section(doc, result)
    _measurements_section(doc, result, shown)
    if followup is not None:
        from brainscan.reports.pdf_followup import followup_section

        followup_section(doc, followup)
    _slices_section(doc, result, shown, heatmaps)
    _models_section(doc, result)
    _warnings_section(doc, result, deidentify)
    doc.heading("Disclaimer")
    doc.paragraph(DISCLAIMER, size=9.5, style="B")
    return bytes(doc.output())


def write_pdf(
    result: AnalysisResult, path: Path, deidentify: bool = False, followup=None, heatmaps: bool = False
) -> Path:
    """Write the PDF report of ``result`` to ``path`` (replacing an existing file) and return ``path``.

    Args:
        result: a finished analysis.
        path: the PDF file to write; its folder must exist.
        deidentify: leave out patient name, ID, birth date, accession number, institution and file paths;
            show the study code instead.
        followup: a brainscan.followup.FollowUp to compare with the patient's previous study, or None.
        heatmaps: show the Grad-CAM heat maps beside the key slices (off by default: see HEATMAP_CAVEAT).

    Raises:
        ReportError: when the report cannot be built or the file cannot be written. Nothing is left at
            ``path`` (an existing file there is left unchanged).
    """
    path = Path(path)
    try:
        data = build_pdf(result, deidentify, followup=followup, heatmaps=heatmaps)
    except Exception as exc:  # any failure in layout or image encoding becomes one clinician-facing error
        raise ReportError(f"The PDF report could not be created: {exc}") from exc
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError(f"The report could not be saved: the folder {folder} does not exist.")
    tmp_name = None
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False) as tmp:
            tmp_name = tmp.name
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
        tmp_name = None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ReportError(
            f"The report could not be saved to {path}: {reason}. Choose another folder or file name."
        ) from exc
    finally:
        if tmp_name is not None:
            try:
                os.unlink(tmp_name)
            except OSError:
                log.warning("could not remove the temporary report file %s", tmp_name)
    log.info("PDF report written to %s (%d bytes)", path, len(data))
    return path
