"""The report's "Follow-up" section: the comparison with the patient's previous study and the volume over time.

The plot is drawn with fpdf's own lines and text (vector graphics, sharp at any zoom and searchable), from
the same points the result panel draws (brainscan.followup.plot_points).
"""

from __future__ import annotations

from brainscan.followup import FollowUp, plot_points

PLOT_WIDTH = 120.0  # mm, the plot area without its labels
PLOT_HEIGHT = 42.0


def followup_section(doc, followup: FollowUp) -> None:
    """Append the section to ``doc`` (a brainscan.reports.pdf document)."""
    doc.ensure(PLOT_HEIGHT + 40)
    doc.heading("Follow-up (same patient, earlier studies in this BrainScan's history)")
    for line in followup.lines():
        doc.paragraph(line, size=9.5, style="B" if line.startswith("Change in volume") else "")
    doc.ln(2)
    _plot(doc, followup)


def _plot(doc, followup: FollowUp) -> None:
    points, top = plot_points(followup)
    left = doc.l_margin + 16
    y0 = doc.get_y() + 4
    bottom = y0 + PLOT_HEIGHT
    from brainscan.reports.pdf import FONT

    doc.set_font(FONT, size=7.5)
    doc.set_draw_color(120, 120, 120)
    doc.set_line_width(0.2)
    doc.line(left, y0, left, bottom)
    doc.line(left, bottom, left + PLOT_WIDTH, bottom)
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - fraction * PLOT_HEIGHT
        doc.set_draw_color(220, 220, 220)
        if fraction:
            doc.line(left, y, left + PLOT_WIDTH, y)
        doc.set_xy(doc.l_margin, y - 2)
        doc.cell(15, 4, f"{fraction * top:g} mL", align="R")
    xy = [(left + 4 + x * (PLOT_WIDTH - 8), bottom - v / top * PLOT_HEIGHT) for x, v in points]
    doc.set_draw_color(198, 40, 40)
    doc.set_line_width(0.5)
    for (x1, y1), (x2, y2) in zip(xy, xy[1:], strict=False):
        doc.line(x1, y1, x2, y2)
    doc.set_fill_color(198, 40, 40)
    for (x, y), measurement in zip(xy, followup.history, strict=True):
        doc.ellipse(x - 1.1, y - 1.1, 2.2, 2.2, style="F")
        doc.set_xy(x - 12, y - 5.5)
        doc.cell(24, 4, f"{measurement.volume_ml:.2f}", align="C")
    for i in _labelled(xy, spacing=24.0):
        doc.set_xy(xy[i][0] - 12, bottom + 1)
        doc.cell(24, 4, followup.history[i].study_date.isoformat(), align="C")
    doc.set_line_width(0.2)
    doc.set_draw_color(0, 0, 0)
    doc.set_xy(doc.l_margin, bottom + 6)
    doc.paragraph("Tumour volume (mL) by study date; the last point is this study.", size=8, style="I", height=4)


def _labelled(xy: list[tuple[float, float]], spacing: float) -> list[int]:
    """Indices of the points whose date fits under the axis: the current (last) one, then earlier ones at least
    ``spacing`` mm from the last label."""
    chosen: list[int] = []
    for i in range(len(xy) - 1, -1, -1):
        if not chosen or xy[chosen[-1]][0] - xy[i][0] >= spacing:
            chosen.append(i)
    return chosen
