"""Find date / release expressions in prose and decide whether a roadmap release backs them.

An expression is parsed into *fields* (``year``, ``quarter``, ``half``, ``month``, ``day``,
``season``, ``fy``, ``version``) so that spelling variants compare equal: "Q1 2027",
"Q1, 2027", "2027-Q1", "first quarter of 2027" and "Q1 '27" all become
``{"quarter": 1, "year": 2027}``.  A text expression is *backed* by a release when every field
of the text expression is present with the same value in the release, after deriving coarser
fields from finer ones (month -> quarter -> half; a CalVer version ``2026.10`` -> year 2026).
So the text may be less specific than the release ("Q1" or "2027" for a "Q1 2027" release)
but never more specific ("March 2027" is not backed by "Q1 2027").  CalVer versions do not
imply a month (``2026.10`` might not mean October).  Relative expressions ("next month",
"soon", "in a few weeks", "by end of year") are never backed.  Bare years are only picked up
in ``YEAR_RANGE`` (2026-2030); years inside a longer expression are always parsed.
"""
from __future__ import annotations

import re
from typing import Any, NamedTuple

from ._common import ITEM_ID_RE

YEAR_RANGE = range(2026, 2031)
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december"]
MONTHS = {m: i + 1 for i, m in enumerate(_MONTHS)} | {m[:3]: i + 1 for i, m in enumerate(_MONTHS)}
MONTHS["sept"] = 9
_ORDINAL = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_NUM = r"(?:a\s+few|a\s+couple(?:\s+of)?|several|\d+|one|two|three|four|five|six|seven|eight|nine|ten)"
_UNIT = r"(?:days?|weeks?|months?|quarters?|sprints?)"
_FULL = "January|February|March|April|May|June|July|August|September|October|November|December"
_ABBR = "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec"
_YEAR_TAIL = r"(?:,?\s*(?:of\s+)?(?:(20\d{2})\b|'(\d{2})\b|FY\s?'?(\d{2}|\d{4})\b))?"

RELATIVE_RE = re.compile(
    r"\bnext\s+(?:week|month|quarter|year|release|sprint|cycle|version|few\s+(?:days|weeks|months))\b"
    r"|\b(?:this|later\s+this|early\s+next|later\s+next)\s+"
    r"(?:week|month|quarter|year|half|spring|summer|fall|autumn|winter)\b"
    r"|\b(?:(?:by|before|until|at)\s+)?(?:the\s+)?end\s+of\s+(?:the\s+|this\s+|next\s+)?(?:year|quarter|month)\b"
    r"|\b(?:EOY|EOQ|EOM)\b"
    rf"|\b(?:in|within)\s+(?:the\s+)?(?:next\s+|coming\s+)?{_NUM}\s+{_UNIT}"
    r"|\bin\s+the\s+(?:coming|next)\s+(?:days|weeks|months|quarters)\b"
    r"|\b(?:coming|upcoming)\s+(?:weeks|months|quarters?|release)\b"
    r"|(?<!\bas\s)(?<!\bany\s)(?<!\banytime\s)(?<!\bany\stime\s)\bsoon(?:er)?\b(?!\s+as\b)"
    r"|\b(?:shortly|imminently|any\s+day\s+now|right\s+around\s+the\s+corner)\b",
    re.IGNORECASE,
)
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", re.compile(r"\b(20\d{2})-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?\b")),
    ("calver", re.compile(r"\bv?(20\d{2})\.(\d{1,2})(?:\.(\d{1,3}))?\b")),
    ("semver", re.compile(r"\b(?:v|version\s+)(\d+(?:\.\d+)+)\b", re.IGNORECASE)),
    ("year_quarter", re.compile(r"\b(20\d{2})\s*[-/]?\s*([QH])([1-4])\b", re.IGNORECASE)),
    ("quarter", re.compile(r"\b([QH])([1-4])\b" + _YEAR_TAIL, re.IGNORECASE)),
    ("quarter_words", re.compile(
        r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(quarter|half)\b(?:\s+of)?(?:\s+(?:the\s+year\s+)?(20\d{2})\b)?",
        re.IGNORECASE)),
    ("month", re.compile(
        rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?)?({_FULL}|{_ABBR})\b\.?"
        rf"(?:\s+(\d{{1,2}})(?:st|nd|rd|th)?\b)?(?:,?\s*(?:of\s+)?(20\d{{2}})\b)?")),
    ("season", re.compile(r"\b(spring|summer|fall|autumn|winter)\s+(?:of\s+)?(20\d{2})\b", re.IGNORECASE)),
    ("fy", re.compile(r"\bFY\s?'?(\d{4}|\d{2})\b")),
    ("year", re.compile(r"\b(20\d{2})\b")),
]
_MAY_CONTEXT = re.compile(r"\b(?:in|by|until|before|after|from|since|early|mid|late|of|end|during)\s*-?\s*$",
                          re.IGNORECASE)


class DateExpr(NamedTuple):
    """One date/release expression found in a text."""

    text: str
    kind: str  # "relative" or "absolute"
    fields: dict[str, Any]
    start: int
    end: int


def _year(four: str | None, two: str | None = None) -> int | None:
    if four:
        return int(four)
    return 2000 + int(two) if two else None


def _fields(kind: str, m: re.Match[str], text: str) -> dict[str, Any] | None:
    g = m.groups()
    if kind == "iso":
        return {"year": int(g[0]), "month": int(g[1])} | ({"day": int(g[2])} if g[2] else {})
    if kind == "calver":
        parts = [str(int(p)) for p in g if p is not None]
        return {"version": ".".join(parts), "year": int(g[0])}
    if kind == "semver":
        return {"version": ".".join(str(int(p)) for p in g[0].split("."))}
    if kind == "year_quarter":
        return {"year": int(g[0]), ("quarter" if g[1].upper() == "Q" else "half"): int(g[2])}
    if kind == "quarter":
        if g[0].upper() == "H" and int(g[1]) > 2:
            return None
        out: dict[str, Any] = {("quarter" if g[0].upper() == "Q" else "half"): int(g[1])}
        if g[2] or g[3]:
            out["year"] = _year(g[2], g[3])
        elif g[4]:
            out["fy"] = _year(g[4] if len(g[4]) == 4 else None, g[4] if len(g[4]) == 2 else None)
        return out
    if kind == "quarter_words":
        n = _ORDINAL[g[0].lower()]
        if g[1].lower() == "half" and n > 2:
            return None
        return {g[1].lower(): n} | ({"year": int(g[2])} if g[2] else {})
    if kind == "month":
        day, name, day2, year = g
        day = day or day2
        bare = not day and not year
        if bare and (name in _ABBR.split("|") or (name == "May" and not _MAY_CONTEXT.search(text[: m.start()]))):
            return None  # "Jan" may be a person, "may" a modal verb
        return ({"month": MONTHS[name.lower()]} | ({"day": int(day)} if day else {})
                | ({"year": int(year)} if year else {}))
    if kind == "season":
        season = g[0].lower().replace("autumn", "fall")
        return {"season": season, "year": int(g[1])}
    if kind == "fy":
        return {"fy": _year(g[0] if len(g[0]) == 4 else None, g[0] if len(g[0]) == 2 else None)}
    year = int(g[0])
    return {"year": year} if year in YEAR_RANGE else None


def find_dates(text: str | None) -> list[DateExpr]:
    """All date/release expressions in ``text``, longest-pattern-first, non-overlapping, in order."""
    text = text or ""
    taken: list[tuple[int, int]] = []
    found: list[DateExpr] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken)

    taken.extend(m.span() for m in ITEM_ID_RE.finditer(text))  # "RM-2027" is an id, not a year

    for m in RELATIVE_RE.finditer(text):
        taken.append(m.span())
        found.append(DateExpr(m.group(0), "relative", {}, *m.span()))
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            if not free(*m.span()):
                continue
            fields = _fields(kind, m, text)
            if fields:
                taken.append(m.span())
                found.append(DateExpr(m.group(0).strip(), "absolute", fields, *m.span()))
    return sorted(found, key=lambda d: d.start)


def _expand(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    if "month" in out:
        out.setdefault("quarter", (out["month"] - 1) // 3 + 1)
    if "quarter" in out:
        out.setdefault("half", (out["quarter"] - 1) // 2 + 1)
    return out


def release_fields(release: str | None) -> list[dict[str, Any]]:
    """Absolute expressions in a roadmap ``release`` string, with derived coarser fields."""
    return [_expand(d.fields) for d in find_dates(release) if d.kind == "absolute"]


def is_backed(expr: DateExpr, releases: list[dict[str, Any]]) -> bool:
    """True when ``expr`` is absolute and consistent with (no more specific than) some release."""
    if expr.kind != "absolute":
        return False
    return any(all(k in r and r[k] == v for k, v in expr.fields.items()) for r in releases)


def same_release(a: str, b: str) -> bool:
    """True when two release strings denote the same thing ("Q1 2027" vs "Q1, 2027")."""
    fa = [d.fields for d in find_dates(a) if d.kind == "absolute"]
    fb = [d.fields for d in find_dates(b) if d.kind == "absolute"]
    return bool(fa) and fa == fb
