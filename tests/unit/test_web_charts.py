"""Inline SVG charts and badges: valid XML, escaped text, safe on empty and constant data."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from markupsafe import Markup

from service.web.charts import bar_chart, format_value, sparkline, status_badge, trend_badge

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert(1)</script> & "quotes" <img src=x onerror=alert(1)>'


def parse(svg: Markup) -> ET.Element:
    assert isinstance(svg, Markup)
    return ET.fromstring(str(svg))  # raises if the markup is not well-formed


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(f"{SVG}text")]


def test_bar_chart_draws_one_bar_per_row_with_labels_and_values():
    root = parse(bar_chart([("Exports", 12), ("SSO", 6), ("Pricing", 0)], width=400, title="Themes by notes"))
    assert root.get("role") == "img" and root.get("aria-label") == "Themes by notes"
    assert root.find(f"{SVG}title").text == "Themes by notes"
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    widths = [float(b.get("width")) for b in bars]
    assert len(bars) == 3 and widths[0] > widths[1] > widths[2] == 0
    assert math.isclose(widths[0], 2 * widths[1], rel_tol=0.01)
    assert {"Exports", "SSO", "Pricing", "12", "6", "0"} <= set(texts(root))
    assert root.get("width") == "400"


def test_bar_chart_escapes_labels_and_title():
    svg = bar_chart([(EVIL, 3)], title=EVIL)
    raw = str(svg)
    assert "<script>" not in raw and "<img" not in raw
    assert "&lt;script&gt;" in raw
    root = parse(svg)
    assert root.get("aria-label") == EVIL  # escaped in the markup, intact as text
    row_titles = [el.text for el in root.iter(f"{SVG}title")]
    assert f"{EVIL}: 3" in row_titles


def test_bar_chart_has_no_style_attributes():
    raw = str(bar_chart([("a", 1), ("b", 2)])) + str(sparkline([1, 2, 3])) + str(sparkline([]))
    assert "style=" not in raw and "<style" not in raw
    assert 'fill="' in raw and 'font-family="' in raw  # legible without any stylesheet


def test_bar_chart_empty_and_odd_values():
    root = parse(bar_chart([], title="Nothing"))
    assert "No data" in texts(root)
    assert "no data" in root.get("aria-label")
    root = parse(bar_chart([("zero", 0), ("also zero", 0)]))
    assert all(float(r.get("width")) == 0 for r in root.iter(f"{SVG}rect") if r.get("class") == "bar")
    root = parse(bar_chart([("nan", float("nan")), ("neg", -4), ("none", None), ("big", 1e9), ("half", 0.5)]))
    assert {"0", "-4", "1,000,000,000", "0.5"} <= set(texts(root))
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert widths[:3] == [0, 0, 0] and widths[3] > 0


def test_bar_chart_shortens_long_labels_but_keeps_them_in_the_tooltip():
    label = "A very long theme label that would never fit next to its bar in a small chart"
    root = parse(bar_chart([(label, 5)], width=300))
    shown = texts(root)[0]
    assert shown.endswith("\u2026") and len(shown) < len(label)
    assert any(label in (t.text or "") for t in root.iter(f"{SVG}title"))


def test_bar_chart_rejects_unsafe_colours():
    raw = str(bar_chart([("a", 1)], color='red" onload="alert(1)'))
    assert "onload" not in raw


def test_sparkline_polyline_and_last_point():
    root = parse(sparkline([1, 3, 2, 5], width=120, height=24))
    points = [tuple(map(float, p.split(","))) for p in root.find(f"{SVG}polyline").get("points").split()]
    assert len(points) == 4
    xs, ys = zip(*points)
    assert list(xs) == sorted(xs) and 0 <= min(xs) and max(xs) <= 120
    assert 0 <= min(ys) and max(ys) <= 24
    assert ys[3] == min(ys)  # the highest value is drawn at the top
    dot = root.find(f"{SVG}circle")
    assert (float(dot.get("cx")), float(dot.get("cy"))) == points[-1]
    assert "from 1 to 5" in root.get("aria-label")


def test_sparkline_constant_single_and_empty():
    root = parse(sparkline([4, 4, 4], height=24))
    ys = {p.split(",")[1] for p in root.find(f"{SVG}polyline").get("points").split()}
    assert ys == {"12"}  # a flat line through the middle
    root = parse(sparkline([7]))
    assert len(root.find(f"{SVG}polyline").get("points").split()) == 2
    root = parse(sparkline([]))
    assert root.find(f"{SVG}polyline") is None and root.find(f"{SVG}line") is not None
    assert root.get("aria-label") == "no data"
    parse(sparkline([float("nan"), None, 2]))  # non-finite values count as 0


def test_sparkline_escapes_title():
    raw = str(sparkline([1, 2], title=EVIL))
    assert "<script>" not in raw and "<img" not in raw
    assert parse(Markup(raw)).get("aria-label") == EVIL


def test_trend_badge():
    for trend in ("new", "growing", "stable", "fading"):
        html = str(trend_badge(trend))
        assert f'class="badge trend trend-{trend}"' in html and trend in html
    assert "trend-growing" in str(trend_badge("Growing"))
    odd = str(trend_badge(EVIL))
    assert "trend-other" in odd and "<script>" not in odd and "&lt;script&gt;" in odd
    assert str(trend_badge(None)) == "" and str(trend_badge("")) == ""


def test_status_badge():
    assert "status-shipped tone-green" in str(status_badge("shipped"))
    assert "status-in_progress tone-blue" in str(status_badge("in progress"))
    assert "status-planned tone-teal" in str(status_badge("planned"))
    assert "status-under_consideration tone-amber" in str(status_badge("under_consideration"))
    assert "status-not_on_roadmap tone-grey" in str(status_badge("not-on-roadmap"))
    assert ">under consideration<" in str(status_badge("under_consideration"))
    odd = str(status_badge(EVIL))
    assert "status-other" in odd and "<script>" not in odd


def test_format_value():
    assert format_value(1234) == "1,234"
    assert format_value(0.5) == "0.5"
    assert format_value(2.345) == "2.35" or format_value(2.345) == "2.34"
    assert format_value(3.0) == "3"
