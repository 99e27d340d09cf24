"""Write docs/models.md from the model cards, so every number about a shipped model lives once: in its card.

    python -m brainscan.training.model_docs            # rewrite docs/models.md
    python -m brainscan.training.model_docs --check    # exit 1 when docs/models.md is out of date

Every value is printed under its card key (``validation.accuracy``), so prose elsewhere can say "see the card's
key X" instead of copying a number that then goes stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from brainscan.config import PROJECT_ROOT, models_dir
from brainscan.runtime.spec import CLASSIFIER_CARD, SEGMENTER_CARD

DEFAULT_OUT = PROJECT_ROOT / "docs" / "models.md"
CARDS = (CLASSIFIER_CARD, SEGMENTER_CARD)
TEXT_KEYS = ("architecture", "how_trained", "data", "storage", "preprocessing")
"""Top-level card keys shown as prose under the heading, in this order; everything else goes into tables."""


def format_value(value) -> str:
    """One card value as table text: floats to 4 significant decimals, lists inline, text as is."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}".rstrip("0").rstrip(".")
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value).replace("|", "\\|").replace("\n", " ")


def flatten(tree: dict, prefix: str = "") -> list[tuple[str, object]]:
    """(dotted key, leaf value) pairs in the card's own order."""
    rows: list[tuple[str, object]] = []
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(flatten(value, path + "."))
        else:
            rows.append((path, value))
    return rows


def card_section(card: dict, card_file: str) -> str:
    """The markdown section of one card."""
    lines = [f"## {card.get('name', card_file)}", ""]
    lines.append(
        f"Card `resources/models/{card_file}`, version `{card.get('version', '?')}`, dated {card.get('date', '?')}."
    )
    lines.append("")
    for key in TEXT_KEYS:
        if key in card:
            lines.append(f"- `{key}`: {format_value(card[key])}")
    lines.append("")
    scalars = [(k, v) for k, v in card.items() if k not in TEXT_KEYS and not isinstance(v, dict) and k != "name"]
    groups = [(k, v) for k, v in card.items() if isinstance(v, dict)]
    for title, rows in [("card", scalars)] + [(k, flatten(v, k + ".")) for k, v in groups]:
        lines += [
            f"### `{title}`" if title != "card" else "### Identity and training",
            "",
            "| key | value |",
            "|---|---|",
        ]
        lines += [f"| `{key}` | {format_value(value)} |" for key, value in rows]
        lines.append("")
    return "\n".join(lines)


def render(folder: Path) -> str:
    """docs/models.md for the cards in ``folder``."""
    parts = [
        "# The shipped models",
        "",
        "Generated from the model cards in `resources/models/` by `python -m brainscan.training.model_docs`;",
        "do not edit by hand. Each value is shown under its card key. How the numbers are measured and how to",
        "reproduce them: [training.md](training.md). A model's history: [../CHANGELOG.md](../CHANGELOG.md).",
        "",
    ]
    for name in CARDS:
        path = folder / name
        if path.is_file():
            parts.append(card_section(json.loads(path.read_text()), name))
        else:
            parts += [f"## `{name}`", "", "Not installed.", ""]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=None, help="folder with the cards (default: shipped)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="only check that --out is up to date")
    args = parser.parse_args(argv)
    text = render(args.models_dir or models_dir())
    if args.check:
        current = args.out.read_text() if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run python -m brainscan.training.model_docs", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
