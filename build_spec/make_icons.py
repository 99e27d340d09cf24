"""Draw the BrainScan icon: resources/icons/brainscan.svg and brainscan-{48,128,256}.png.

Run from the repository root (``.venv/bin/python build_spec/make_icons.py``); the outputs are committed, so
this only needs rerunning when the artwork changes. One geometry (a 256-unit canvas) feeds both the SVG
text and the Pillow drawing (drawn at 4x and downsampled, so the PNGs are antialiased).

The artwork: a brain seen from above (two hemispheres, a midline, a few folds) on a dark rounded tile, with
a finding circled by a scanner's target ring.
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (48, 128, 256)

TILE = "#17324d"
BRAIN_FILL = "#f3e3e1"
BRAIN_LINE = "#b7777a"
LESION = "#ff6b3d"
RING = "#ffd166"

BRAIN = (128, 126, 86, 74)  # centre x, centre y, radius x, radius y
# Folds: (centre x, centre y, radius x, radius y, start degrees, end degrees), angles clockwise from 3 o'clock.
FOLDS = (
    (94, 90, 24, 14, 180, 330),
    (72, 128, 14, 24, 100, 260),
    (100, 168, 24, 14, 30, 180),
    (162, 90, 24, 14, 210, 360),
    (186, 100, 14, 24, 280, 400),
)
LESION_AT = (160, 140, 13)  # x, y, radius
RING_R = 27


def _point(cx, cy, rx, ry, degrees):
    a = math.radians(degrees)
    return cx + rx * math.cos(a), cy + ry * math.sin(a)


def svg() -> str:
    cx, cy, rx, ry = BRAIN
    parts = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256">',
        "  <title>BrainScan</title>",
        f'  <rect x="8" y="8" width="240" height="240" rx="48" ry="48" fill="{TILE}"/>',
        f'  <ellipse cx="{cx}" cy="{cy}" rx="{rx}" ry="{ry}" fill="{BRAIN_FILL}" stroke="{BRAIN_LINE}" '
        'stroke-width="6"/>',
        f'  <line x1="{cx}" y1="{cy - ry + 4}" x2="{cx}" y2="{cy + ry - 4}" stroke="{BRAIN_LINE}" stroke-width="6"/>',
    ]
    for fx, fy, frx, fry, a0, a1 in FOLDS:
        x0, y0 = _point(fx, fy, frx, fry, a0)
        x1, y1 = _point(fx, fy, frx, fry, a1)
        large = 1 if (a1 - a0) % 360 > 180 else 0
        parts.append(
            f'  <path d="M {x0:.1f} {y0:.1f} A {frx} {fry} 0 {large} 1 {x1:.1f} {y1:.1f}" fill="none" '
            f'stroke="{BRAIN_LINE}" stroke-width="6" stroke-linecap="round"/>'
        )
    lx, ly, lr = LESION_AT
    parts += [
        f'  <circle cx="{lx}" cy="{ly}" r="{lr}" fill="{LESION}"/>',
        f'  <circle cx="{lx}" cy="{ly}" r="{RING_R}" fill="none" stroke="{RING}" stroke-width="6"/>',
    ]
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        parts.append(
            f'  <line x1="{lx + dx * (RING_R - 6)}" y1="{ly + dy * (RING_R - 6)}" x2="{lx + dx * (RING_R + 10)}" '
            f'y2="{ly + dy * (RING_R + 10)}" stroke="{RING}" stroke-width="6" stroke-linecap="round"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def png(size: int) -> Image.Image:
    k = 4 * size / 256  # supersampling scale
    big = round(256 * k)
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    d = ImageDraw.Draw(image)

    def s(*values):
        return [v * k for v in values]

    def w(width):
        return max(1, round(width * k))

    d.rounded_rectangle(s(8, 8, 248, 248), radius=48 * k, fill=TILE)
    cx, cy, rx, ry = BRAIN
    d.ellipse(s(cx - rx, cy - ry, cx + rx, cy + ry), fill=BRAIN_FILL, outline=BRAIN_LINE, width=w(6))
    d.line(s(cx, cy - ry + 4, cx, cy + ry - 4), fill=BRAIN_LINE, width=w(6))
    for fx, fy, frx, fry, a0, a1 in FOLDS:
        d.arc(s(fx - frx, fy - fry, fx + frx, fy + fry), a0, a1, fill=BRAIN_LINE, width=w(6))
    lx, ly, lr = LESION_AT
    d.ellipse(s(lx - lr, ly - lr, lx + lr, ly + lr), fill=LESION)
    r = RING_R + 3  # Pillow draws the outline inside the box; SVG centres the stroke on the radius
    d.ellipse(s(lx - r, ly - r, lx + r, ly + r), outline=RING, width=w(6))
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        d.line(
            s(lx + dx * (RING_R - 6), ly + dy * (RING_R - 6), lx + dx * (RING_R + 10), ly + dy * (RING_R + 10)),
            fill=RING,
            width=w(6),
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    (ICONS / "brainscan.svg").write_text(svg())
    for size in SIZES:
        png(size).save(ICONS / f"brainscan-{size}.png", optimize=True)
    print(f"wrote {ICONS}/brainscan.svg and brainscan-{{{','.join(map(str, SIZES))}}}.png")


if __name__ == "__main__":
    main()
