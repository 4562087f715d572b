"""Date and release expressions in prose, parsed into fields so spellings compare equal.

"Q1 2027", "Q1, 2027", "2027-Q1" and "first quarter of 2027" all become {"quarter": 1, "year": 2027}. A text date is
backed by a release when each of its fields matches the release's (after month -> quarter -> half), so a draft may
be less specific than the release ("2027" for "Q1 2027") but never more ("March 2027"). Relative dates ("soon",
"next month") are never backed: the roadmap has no such thing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

ITEM_ID_RE = re.compile(r"\b([A-Z]{2,5})-\d{2,5}\b")
_TYPO = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "\u2013": "-",
                       "\u2014": " - ", "\u00a0": " ", "\u2026": "..."})


def normalize(text: str | None) -> str:
    """Straight quotes and dashes, single spaces: typography must not hide a date or break a quote match."""
    return re.sub(r"[ \t]+", " ", (text or "").translate(_TYPO))


# ---- dates -------------------------------------------------------------------------------------------------
_MONTH_NAMES = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december"]
MONTHS = {m: i + 1 for i, m in enumerate(_MONTH_NAMES)} | {m[:3]: i + 1 for i, m in enumerate(_MONTH_NAMES)}
MONTHS["sept"] = 9
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4}
_COUNT = r"(?:a\s+few|a\s+couple(?:\s+of)?|several|\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve)"
RELATIVE_RE = re.compile(
    r"\bnext\s+(?:week|month|quarter|year|release|sprint|cycle|version|update|few\s+\w+)\b"
    r"|\b(?:this|later\s+this|early\s+next|later\s+next)\s+"
    r"(?:week|month|quarter|year|half|spring|summer|fall|autumn|winter)\b"
    r"|\bend\s+of\s+(?:the\s+|this\s+|next\s+)?(?:year|quarter|month|week)\b|\b(?:EOY|EOQ|EOM)\b"
    rf"|\b(?:in|within)\s+(?:the\s+)?(?:next\s+|coming\s+)?{_COUNT}\s+(?:days?|weeks?|months?|quarters?|sprints?)\b"
    r"|\b(?:coming|upcoming)\s+(?:days|weeks|months|quarters?|release)\b"
    r"|(?<!\bas\s)\bsoon(?:er)?\b(?!\s+as\b)|\b(?:shortly|imminently|any\s+day\s+now|around\s+the\s+corner)\b"
    r"|\b(?:tomorrow|next\s+(?:monday|tuesday|wednesday|thursday|friday))\b",
    re.IGNORECASE)
_ABSOLUTE = [
    ("iso", re.compile(r"\b(20\d{2})-(0[1-9]|1[0-2])(?:-(\d{2}))?\b")),
    ("calver", re.compile(r"\bv?(20\d{2})\.(\d{1,2})(?:\.\d+)?\b")),
    ("year_quarter", re.compile(r"\b(20\d{2})\s*[-/]?\s*([QH])([1-4])\b", re.IGNORECASE)),
    ("quarter", re.compile(r"\b([QH])([1-4])\b(?:,?\s*(?:of\s+)?(20\d{2}|'\d{2}))?", re.IGNORECASE)),
    ("quarter_words", re.compile(r"\b(first|second|third|fourth|1st|2nd|3rd|4th)\s+(quarter|half)\b"
                                 r"(?:\s+of)?(?:\s+(?:the\s+year\s+)?(20\d{2}))?", re.IGNORECASE)),
    ("month", re.compile(r"\b(?:(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?)?(" + "|".join(
        m.capitalize() for m in _MONTH_NAMES) + r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)\b\.?"
        r"(?:\s+(\d{1,2})(?:st|nd|rd|th)?\b)?(?:,?\s*(?:of\s+)?(20\d{2}))?", re.IGNORECASE)),
    ("season", re.compile(r"\b(spring|summer|fall|autumn|winter|holidays?)\b(?:\s+(?:of\s+)?(20\d{2}))?", re.IGNORECASE)),
    ("fy", re.compile(r"\bFY\s?'?(\d{2}|\d{4})\b")),
    ("year", re.compile(r"\b(20[2-3]\d)\b")),
]
_CONTEXT = re.compile(r"\b(?:in|by|until|before|after|from|since|early|mid|late|of|end|during|this|next|the)\s*-?\s*$", re.I)


def _date_fields(kind: str, m: re.Match, text: str) -> dict | None:
    g = m.groups()
    if kind == "iso":
        return {"year": int(g[0]), "month": int(g[1])} | ({"day": int(g[2])} if g[2] else {})
    if kind == "calver":
        return {"version": f"{int(g[0])}.{int(g[1])}", "year": int(g[0])}
    if kind == "year_quarter":
        return {"year": int(g[0]), "quarter" if g[1].upper() == "Q" else "half": int(g[2])}
    if kind == "quarter":
        if g[0].upper() == "H" and int(g[1]) > 2:
            return None
        year = (2000 + int(g[2][1:]) if g[2].startswith("'") else int(g[2])) if g[2] else None
        return {"quarter" if g[0].upper() == "Q" else "half": int(g[1])} | ({"year": year} if year else {})
    if kind == "quarter_words":
        return {g[1].lower(): _ORDINALS[g[0].lower()]} | ({"year": int(g[2])} if g[2] else {})
    if kind == "month":
        day, name, day2, year = g
        day = day or day2
        if not (day or year) and (name.islower() or (name == "May" and not _CONTEXT.search(text[:m.start()]))):
            return None  # "may" the verb, "march" the verb: a bare month counts when capitalised
        return {"month": MONTHS[name.lower()]} | ({"day": int(day)} if day else {}) | ({"year": int(year)} if year else {})
    if kind == "season":
        if not g[1] and not _CONTEXT.search(text[:m.start()]):
            return None  # "fall behind" is not a date; "in the fall" is
        return {"season": g[0].lower()} | ({"year": int(g[1])} if g[1] else {})
    if kind == "fy":
        return {"fy": int(g[0]) % 100}
    return {"year": int(g[0])}


@dataclass
class DateExpr:
    text: str
    relative: bool
    fields: dict = field(default_factory=dict)


def find_dates(text: str | None) -> list[DateExpr]:
    """Every date or release expression, longest patterns first, without overlaps (item ids are not years)."""
    text = normalize(text)
    taken = [m.span() for m in ITEM_ID_RE.finditer(text)]
    found: list[tuple[int, DateExpr]] = []
    for m in RELATIVE_RE.finditer(text):
        taken.append(m.span())
        found.append((m.start(), DateExpr(m.group(0), True)))
    for kind, pattern in _ABSOLUTE:
        for m in pattern.finditer(text):
            if any(not (m.end() <= a or m.start() >= b) for a, b in taken):
                continue
            fields = _date_fields(kind, m, text)
            if fields:
                taken.append(m.span())
                found.append((m.start(), DateExpr(m.group(0).strip(), False, fields)))
    return [d for _, d in sorted(found, key=lambda p: p[0])]


def release_fields(release: str | None) -> list[dict]:
    """A release's fields plus the coarser ones they imply (month -> quarter -> half)."""
    out = []
    for d in find_dates(release):
        if d.relative:
            continue
        f = dict(d.fields)
        if "month" in f:
            f.setdefault("quarter", (f["month"] - 1) // 3 + 1)
        if "quarter" in f:
            f.setdefault("half", (f["quarter"] - 1) // 2 + 1)
        out.append(f)
    return out
