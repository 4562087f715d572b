"""Small, dependency-free inline SVG charts and badges for the pages and the nightly HTML report.

Every function is pure and returns ``markupsafe.Markup``; every piece of caller-supplied text is escaped.
The SVG uses presentation attributes only (fill, stroke, font-size...), never ``style=``, so it renders
legibly inside a self-contained HTML file with no stylesheet and passes a CSP without 'unsafe-inline'.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from markupsafe import Markup, escape

FONT = "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"
TEXT_COLOR = "#1f2937"
MUTED_COLOR = "#6b7280"
BAR_COLOR = "#2563eb"
TRACK_COLOR = "#e5e7eb"
CHAR_WIDTH = 7.0  # average glyph width at font-size 12, good enough for layout

TRENDS = {
    # trend: (glyph, description)
    "new": ("\u2605", "new this period"),
    "growing": ("\u25b2", "growing"),
    "stable": ("\u25ac", "stable"),
    "fading": ("\u25bc", "fading"),
}

STATUSES = {
    # roadmap statuses and answer verdicts -> colour family used by app.css
    "shipped": "green", "available": "green",
    "in_progress": "blue",
    "planned": "teal",
    "considering": "amber", "under_consideration": "amber",
    "not_planned": "grey", "not_on_roadmap": "grey",
}


def _number(value: Any) -> float:
    """A finite float; anything missing, non-numeric or non-finite counts as 0."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def format_value(value: float) -> str:
    """1234 -> "1,234"; 0.5 -> "0.5"; 2.345 -> "2.35"."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def _fmt(x: float) -> str:
    """Coordinates: at most one decimal, no trailing zeros."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _truncate(text: str, max_chars: int) -> str:
    if max_chars < 2:
        return "\u2026"
    return text if len(text) <= max_chars else text[: max_chars - 1].rstrip() + "\u2026"


def _svg_open(width: float, height: float, label: str, css_class: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" width="{_fmt(width)}" '
        f'height="{_fmt(height)}" viewBox="0 0 {_fmt(width)} {_fmt(height)}" role="img" '
        f'aria-label="{escape(label)}" font-family="{FONT}" font-size="12">'
        f"<title>{escape(label)}</title>"
    )


def bar_chart(
    rows: Iterable[tuple[Any, Any]],
    width: int = 480,
    title: str = "Bar chart",
    *,
    bar_height: int = 18,
    gap: int = 8,
    color: str = BAR_COLOR,
    max_value: float | None = None,
) -> Markup:
    """Horizontal bars: label on the left, bar, value on the right. Long labels are shortened (full text in
    each row's tooltip). Negative values draw no bar; missing/non-finite values count as 0."""
    items = [("" if label is None else str(label), _number(value)) for label, value in rows]
    width = max(int(width), 160)
    color = _safe_color(color, BAR_COLOR)
    if not items:
        height = bar_height + 2 * gap
        return Markup(
            _svg_open(width, height, f"{title}: no data", "bar-chart")
            + f'<text x="{_fmt(width / 2)}" y="{_fmt(height / 2)}" dy="0.35em" text-anchor="middle" '
            f'fill="{MUTED_COLOR}">No data</text></svg>'
        )

    values_text = [format_value(v) for _, v in items]
    value_width = max(len(t) for t in values_text) * CHAR_WIDTH + 10
    longest = max(len(label) for label, _ in items)
    label_width = min(max(longest * CHAR_WIDTH + 10, 40), width * 0.4)
    label_chars = int((label_width - 10) // CHAR_WIDTH)
    bar_area = max(width - label_width - value_width, 20)
    top = max_value if max_value is not None and _number(max_value) > 0 else max(v for _, v in items)
    top = top if top > 0 else 1.0

    height = len(items) * (bar_height + gap) + gap
    parts = [_svg_open(width, height, title, "bar-chart")]
    for i, ((label, value), value_text) in enumerate(zip(items, values_text)):
        y = gap + i * (bar_height + gap)
        middle = y + bar_height / 2
        bar = max(0.0, min(value, top)) / top * bar_area
        parts.append(
            f'<g class="bar-row"><title>{escape(label)}: {escape(value_text)}</title>'
            f'<text x="{_fmt(label_width - 8)}" y="{_fmt(middle)}" dy="0.35em" text-anchor="end" '
            f'fill="{TEXT_COLOR}">{escape(_truncate(label, label_chars))}</text>'
            f'<rect x="{_fmt(label_width)}" y="{_fmt(y)}" width="{_fmt(bar_area)}" height="{bar_height}" '
            f'rx="3" fill="{TRACK_COLOR}"/>'
            f'<rect class="bar" x="{_fmt(label_width)}" y="{_fmt(y)}" width="{_fmt(bar)}" height="{bar_height}" '
            f'rx="3" fill="{color}"/>'
            f'<text x="{_fmt(label_width + bar_area + 6)}" y="{_fmt(middle)}" dy="0.35em" '
            f'fill="{TEXT_COLOR}">{escape(value_text)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(
    values: Sequence[Any],
    width: int = 120,
    height: int = 24,
    *,
    title: str | None = None,
    color: str = BAR_COLOR,
) -> Markup:
    """A polyline over the values with a dot on the last point. Constant data draws a flat line in the
    middle; no data draws a dashed baseline. Missing/non-finite values count as 0."""
    points = [_number(v) for v in values]
    width, height = max(int(width), 8), max(int(height), 6)
    color = _safe_color(color, BAR_COLOR)
    pad = 2.5
    if not points:
        label = title or "no data"
        return Markup(
            _svg_open(width, height, label, "sparkline")
            + f'<line x1="{_fmt(pad)}" y1="{_fmt(height / 2)}" x2="{_fmt(width - pad)}" y2="{_fmt(height / 2)}" '
            f'stroke="{MUTED_COLOR}" stroke-width="1" stroke-dasharray="3 3"/></svg>'
        )
    low, high = min(points), max(points)
    label = title or (
        f"{len(points)} values, from {format_value(points[0])} to {format_value(points[-1])} "
        f"(min {format_value(low)}, max {format_value(high)})"
    )
    if len(points) == 1:
        xs = [pad, width - pad]
        points = points * 2
    else:
        step = (width - 2 * pad) / (len(points) - 1)
        xs = [pad + i * step for i in range(len(points))]
    if high == low:
        ys = [height / 2] * len(points)
    else:
        ys = [pad + (high - v) / (high - low) * (height - 2 * pad) for v in points]
    coords = " ".join(f"{_fmt(x)},{_fmt(y)}" for x, y in zip(xs, ys))
    return Markup(
        _svg_open(width, height, label, "sparkline")
        + f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.5" '
        f'stroke-linejoin="round" stroke-linecap="round"/>'
        f'<circle cx="{_fmt(xs[-1])}" cy="{_fmt(ys[-1])}" r="2.5" fill="{color}"/></svg>'
    )


def _slug(value: Any) -> str:
    return str(value).strip().lower().replace("-", "_").replace(" ", "_")


def trend_badge(trend: Any) -> Markup:
    """<span class="badge trend trend-growing">▲ growing</span>; legible without CSS thanks to the glyph.
    Unknown trends keep their (escaped) text with the neutral class trend-other; None gives an empty string."""
    if trend is None or str(trend).strip() == "":
        return Markup("")
    key = _slug(trend)
    glyph, description = TRENDS.get(key, ("\u2022", str(trend)))
    css = f"trend-{key}" if key in TRENDS else "trend-other"
    text = key if key in TRENDS else str(trend).strip()
    return Markup(
        f'<span class="badge trend {css}" title="Trend: {escape(description)}">'
        f'<span aria-hidden="true">{glyph}</span> {escape(text)}</span>'
    )


def status_badge(status: Any) -> Markup:
    """A roadmap status or answer verdict (shipped, in_progress, planned, under_consideration, ...) as a
    coloured badge: class "badge status status-<name> tone-<green|blue|teal|amber|grey>"."""
    if status is None or str(status).strip() == "":
        return Markup("")
    key = _slug(status)
    tone = STATUSES.get(key, "grey")
    css = f"status-{key}" if key in STATUSES else "status-other"
    text = key.replace("_", " ") if key in STATUSES else str(status).strip()
    return Markup(f'<span class="badge status {css} tone-{tone}">{escape(text)}</span>')


def _safe_color(value: str, default: str) -> str:
    """Colours are interpolated into attributes: accept #hex and plain colour names only."""
    text = str(value or "")
    if text.startswith("#") and len(text) in (4, 7, 9) and all(c in "0123456789abcdefABCDEF" for c in text[1:]):
        return text
    if text.isalpha() and len(text) <= 30:
        return text
    return default


__all__ = ["bar_chart", "sparkline", "trend_badge", "status_badge", "format_value"]
