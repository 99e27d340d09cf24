"""Plain-data descriptions of series, shared by `brainscan info` and `brainscan analyze` JSON."""

from __future__ import annotations

from brainscan.text import display_path
from brainscan.types import SeriesInfo, Volume


def describe_series(info: SeriesInfo, volume: Volume | None = None) -> dict:
    """A JSON-ready dict for one series; geometry comes from the loaded volume when available."""
    result = {
        "series_uid": info.series_uid,
        "description": info.description,
        "modality": info.modality,
        "kind": info.kind,
        "source": display_path(info.source),
        "slices": info.slices,
        "rows": info.rows,
        "columns": info.columns,
        "pixel_spacing_mm": None,
        "slice_spacing_mm": None,
        "sorted_by": None,
        "warnings": list(info.warnings),
        "skipped": [{"path": display_path(s.path), "reason": s.reason} for s in info.skipped],
    }
    if volume is not None:
        result.update(
            slices=volume.n_slices,
            pixel_spacing_mm=list(volume.pixel_spacing_mm) if volume.pixel_spacing_mm else None,
            slice_spacing_mm=volume.slice_spacing_mm,
            sorted_by=volume.sorted_by,
            warnings=list(volume.warnings),
            skipped=[{"path": display_path(s.path), "reason": s.reason} for s in volume.skipped],
        )
    return result
