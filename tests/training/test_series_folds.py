"""Series-level folds (issue 31): cases are found person by person in both layouts, and a person's series are
never judged by a model that saw that person."""

from __future__ import annotations

import json

import numpy as np

from brainscan.pipeline.evidence import SeriesEvidence
from brainscan.training import series_folds
from brainscan.training.series_cases import series_cases
from brainscan.training.series_folds import CaseEvidence, fit_series_model, leave_one_person_out, verdicts


def test_cases_cover_dicom_folders_nifti_subjects_lesions_and_brats(tmp_path):
    volumes = tmp_path / "volumes"
    (volumes / "normal" / "scanner_a").mkdir(parents=True)
    for group, person, names in (("normal", "ixi1", ["t1"]), ("lesion", "ms1", ["flair", "t2"]),
                                 ("tumour/brats2018", "B1", ["t1ce", "flair", "seg"])):  # fmt: skip
        (volumes / group / person).mkdir(parents=True)
        for name in names:
            (volumes / group / person / f"{name}.nii.gz").write_bytes(b"")
    (volumes / "manifest.json").write_text(json.dumps({
        "normal": {"scanner_a": 10}, "brats2018": ["B1"],
        "normal_subjects": {"ixi1": {"sequences": ["t1"]}},
        "lesion_subjects": {"ms1": {"sequences": ["flair", "t2"]}},
    }))  # fmt: skip
    cases = series_cases(tmp_path)
    assert [(c.person, c.group, c.sequence) for c in cases] == [
        ("scanner_a", "normal", "dicom"), ("ixi1", "normal", "t1"), ("ms1", "lesion", "flair"),
        ("ms1", "lesion", "t2"), ("B1", "tumour", "t1ce"), ("B1", "tumour", "flair"),
    ]  # fmt: skip
    assert all(c.reference.name == "seg.nii.gz" for c in cases if c.group == "tumour")


def rows_for(values: dict[str, tuple[str, float]]) -> list[CaseEvidence]:
    """One series per person: (group, region_consistency); every other feature equal."""
    from brainscan.training.series_cases import SeriesCase

    out = []
    for person, (group, value) in values.items():
        evidence = SeriesEvidence(0.9, 0.2, 5.0, 0.8, value, 0.8, 0.8, 0.1)
        out.append(CaseEvidence(SeriesCase(person, group, "t1", tmp_path_placeholder()), evidence, None, None))
    return out


def tmp_path_placeholder():
    from pathlib import Path

    return Path("/nonexistent")


def test_the_fit_separates_and_each_person_is_judged_by_a_model_that_never_saw_them(monkeypatch):
    rows = rows_for({f"n{i}": ("normal", 0.2 + 0.02 * i) for i in range(6)}
                    | {f"t{i}": ("tumour", 0.8 + 0.02 * i) for i in range(6)})  # fmt: skip
    seen = []
    real_fit = series_folds.fit_series_model

    def spying_fit(x, y, features, l2=1.0):
        seen.append(len(y))
        return real_fit(x, y, features, l2)

    monkeypatch.setattr(series_folds, "fit_series_model", spying_fit)
    out = leave_one_person_out(rows, ("region_consistency",), 1.0)
    assert seen == [11] * 12  # one fold per person, each without that person
    groups = np.array([r.case.group for r in rows])
    assert (out[groups == "tumour"] > 0.5).all() and (out[groups == "normal"] < 0.5).all()


def test_an_outlier_person_is_not_judged_by_their_own_data():
    # a "normal" person whose evidence looks like a tumour is called tumour out of fold (their own label does not
    # pull the boundary), while a model fitted on everyone might fit them
    rows = rows_for({**{f"n{i}": ("normal", 0.2) for i in range(5)}, "odd": ("normal", 0.9),
                     **{f"t{i}": ("tumour", 0.9) for i in range(5)}})  # fmt: skip
    out = leave_one_person_out(rows, ("region_consistency",), 1.0)
    assert out[[r.case.person for r in rows].index("odd")] > 0.5


def test_three_way_verdicts():
    assert verdicts(np.array([0.9, 0.2, 0.2]), np.array([np.nan, 0.8, 0.1])) == ["tumour", "abnormal", "no tumour"]
    fit = fit_series_model(np.array([[0.0], [1.0]]), np.array([0.0, 1.0]), ("x",), 1.0)
    assert fit.probability(np.array([[1.0]]))[0] > fit.probability(np.array([[0.0]]))[0]
