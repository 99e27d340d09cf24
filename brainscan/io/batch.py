"""Scan paths and load every series found, keeping each failure with its series (for the CLI commands)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from brainscan.errors import BrainScanError
from brainscan.io.load import load
from brainscan.io.scan import scan
from brainscan.types import SeriesInfo, Volume


@dataclass(frozen=True)
class LoadOutcome:
    """One scanned series: its volume, or the clinician-readable error that stopped it."""

    info: SeriesInfo
    volume: Volume | None
    error: BrainScanError | None = None


def scan_and_load(paths: Iterable[Path]) -> list[LoadOutcome]:
    """``scan(paths)`` then ``load`` each series, in scan order; a series that fails does not stop the others.

    Raises:
        SeriesLoadError: when the paths hold no readable series at all (from ``scan``).
    """
    outcomes = []
    for info in scan(list(paths)):
        try:
            outcomes.append(LoadOutcome(info, load(info)))
        except BrainScanError as exc:
            outcomes.append(LoadOutcome(info, None, exc))
    return outcomes
