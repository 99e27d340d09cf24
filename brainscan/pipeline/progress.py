"""One rising progress fraction over analyze()'s phases, shared by the GUI worker and the CLI progress bar."""

from __future__ import annotations

CLASSIFY_SHARE = 0.7
"""Classification fills the first 70 %; outlining and heat maps the rest."""


def overall_fraction(done: int, total: int, n_slices: int) -> float:
    """Fraction done in [0, 1] from analyze()'s ``on_progress(done, total, message)``.

    analyze() first reports classification against ``total == n_slices``, then raises ``total`` once it knows
    how many slices to outline and explain. Mapping classification to 0-70 % and the later steps to 70-100 %
    keeps the bar from running backwards, or from standing at 100 % while the outlines, which take most of
    the time, are still being drawn.
    """
    if total <= 0 or n_slices <= 0:
        return 0.0
    if total <= n_slices:
        fraction = CLASSIFY_SHARE * min(done, n_slices) / n_slices
    else:
        fraction = CLASSIFY_SHARE + (1 - CLASSIFY_SHARE) * max(done - n_slices, 0) / (total - n_slices)
    return min(max(fraction, 0.0), 1.0)
