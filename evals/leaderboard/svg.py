"""Small inline SVG figures for the HTML page: a radar chart of category scores per model and
arena ratings with their interval bars. Plain SVG text, no scripts, no external files.

SVG text does not wrap or push its box wider, so a name drawn in SVG gets room estimated from its
characters (`text_width`); the radar's legend is left to the page (HTML), where a long model name
simply wraps."""

from __future__ import annotations

import math
import unicodedata
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22")


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def text_width(text: str, font_px: float) -> float:
    """A generous estimate of `text`'s drawn width: a full em for wide (CJK) characters, 0.62 em
    for others (sans-serif Latin averages about 0.55)."""
    return font_px * sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.62 for ch in text)


def radar(title: str, axes: list[str], series: dict[str, list[float | None]], maximum: float,
          size: int = 360) -> str:
    """One polygon per model over `axes` (values 0..maximum), in `color(k)` for the k-th model (the
    page draws the legend); a missing value is drawn at the centre with a hollow marker, so a gap is
    visible rather than read as a score."""
    cx = cy = size / 2
    radius = size / 2 - 75
    n = len(axes)

    def point(i: int, value: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * max(0.0, min(value, maximum)) / maximum
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    parts = [f'<svg class="radar" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
             f'width="{size}" height="{size}" viewBox="0 0 {size} {size}">',
             f"<title>{escape(title)}</title>"]
    for level in (0.25, 0.5, 0.75, 1.0):
        ring = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, level * maximum) for i in range(n)))
        parts.append(f'<polygon points="{ring}" fill="none" stroke="#ccc"/>')
    for i, axis in enumerate(axes):
        x, y = point(i, maximum)
        lx, ly = point(i, maximum * 1.1)
        side = (lx - cx) / radius
        anchor = "start" if side > 0.3 else "end" if side < -0.3 else "middle"
        parts.append(f'<line x1="{cx}" y1="{cy}" x2="{x:.1f}" y2="{y:.1f}" stroke="#ccc"/>')
        parts.append(f'<text x="{lx:.1f}" y="{ly:.1f}" font-size="11" text-anchor="{anchor}" '
                     f'dominant-baseline="middle">{escape(axis)}</text>')
    for k, (model, values) in enumerate(series.items()):
        pts = [point(i, v if v is not None else 0.0) for i, v in enumerate(values)]
        parts.append(f'<polygon class="series" data-model="{escape(model)}" points="'
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
                     + f'" fill="{color(k)}" fill-opacity="0.12" stroke="{color(k)}" stroke-width="2"/>')
        for (x, y), v in zip(pts, values):
            fill = color(k) if v is not None else "white"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{fill}" stroke="{color(k)}"/>')
    parts.append("</svg>")
    return "".join(parts)


def interval_bars(rows: list[tuple[str, float, float, float, int]], plot_width: int = 340) -> str:
    """(model, rating, lower, upper, votes) per row, best first: a dot at the rating, a bar across the
    interval; the names get the room their longest one needs."""
    left = max(170, round(16 + max(text_width(r[0], 12) for r in rows)))
    right, step = 130, 26
    width = left + plot_width + right
    height = 40 + step * len(rows)
    low = min(r[2] for r in rows)
    high = max(r[3] for r in rows)
    pad = max(10.0, (high - low) * 0.05)
    low, high = low - pad, high + pad

    def x(value: float) -> float:
        return left + (width - left - right) * (value - low) / (high - low)

    parts = [f'<svg class="intervals" role="img" aria-label="arena ratings with 95% intervals" '
             f'xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
             "<title>Arena ratings with 95% bootstrap intervals</title>"]
    for i, (model, rating, lower, upper, votes) in enumerate(rows):
        y = 20 + step * i
        parts.append(f'<text x="{left - 8}" y="{y + 4}" font-size="12" text-anchor="end">{escape(model)}</text>')
        parts.append(f'<line class="interval" data-model="{escape(model)}" x1="{x(lower):.1f}" y1="{y}" '
                     f'x2="{x(upper):.1f}" y2="{y}" stroke="{color(i)}" stroke-width="4" stroke-linecap="round"/>')
        parts.append(f'<circle cx="{x(rating):.1f}" cy="{y}" r="5" fill="white" stroke="{color(i)}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 6}" y="{y + 4}" font-size="11">{rating:.0f} ({votes} votes)</text>')
    axis_y = 20 + step * len(rows)
    parts.append(f'<line x1="{left}" y1="{axis_y - 8}" x2="{width - right}" y2="{axis_y - 8}" stroke="#999"/>')
    parts.extend(f'<text x="{x(value):.1f}" y="{axis_y + 8}" font-size="10" text-anchor="middle">{value:.0f}</text>'
                 for value in (low + pad, (low + high) / 2, high - pad))
    parts.append("</svg>")
    return "".join(parts)
