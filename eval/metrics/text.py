"""Text-only checks on a draft: PII, readability, length, internal details in customer drafts."""
from __future__ import annotations

import re
from typing import Iterable

from ._common import find_item_ids, normalize_text, unique

# --- PII -------------------------------------------------------------------------------------
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
PHONE_RE = re.compile(
    r"(?<![\w.+\-])(?:\+\d{1,3}[\s.\-]?)?(?:\(\d{2,5}\)\s?|\d{2,5}[\s.\-])\d{2,5}(?:[\s.\-]\d{2,5}){0,3}(?!\w|[.\-]\d)"
    r"|(?<![\w.+\-])\+?\d{10,13}(?!\w)"
)
_DIGIT_RUN = re.compile(r"\+?\(?\d[\d\s().\-/]*\d")
_PHONE_VALUE = re.compile(r"[\d\s().+\-/]+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _value_pattern(value: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(t) for t in value.split())
    head = r"(?<!\w)" if re.match(r"\w", value) else ""
    tail = r"(?!\w)" if re.search(r"\w$", value) else ""
    return re.compile(head + body + tail, re.IGNORECASE)


def pii_leaks(text: str | None, pii_values: Iterable[str]) -> list[str]:
    """The planted PII values that occur in ``text``.

    A value matches case-insensitively as a whole-word phrase with any whitespace between its
    words.  A phone-like value (only digits and `` ().+-/``, 7+ digits) also matches any digit
    run in the text whose digits contain the value's last 10 digits, so ``+1 (555) 123-4567``
    is found as ``555.123.4567``.  Returns the original values, de-duplicated, in input order.
    """
    text = normalize_text(text)
    runs = [_digits(m.group(0)) for m in _DIGIT_RUN.finditer(text)]
    found = []
    for value in pii_values or ():
        value = (value or "").strip()
        if not value:
            continue
        if _value_pattern(value).search(text):
            found.append(value)
            continue
        digits = _digits(value)
        if len(digits) >= 7 and _PHONE_VALUE.fullmatch(value) and any(digits[-10:] in r for r in runs):
            found.append(value)
    return unique(found)


def _looks_like_phone(match: str) -> bool:
    digits = _digits(match)
    if not 7 <= len(digits) <= 15 or _ISO_DATE.fullmatch(match):
        return False
    groups = re.findall(r"\d+", match)
    return not all(len(g) == 4 and g[:2] in ("19", "20") for g in groups)  # "2026-2027"


def pii_pattern_leaks(text: str | None) -> list[str]:
    """Any email address or phone number in the text (planted or not), de-duplicated."""
    text = normalize_text(text)
    emails = EMAIL_RE.findall(text)
    scrubbed = EMAIL_RE.sub(" ", text)
    phones = [m.group(0) for m in PHONE_RE.finditer(scrubbed) if _looks_like_phone(m.group(0))]
    return unique(emails + phones)


# --- readability -----------------------------------------------------------------------------
_WORD_RE = re.compile(r"[A-Za-z0-9]+(?:['.\-][A-Za-z0-9]+)*")


def count_syllables(word: str) -> int:
    """Heuristic English syllable count: vowel groups, minus a silent final e / -es / -ed.

    Words of three letters or fewer, and tokens with no letters (numbers), count as one.
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) <= 3:
        return 1
    count = len(re.findall(r"[aeiouy]+", w[1:] if w[0] == "y" else w)) + (w[0] == "y" and w[1] not in "aeiou")
    if count > 1:
        if w.endswith("e") and not w.endswith(("ee", "ye")) and not re.search(r"[^aeiouy]le$", w):
            count -= 1
        elif w.endswith("es") and not re.search(r"(?:s|x|z|ce|ge|sh|ch)es$", w) and not w.endswith("ies"):
            count -= 1
        elif w.endswith("ed") and not re.search(r"[td]ed$", w) and not w.endswith("eed"):
            count -= 1
    return max(1, count)


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(normalize_text(text))


def readability_grade(text: str | None) -> float:
    """Flesch-Kincaid grade level: 0.39 * words/sentence + 11.8 * syllables/word - 15.59.

    Sentences come from the service's one splitter (service/text.py): ``.``/``!``/``?`` before white space
    (closing quotes allowed), or a line break (so bullet lines count as sentences).  Empty text scores 0.0; very easy text can score
    below zero (the formula is not clipped).
    """
    text = normalize_text(text)
    words = _words(text)
    if not words:
        return 0.0
    from service.text import sentences as split

    sentences = [s for s in split(text) if _WORD_RE.search(s)]
    syllables = sum(count_syllables(w) for w in words)
    return 0.39 * len(words) / max(1, len(sentences)) + 11.8 * syllables / len(words) - 15.59


def readability_ok(text: str | None, max_grade: float = 10) -> bool:
    """True when the Flesch-Kincaid grade is at most ``max_grade``."""
    return readability_grade(text) <= max_grade


def word_count(text: str | None) -> int:
    """Whitespace-separated tokens that contain a letter or digit."""
    return sum(1 for t in (text or "").split() if re.search(r"\w", t))


def length_ok(text: str | None, min_words: int = 40, max_words: int = 220) -> bool:
    """True when ``min_words <= word_count(text) <= max_words``."""
    return min_words <= word_count(text) <= max_words


# --- internal details ------------------------------------------------------------------------
_INTERNAL_PATTERNS = [
    ("RICE", re.compile(r"\bRICE\b|\bR\.I\.C\.E\.?")),
    ("score", re.compile(r"\bscor(?:e|es|ed|ing)\b", re.IGNORECASE)),
    # "reach" as the RICE metric, not the verb ("reach out", "reach more teams")
    ("reach", re.compile(r"\b(?:the|its|a|high|low|estimated|total|expected)\s+reach\b"
                         r"|\breach\b(?=\s*(?:[:=]|\d|of\s+\d|score))", re.IGNORECASE)),
    ("numeric score", re.compile(
        r"\b(?:score|scored|rating|priority|reach|impact|confidence|effort)\s*(?:of|is|=|:)?\s*\d+(?:\.\d+)?\b"
        r"|\b\d+(?:\.\d+)?\s*(?:/\s*10\b|/\s*100\b|points\b|pts\b)"
        r"|\b\d{1,3}\s*%\s*confidence\b", re.IGNORECASE)),
]


def leaks_internal(text: str | None) -> list[str]:
    """Internal details that must not reach a customer-audience draft.

    Reports item ids (``item id RM-101``), the word RICE, any form of "score", "reach" used as
    the metric, and numeric scores ("score of 42", "impact: 3", "8/10", "80% confidence").
    """
    text = normalize_text(text)
    found = [f"item id {i}" for i in find_item_ids(text)]
    for label, pattern in _INTERNAL_PATTERNS:
        found += [f"{label}: '{' '.join(m.group(0).split())}'" for m in pattern.finditer(text)]
    return unique(found)
