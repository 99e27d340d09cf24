"""Check the JSON of ``brainscan analyze`` from the frozen app (stdlib only; used by build_spec/smoke.sh).

    python build_spec/smoke_check.py FROZEN.json --slices 24 [--reference KERAS.json] [--models-dir DIR]

Structure: series (with the slice count), verdict (tumour bool, label among the 4 classes, tumour_probability in
[0, 1], tumour_type_given_tumour over the 3 tumour types summing to 1), one entry per slice (probabilities over
the 4 classes summing to 1), a volume_ml key, and models whose SHA-256 is
the one in a model card (Keras weights or the LiteRT file named in the card). With ``--reference`` (the same
series analysed by the development install with the same models) every probability must agree within ``--tolerance``
(default 1e-4), and labels, verdict and the outlined slices must be the same; volumes are compared within 1 %.
Prints a summary; exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

CLASSES = ("glioma", "meningioma", "notumor", "pituitary")
TUMOUR_TYPES = ("glioma", "meningioma", "pituitary")


def check_probabilities(where: str, probs: dict, errors: list[str], classes: tuple[str, ...] = CLASSES) -> None:
    if sorted(probs) != sorted(classes):
        errors.append(f"{where}: probabilities over {sorted(probs)}, expected {list(classes)}")
        return
    if any(not (0.0 <= p <= 1.0) for p in probs.values()):
        errors.append(f"{where}: probability outside [0, 1]: {probs}")
    if abs(sum(probs.values()) - 1.0) > 1e-4:
        errors.append(f"{where}: probabilities sum to {sum(probs.values()):.6f}")


def check_structure(result: dict, slices: int, models_dir: Path, errors: list[str]) -> None:
    for key in ("series", "verdict", "slices", "volume_ml", "models"):
        if key not in result:
            errors.append(f"missing key {key!r}")
    if errors:
        return
    if result["series"].get("slices") != slices:
        errors.append(f"series.slices = {result['series'].get('slices')}, expected {slices}")
    verdict = result["verdict"]
    if not isinstance(verdict.get("tumour"), bool):
        errors.append(f"verdict.tumour is {verdict.get('tumour')!r}, not a bool")
    if verdict.get("label") not in CLASSES:
        errors.append(f"verdict.label {verdict.get('label')!r} is not one of {CLASSES}")
    check_probabilities("verdict", verdict.get("tumour_type_given_tumour", {}), errors, TUMOUR_TYPES)
    if not isinstance(verdict.get("tumour_probability"), (int, float)) or not 0 <= verdict["tumour_probability"] <= 1:
        errors.append(f"verdict.tumour_probability = {verdict.get('tumour_probability')!r}")
    if verdict.get("tumour") != (verdict.get("label") != "notumor"):
        errors.append(f"verdict.tumour {verdict.get('tumour')} contradicts label {verdict.get('label')}")
    if len(result["slices"]) != slices:
        errors.append(f"{len(result['slices'])} slice entries, expected {slices}")
    for item in result["slices"]:
        if item.get("assessed") is False:  # a slice the classifier may not judge: a reason, no probabilities
            if item.get("label") != "not assessed" or not item.get("not_assessed_reason") or item.get("probabilities"):
                errors.append(f"slice {item.get('index')}: not assessed without a reason, or with probabilities")
            continue
        if item.get("label") not in CLASSES:
            errors.append(f"slice {item.get('index')}: label {item.get('label')!r}")
        check_probabilities(f"slice {item.get('index')}", item.get("probabilities", {}), errors)
    if result["volume_ml"] is not None and not (
        isinstance(result["volume_ml"], (int, float)) and result["volume_ml"] >= 0
    ):
        errors.append(f"volume_ml = {result['volume_ml']!r}")

    known = {}
    for card_path in sorted(models_dir.glob("*.json")):
        try:
            card = json.loads(card_path.read_text())
        except ValueError:
            continue
        if not isinstance(card, dict) or "sha256" not in card:
            continue
        known[card["sha256"]] = card_path.name
        litert = card.get("litert") or {}
        if isinstance(litert, dict) and litert.get("sha256"):
            known[litert["sha256"]] = card_path.name + " (litert)"
    if not result["models"]:
        errors.append("no models listed")
    for model in result["models"]:
        if model.get("sha256") not in known:
            errors.append(f"model {model.get('name')}: SHA-256 {model.get('sha256', '')[:12]} matches no model card")


def compare(frozen: dict, reference: dict, tolerance: float, errors: list[str]) -> float:
    """Largest probability difference; appends disagreements to ``errors``."""
    worst = 0.0

    def diff(where: str, a: dict, b: dict) -> None:
        nonlocal worst
        for name in a:
            d = abs(a[name] - b[name])
            worst = max(worst, d)
            if d > tolerance:
                errors.append(f"{where}: P({name}) frozen {a[name]:.6f} vs reference {b[name]:.6f} (diff {d:.2e})")

    diff("verdict", frozen["verdict"]["tumour_type_given_tumour"], reference["verdict"]["tumour_type_given_tumour"])
    diff(
        "verdict",
        {"P(tumour)": frozen["verdict"]["tumour_probability"]},
        {"P(tumour)": reference["verdict"]["tumour_probability"]},
    )
    for key in ("tumour", "label"):
        if frozen["verdict"][key] != reference["verdict"][key]:
            errors.append(f"verdict.{key}: frozen {frozen['verdict'][key]} vs reference {reference['verdict'][key]}")
    for a, b in zip(frozen["slices"], reference["slices"], strict=True):
        if a.get("assessed") is not False and b.get("assessed") is not False:
            diff(f"slice {a['index']}", a["probabilities"], b["probabilities"])
        if a["label"] != b["label"] or a.get("outlined") != b.get("outlined"):
            errors.append(
                f"slice {a['index']}: frozen {a['label']}/{a.get('outlined')} vs {b['label']}/{b.get('outlined')}"
            )
    va, vb = frozen["volume_ml"], reference["volume_ml"]
    if (va is None) != (vb is None) or (va is not None and not math.isclose(va, vb, rel_tol=0.01, abs_tol=0.01)):
        errors.append(f"volume_ml: frozen {va} vs reference {vb}")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("frozen", type=Path)
    parser.add_argument("--slices", type=int, required=True)
    parser.add_argument("--reference", type=Path)
    parser.add_argument(
        "--models-dir", type=Path, default=Path(__file__).resolve().parent.parent / "resources" / "models"
    )
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args(argv)

    frozen = json.loads(args.frozen.read_text())
    errors: list[str] = []
    check_structure(frozen, args.slices, args.models_dir, errors)
    summary = {
        "verdict": frozen.get("verdict", {}).get("label"),
        "tumour": frozen.get("verdict", {}).get("tumour"),
        "outlined_slices": sum(1 for s in frozen.get("slices", []) if s.get("outlined")),
        "volume_ml": frozen.get("volume_ml"),
        "models": [f"{m.get('name')} {m.get('version')} {m.get('sha256', '')[:12]}" for m in frozen.get("models", [])],
    }
    if args.reference and not errors:
        reference = json.loads(args.reference.read_text())
        ref_errors: list[str] = []
        check_structure(reference, args.slices, args.models_dir, ref_errors)
        errors += [f"reference: {e}" for e in ref_errors]
        if not ref_errors:
            summary["max_probability_diff_vs_reference"] = float(
                f"{compare(frozen, reference, args.tolerance, errors):.3g}"
            )
            summary["reference_volume_ml"] = reference.get("volume_ml")
    print(json.dumps(summary))
    for error in errors[:20]:
        print(f"FAIL: {error}", file=sys.stderr)
    if len(errors) > 20:
        print(f"FAIL: ... and {len(errors) - 20} more", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
