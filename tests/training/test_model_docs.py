"""docs/models.md is generated from the model cards, so each number lives once (in its card)."""

from __future__ import annotations

import json

from brainscan.training import model_docs
from tests.fakes import write_card


def test_docs_models_md_matches_the_shipped_cards():
    assert model_docs.main(["--check"]) == 0, "docs/models.md is stale: run python -m brainscan.training.model_docs"


def test_every_card_value_appears_under_its_key(tmp_path):
    write_card(tmp_path / "classifier_vgg16.json", decision={"tumour_threshold": 0.21})
    card = json.loads((tmp_path / "classifier_vgg16.json").read_text())
    text = model_docs.render(tmp_path)
    assert "| `decision.tumour_threshold` | 0.21 |" in text
    assert f"| `sha256` | {card['sha256']} |" in text
    assert "Not installed." in text  # no segmenter card in this folder


def test_check_reports_a_stale_page(tmp_path):
    write_card(tmp_path / "classifier_vgg16.json")
    out = tmp_path / "models.md"
    out.write_text("old\n")
    assert model_docs.main(["--models-dir", str(tmp_path), "--out", str(out), "--check"]) == 1
    assert model_docs.main(["--models-dir", str(tmp_path), "--out", str(out)]) == 0
    assert model_docs.main(["--models-dir", str(tmp_path), "--out", str(out), "--check"]) == 0
