"""PDF report: real text (parsed back with pypdf), de-identification, images, units, errors, Unicode."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from brainscan.errors import ReportError
from brainscan.io import load, scan
from brainscan.pipeline.analyze import analyze
from brainscan.presentation import DISCLAIMER, study_code
from brainscan.reports import pdf as pdf_module
from brainscan.reports import write_pdf
from brainscan.reports.pdf import pdf_text, person_name, report_slices
from brainscan.types import CANNOT_ASSESS, ModelInfo
from tests.dicom_factory import phantom_slices, write_phantom_series
from tests.fakes import FakeClassifier, FakeSegmenter


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series") / "s"
    write_phantom_series(folder, patient_name="Doe^Jane")
    return analyze(load(scan([folder])[0]), FakeClassifier(), FakeSegmenter())


@pytest.fixture(scope="module")
def png_result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pngs")
    for k, pixels in enumerate(phantom_slices(5, shape=(48, 64), lesion_slices=(1, 2))):
        Image.fromarray((pixels // 4).astype(np.uint8)).save(folder / f"slice{k}.png")

    class EightBitFake(FakeClassifier):
        def _one(self, pixels):
            return [0.9, 0.05, 0.03, 0.02] if (np.asarray(pixels) > 200).any() else [0.02, 0.02, 0.94, 0.02]

    class EightBitSegmenter(FakeSegmenter):
        def predict(self, slices, batch_size=16):
            return [(np.asarray(s) > 200).astype(np.float32) for s in slices]

    return analyze(load(scan([folder])[0]), EightBitFake(), EightBitSegmenter())


def pdf_pages(path):
    reader = PdfReader(path)
    return reader, [page.extract_text() for page in reader.pages]


def text_of(path) -> str:
    return " ".join(" ".join(pdf_pages(path)[1]).split())


def image_draws(reader) -> int:
    """Image placements over all pages (fpdf2 stores identical images once, so count the Do operators)."""
    return sum(len(re.findall(rb"/I\d+ Do", page.get_contents().get_data())) for page in reader.pages)


def with_patient_name(result, name: str):
    info = result.volume.info
    info = dataclasses.replace(info, meta=dataclasses.replace(info.meta, patient_name=name))
    return dataclasses.replace(result, volume=dataclasses.replace(result.volume, info=info))


def test_report_has_verdict_probabilities_and_measurements(result, tmp_path):
    path = write_pdf(result, tmp_path / "report.pdf")
    assert path == tmp_path / "report.pdf" and path.read_bytes().startswith(b"%PDF")
    text = text_of(path)
    assert "Tumour suspected: Glioma" in text
    assert "Series tumour probability: 97.0%" in text
    # the class bars are the tumour type given a tumour: the three types share 100%, no "no tumour" bar
    assert "Tumour type, given a tumour:" in text
    for label, p in (("glioma", "92.8%"), ("meningioma", "5.2%"), ("pituitary", "2.1%")):
        assert f"{label} {p}" in text
    assert "no tumour 3.0%" not in text and "notumor" not in text
    assert result.verdict.rule in text
    assert "Tumour area (mm²)" in text and f"{result.area_of(4):.1f}" in text
    assert f"Tumour volume {result.volume_ml:.2f} mL" in text
    assert f"Longest diameter {result.longest_diameter:.1f} mm" in text
    assert " ".join(DISCLAIMER.split()) in text
    assert "Doe Jane" in text and "P-001" in text and "1970-01-01" in text
    assert "Doe^Jane" not in text


def test_models_are_summarised(result, tmp_path):
    models = (ModelInfo("vgg16-classifier", "2026.1", "ab" * 32, {"accuracy": 0.9731, "confusion": [[1, 0]]}),)
    text = text_of(write_pdf(dataclasses.replace(result, models=models), tmp_path / "r.pdf"))
    assert "vgg16-classifier, version 2026.1, SHA-256 abababababab" in text
    assert "ab" * 7 not in text  # only the 12-character prefix
    assert "accuracy 0.973" in text and "confusion" not in text


def test_every_page_is_numbered(result, tmp_path):
    _, pages = pdf_pages(write_pdf(result, tmp_path / "r.pdf"))
    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page


def test_key_slices_are_embedded_with_labels(result, tmp_path):
    path = write_pdf(result, tmp_path / "r.pdf")
    reader, _ = pdf_pages(path)
    assert sum(len(page.images) for page in reader.pages) >= 1
    shown = report_slices(result)
    assert 3 <= len(shown) <= 6
    assert image_draws(reader) == len(shown)  # heat maps are off by default
    heat = sum(1 for i in shown if i in result.heatmaps)
    assert heat >= 1
    with_heat, _ = pdf_pages(write_pdf(result, tmp_path / "heat.pdf", heatmaps=True))
    assert image_draws(with_heat) == len(shown) + heat
    assert "not where the tumour is" in text_of(tmp_path / "heat.pdf")
    text = text_of(path)
    n = result.volume.n_slices
    for index in shown:
        assert f"Slice {index + 1} of {n}" in text
    assert f"Tumour area {result.area_of(shown[0]):.1f} mm²" in text


def test_deidentified_report_has_study_code_not_identity(result, tmp_path):
    path = write_pdf(result, tmp_path / "anon.pdf", deidentify=True)
    reader, _ = pdf_pages(path)
    text = text_of(path)
    for secret in ("Doe", "Jane", "P-001", "1970", "19700101", str(result.info.source)):
        assert secret not in text
    assert study_code(result) in text
    metadata = " ".join(str(v) for v in (reader.metadata or {}).values())
    assert "Doe" not in metadata and "Jane" not in metadata
    assert "Tumour suspected: Glioma" in text  # the clinical content stays


def test_png_series_reports_pixels_and_no_volume(png_result, tmp_path):
    assert png_result.verdict.tumour and png_result.area_unit == "px"
    path = write_pdf(png_result, tmp_path / "png.pdf")
    text = text_of(path)
    assert "Tumour volume not available (no slice spacing)" in text
    assert "Tumour area (px)" in text and "Longest diameter (px)" in text
    assert "mm²" not in text and "mL" not in text.replace("no volume in mL", "")
    reader, _ = pdf_pages(path)
    assert image_draws(reader) >= 3


def test_few_key_slices_are_topped_up_to_three(result):
    def keyed(*key):
        return dataclasses.replace(result, verdict=dataclasses.replace(result.verdict, key_slices=key))

    assert report_slices(keyed(4)) == [3, 4, 5]
    assert report_slices(keyed(7)) == [5, 6, 7]
    assert report_slices(keyed(0, 1)) == [0, 1, 2]
    assert report_slices(keyed(*range(8))) == list(range(6))
    assert report_slices(keyed()) == [3, 4, 5]


def test_unicode_patient_name_does_not_crash(result, tmp_path):
    odd = with_patient_name(result, "Øyvind^Ærø 李=山田^太郎\u200b\x07 ‘quoted’ — ő")
    text = text_of(write_pdf(odd, tmp_path / "u.pdf"))
    assert "Øyvind Ærø ?" in text
    assert "cannot show" in text
    assert pdf_text("a\u2265b \u2013 c\u2026") == "a>=b - c..."
    assert person_name("=山田^太郎") == "山田 太郎"
    assert person_name("Doe^Jane^^^") == "Doe Jane"


def test_unwritable_path_raises_report_error_and_leaves_no_file(result, tmp_path):
    missing = tmp_path / "no such folder" / "r.pdf"
    with pytest.raises(ReportError, match="could not be saved"):
        write_pdf(result, missing)
    assert not missing.parent.exists()

    folder = tmp_path / "out"
    (folder / "taken.pdf").mkdir(parents=True)  # a folder where the file should go: the final move fails
    with pytest.raises(ReportError, match="could not be saved") as caught:
        write_pdf(result, folder / "taken.pdf")
    assert isinstance(caught.value.__cause__, OSError)
    assert [p.name for p in folder.iterdir()] == ["taken.pdf"]  # no temporary file left behind


def test_failed_build_keeps_the_existing_report(result, tmp_path, monkeypatch):
    path = tmp_path / "r.pdf"
    path.write_bytes(b"old report")

    def broken(*args, **kwargs):
        raise ValueError("layout failed")

    monkeypatch.setattr(pdf_module, "build_pdf", broken)
    with pytest.raises(ReportError, match="could not be created") as caught:
        write_pdf(result, path)
    assert isinstance(caught.value.__cause__, ValueError)
    assert path.read_bytes() == b"old report" and list(tmp_path.iterdir()) == [path]


def test_report_module_imports_neither_qt_tensorflow_nor_the_pipeline():
    code = (
        "import sys, brainscan.reports.pdf\n"
        "bad = [m for m in ('PySide6', 'tensorflow', 'keras', 'brainscan.pipeline') if m in sys.modules]\n"
        "sys.exit(str(bad) if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def page_one(path) -> str:
    return " ".join(pdf_pages(path)[1][0].split())


def test_one_series_probability_in_the_report(result, tmp_path):
    text = text_of(write_pdf(result, tmp_path / "r.pdf"))
    assert re.findall(r"Series tumour probability: [\d.]+%", text) == ["Series tumour probability: 97.0%"]
    assert "neighbouring assessed slices reach" in text  # its one definition is printed with it


def test_cautions_stand_on_page_one_next_to_the_verdict(result, tmp_path):
    caution = "This looks like a thin-slice 3D acquisition: false tumour calls are likely."
    cautious = dataclasses.replace(result, cautions=(caution,))
    first = page_one(write_pdf(cautious, tmp_path / "c.pdf"))
    verdict = first.index("Limited reliability. Tumour suspected: Glioma")
    warning = first.index(f"Caution: {caution}")
    probability = first.index("Series tumour probability")
    assert verdict < warning < probability  # directly under the headline, before the numbers
    plain = page_one(write_pdf(result, tmp_path / "plain.pdf"))
    assert "Limited reliability" not in plain and "Caution:" not in plain


def test_cannot_assess_verdict_shows_no_verdict_and_no_probability(result, tmp_path):
    refused = dataclasses.replace(
        result.verdict,
        tumour=False,
        label=CANNOT_ASSESS,
        probabilities={},
        tumour_probability=None,
        assessable=False,
        reason="only 1 of 8 slices could be assessed",
    )
    not_assessed = tuple(
        dataclasses.replace(p, assessed=False, reason="little or no head in the image", probabilities=(0.0,) * 4)
        for p in result.predictions
    )
    refused_result = dataclasses.replace(
        result, verdict=refused, predictions=not_assessed, segmentations={}, segmented=()
    )
    first = page_one(write_pdf(refused_result, tmp_path / "n.pdf"))
    assert "Cannot assess this series" in first
    assert "Caution: only 1 of 8 slices could be assessed" in first
    assert "Tumour suspected" not in first and "Series tumour probability" not in first
    text = text_of(tmp_path / "n.pdf")
    assert "not assessed" in text and "100.0%" not in text  # an unjudged slice shows no probability


def test_key_slice_without_outline_says_why(result, tmp_path):
    nothing_found = dataclasses.replace(result, segmentations={k: v for k, v in result.segmentations.items() if k != 4})
    text = text_of(write_pdf(nothing_found, tmp_path / "r.pdf"))
    assert "none found: no outline: the segmentation model found no tumour on this slice" in text
    assert "Tumour area none found" in text
    no_model = dataclasses.replace(result, segmentations={}, segmented=None)
    text = text_of(write_pdf(no_model, tmp_path / "m.pdf"))
    assert "no segmentation model is installed" in text
    assert "(no outline)" not in text


def test_a_key_slice_whose_outline_was_set_apart_says_so_with_a_legend(result, tmp_path):
    mask = result.segmentations[4].mask
    apart = dataclasses.replace(
        result, segmentations={k: v for k, v in result.segmentations.items() if k != 4}, set_apart={4: mask}
    )
    text = text_of(write_pdf(apart, tmp_path / "a.pdf"))
    assert "set apart: not measured: what the segmentation model outlined here lies apart" in text
    assert "Cyan line: outlined apart from the tumour's largest region, not measured" in text
    assert "Cyan line" not in text_of(write_pdf(result, tmp_path / "r.pdf"))


def test_names_in_latin_greek_and_cyrillic_print_as_written(result, tmp_path):
    odd = with_patient_name(result, "Kovács^Ődön=Ψαρρός^Ждан")
    assert person_name("Kovács^Ődön Ψαρρός Ждан") == "Kovács Ődön Ψαρρός Ждан"
    name = pdf_text(person_name("Kovács^Ődön Ψαρρός^Ждан"))
    assert name == "Kovács Ődön Ψαρρός Ждан"
    text = text_of(write_pdf(odd, tmp_path / "greek.pdf"))
    assert "Kovács Ődön" in text and "cannot show" not in text
    assert pdf_text("שלום") == "????"  # right-to-left would need text shaping: shown as ?, with the note


@pytest.mark.parametrize(("kind", "shown"), [("dicom", "DICOM"), ("nifti", "NIfTI"), ("images", "JPEG/PNG images")])
def test_series_line_names_the_input_format(result, tmp_path, kind, shown):
    info = dataclasses.replace(result.volume.info, kind=kind)
    changed = dataclasses.replace(result, volume=dataclasses.replace(result.volume, info=info))
    text = text_of(write_pdf(changed, tmp_path / f"{kind}.pdf"))
    assert f" - {shown}, " in text
    assert all(f" - {other}, " not in text for other in ("DICOM", "NIfTI", "JPEG/PNG images") if other != shown)


def test_key_images_are_turned_like_the_screen_with_orientation_letters(tmp_path, monkeypatch):
    """Issue 27 item 2: a series stored mirrored and upside down (rows to the patient's right, columns to
    anterior) was printed as stored; the key images are turned to the radiological convention, with letters."""
    import brainscan.reports.pdf as pdf_module
    from brainscan.presentation import render_slice

    folder = tmp_path / "flipped"
    write_phantom_series(folder, orientation=(-1.0, 0.0, 0.0, 0.0, -1.0, 0.0))
    flipped = analyze(load(scan([folder])[0]), FakeClassifier(), FakeSegmenter())
    drawn = []
    real_png_bytes = pdf_module.png_bytes
    monkeypatch.setattr(pdf_module, "png_bytes", lambda rgb, **kw: drawn.append(rgb) or real_png_bytes(rgb, **kw))
    path = write_pdf(flipped, tmp_path / "r.pdf")
    shown = report_slices(flipped)
    assert len(drawn) == len(shown)
    for rgb, index in zip(drawn, shown, strict=True):
        assert np.array_equal(rgb, render_slice(flipped, index)[::-1, ::-1])
    words = text_of(path).split()
    for letter in ("A", "P", "R", "L"):
        assert words.count(letter) >= len(shown), letter
