"""Replace personal data with stable placeholders before any text is sent to an LLM endpoint.

One Redactor per LLM exchange: the same email/phone/name always gets the same placeholder, so the model
can still tell people apart, and restore() can put back only what the caller is allowed to show.
"""
from __future__ import annotations

import re
from typing import Iterable

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")

# Phones are matched by shape, not by "any run of digits", so dates (2026-11-27), versions (2.13.0),
# money ($1,200,000) and ARR figures stay. International numbers start with "+" (a bracket only around a whole
# group, so "(+1 415-555-0142)" keeps its closing bracket); US numbers need the 3-3-4 grouping with separators
# (optionally "(212)" and a leading "1"); national numbers start with a trunk 0 ("020 7946 0958", "07700 900123");
# a bare run of 10 to 13 digits ("4155550142") is a phone too, as the drafts' own PII check reads it.
_INTL = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,5}(?![\w.-]?\d)")
_US = re.compile(r"(?<![\w.+-])(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w]|[.-]\d)")
_NATIONAL = re.compile(r"(?<![\w.+-])(?:\(0[1-9]\d{0,4}\)|0[1-9]\d{0,4})(?:[ .-]?\d{2,4}){1,3}(?![\w]|[.-]?\d)")
_DIGITS = re.compile(r"(?<![\w.+-])[1-9]\d{9,12}(?![\w]|[.-]?\d)")
_PHONE = re.compile(f"{_INTL.pattern}|{_US.pattern}|{_NATIONAL.pattern}|{_DIGITS.pattern}")  # one pass: reading order

_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|NAME)_(\d+)\]")
_NEUTRAL = {"EMAIL": "[email removed]", "PHONE": "[phone removed]", "NAME": "[name removed]"}
_HONORIFICS = r"(?:mr|mrs|ms|miss|dr|prof)\.?"


class Redactor:
    def __init__(self, names: Iterable[str] = ()):
        self._mapping: dict[str, str] = {}  # placeholder -> original
        self._keys: dict[tuple[str, str], str] = {}  # (kind, normalized value) -> placeholder
        self._counts = {"EMAIL": 0, "PHONE": 0, "NAME": 0}
        # Longest names first, so "Mary Ann Smith" wins over a shorter contact "Ann Smith"; one combined
        # pattern so placeholders are numbered in reading order.
        self._names = sorted(dict.fromkeys(" ".join(str(n).split()) for n in names if n and str(n).strip()), key=len, reverse=True)
        self._name_re = (
            re.compile("|".join(f"(?P<n{i}>{_name_pattern(name)})" for i, name in enumerate(self._names))) if self._names else None
        )

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self._mapping)

    def placeholder_for(self, value: str) -> str | None:
        """The placeholder already given to `value` (e.g. the asking user's email), if any."""
        for kind, key in (("EMAIL", value.strip().lower()), ("PHONE", _phone_key(value)), ("NAME", " ".join(value.split()).lower())):
            if (kind, key) in self._keys:
                return self._keys[(kind, key)]
        return None

    def redact(self, text: str) -> str:
        if not text:
            return text
        # Emails first: their local part can look like a name ("jane.doe@") or hold digits.
        text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group(0).lower(), m.group(0)), text)
        text = _PHONE.sub(self._phone, text)
        if self._name_re is not None:
            text = self._name_re.sub(self._name, text)
        return text

    def redact_obj(self, obj):
        """Strings anywhere inside dicts/lists/tuples are redacted; keys and non-strings are left alone."""
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {k: self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.redact_obj(v) for v in obj]
        if isinstance(obj, tuple):
            return tuple(self.redact_obj(v) for v in obj)
        return obj

    def restore(self, text: str, allowed: set[str] | None = None) -> str:
        """Put back originals whose placeholder is in `allowed` (default: none); others become a neutral word.

        Placeholders the model invented (not in the mapping) are neutralised too, never left looking like data.
        """
        allowed = allowed or set()

        def put_back(m: re.Match) -> str:
            placeholder = m.group(0)
            if placeholder in allowed and placeholder in self._mapping:
                return self._mapping[placeholder]
            return _NEUTRAL[m.group(1)]

        return _PLACEHOLDER.sub(put_back, text)

    def _phone(self, m: re.Match) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        if not 7 <= len(digits) <= 15:  # E.164 allows at most 15 digits; fewer than 7 is not a phone
            return m.group(0)
        return self._placeholder("PHONE", _phone_key(m.group(0)), m.group(0))

    def _name(self, m: re.Match) -> str:
        name = self._names[int(m.lastgroup[1:])]
        return self._placeholder("NAME", name.lower(), name)

    def _placeholder(self, kind: str, key: str, original: str) -> str:
        existing = self._keys.get((kind, key))
        if existing:
            return existing
        self._counts[kind] += 1
        placeholder = f"[{kind}_{self._counts[kind]}]"
        self._keys[(kind, key)] = placeholder
        self._mapping[placeholder] = original
        return placeholder


def _phone_key(text: str) -> str:
    digits = re.sub(r"\D", "", text)
    # "+1 415-555-0142" and "415.555.0142" are the same US number: one placeholder.
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def _name_pattern(name: str) -> str:
    """Full name, first+last for longer names, and "Ms. Last"; case-insensitive and word-bounded."""
    parts = name.split(" ")
    if len(parts) == 1:
        # A single token like "Mark" would also hit ordinary words ("mark as done"), so a one-word
        # name must match its case; multi-word names are matched case-insensitively.
        return r"(?<!\w)" + re.escape(name) + r"(?!\w)"
    variants = [parts] + ([[parts[0], parts[-1]]] if len(parts) > 2 else [])
    alternatives = [r"\s+".join(re.escape(p) for p in v) for v in variants]
    alternatives.append(_HONORIFICS + r"\s+" + re.escape(parts[-1]))
    return r"(?i:(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w))"
