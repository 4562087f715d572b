"""Replace personal data with stable placeholders before any text is sent to an LLM endpoint.

One Redactor per LLM exchange: the same email/phone/name always gets the same placeholder, so the model
can still tell people apart, and restore() can put back only what the caller is allowed to show.

Besides emails, phone numbers and known names, three things a customer pastes into a note never go to the endpoint:
payment card numbers (a Luhn-valid number in a card's shape), IBANs (ISO 13616 check digits) and web addresses
(a reset link, a share link or a webhook carries its secret in the path or the query, so every URL goes).
"""
from __future__ import annotations

import re
from typing import Iterable

import phonenumbers
from stdnum import iban as iban_check, luhn

from .config import phone_regions

# Addresses in any script: "jörg.müller@bäckerei.de" and "иван@пример.рф" are as personal as "jane@example.com" (an
# ASCII-only pattern let them go to the endpoint). A part starts with a letter or digit; the top-level domain is
# letters, or an xn-- label.
EMAIL_PATTERN = (r"[^\W_][\w.%+-]*@[^\W_][\w-]*(?:\.[\w-]+)*\.(?:xn--[\w-]+|[^\W\d_]{2,})")
# An underscore around an address is Markdown emphasis ("_jane@acme.io_"), which hid the address before.
_EMAIL = re.compile(r"(?<![^\W_])(?<![.+-])" + EMAIL_PATTERN + r"(?![^\W_]|-)")

# Phones are found by Google's libphonenumber (PyPI `phonenumbers`): a candidate counts only if it is a valid number
# for its country and its digit groups follow that country's formatting (Leniency.STRICT_GROUPING), so dates
# (2026-11-27), versions (2.13.0), money ($1,200,000), ARR figures and IP addresses stay. A number with "+" carries
# its country; one without is tried in each configured region (FEEDBACK_PHONE_REGIONS) and the spans merged.
# VALID also took "SO-2026-001234" (a valid US number 202-600-1234 once the grouping is ignored); EXACT_GROUPING
# missed common spellings such as "415 5550142" and "020 79460958"; POSSIBLE took dates, versions and IP addresses.
_LENIENCY = phonenumbers.Leniency.STRICT_GROUPING
# The one hand-written rule: a bare run of digits named as an order/ticket/invoice id ("order 2026112712",
# "ticket #4155550142") is an identifier. libphonenumber reads text without context and 2026112712 is a valid US
# number (202-611-2712), so only the word before it tells the two apart. A number with "+" is always a phone.
_ID_BEFORE = re.compile(r"(?i)(?:(?<!\w)(?:order|ticket|invoice|case|ref|id|po)\s*(?:no\.?|nr\.?|number|:)?\s*#?|#)\s*$")
_ID_LOOKBEHIND = 24  # characters before a candidate that _ID_BEFORE reads
_DIGIT = re.compile(r"\d")

# A web address, with a scheme or starting "www.": its end is the first space, quote or angle bracket; punctuation
# that ends the sentence around it is not part of it (_url_end).
_URL = re.compile(r"(?i)(?<![\w@.])(?:https?://|ftp://|www\.)[^\s<>\"'`]+")
# A card number as printed: 13 to 19 digits in one run, four groups of four (and up to three more digits), or the
# 4-6-5 / 4-6-4 grouping of Amex and Diners; one separator throughout. Kept only when it passes the Luhn check
# (python-stdnum) and starts as card numbers do (2 to 6), so an order number or a phone number in groups is not
# taken for one.
_CARD = re.compile(r"(?<![\w+\-.])(?:\d{13,19}|\d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?:(?P=s)\d{1,3})?"
                   r"|\d{4}(?P<t>[ -])\d{6}(?P=t)\d{4,5})(?![\w\-]|\.\d)")
# An IBAN, written in one run or in groups of four; kept only when its check digits are right (ISO 13616 mod 97).
_IBAN = re.compile(r"(?<![\w.])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?!\w)")

_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|NAME|CARD|IBAN|URL)_(\d+)\]")
_NEUTRAL = {"EMAIL": "[email removed]", "PHONE": "[phone removed]", "NAME": "[name removed]",
            "CARD": "[card number removed]", "IBAN": "[bank account removed]", "URL": "[link removed]"}
_HONORIFICS = r"(?:mr|mrs|ms|miss|dr|prof)\.?"


class Redactor:
    def __init__(self, names: Iterable[str] = (), regions: Iterable[str] | str | None = None):
        # Regions in which a number written without "+" is read (ISO 3166 codes); default: the PHONE_REGIONS
        # setting of the app in context, else FEEDBACK_PHONE_REGIONS, else config.DEFAULT_PHONE_REGIONS.
        self._regions = phone_regions(regions) if regions is not None else _configured_regions()
        self._mapping: dict[str, str] = {}  # placeholder -> original
        self._keys: dict[tuple[str, str], str] = {}  # (kind, normalized value) -> placeholder
        self._counts = dict.fromkeys(_NEUTRAL, 0)
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
        # URLs, emails, IBANs, cards and phones in one pass, in reading order. Each finder sees what the ones before
        # it found blanked out (same length, so offsets hold): a URL's "user:pw@host" is no email, an email's or an
        # IBAN's digits ("[EMAIL_1] 415 555 0142", "jane4155550142@x.io") never become, or join, a phone number.
        # Names come after: an email's local part can look like a name ("jane.doe@").
        masked = _mask(text, [m.span() for m in _PLACEHOLDER.finditer(text)])
        found: list[tuple[int, int, str]] = []
        for kind, spans in (("URL", _url_spans), ("EMAIL", _email_spans), ("IBAN", _iban_spans),
                            ("CARD", _card_spans), ("PHONE", lambda t: _phone_spans(t, self._regions))):
            spans = spans(masked)
            found += [(a, b, kind) for a, b in spans]
            masked = _mask(masked, spans)
        parts, last = [], 0
        for start, end, kind in sorted(found):
            original = text[start:end]
            parts += [text[last:start], self._placeholder(kind, _key(kind, original), original)]
            last = end
        text = "".join(parts) + text[last:]
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


def _mask(text: str, spans) -> str:
    """text with each (start, end) span blanked to " xx…x " of the same length, in one pass."""
    parts, last = [], 0
    for start, end in sorted(spans):
        parts += [text[last:start], " " + "x" * (end - start - 2) + " "]
        last = end
    return "".join(parts) + text[last:]


def _key(kind: str, original: str) -> str:
    """What makes two spellings the same value (one placeholder for both)."""
    if kind == "PHONE":
        return _phone_key(original)
    if kind in ("CARD", "IBAN"):
        return re.sub(r"[\s-]", "", original).upper()
    return original if kind == "URL" else original.lower()


def _url_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.start() + _url_end(m.group())) for m in _URL.finditer(text)]


def _url_end(url: str) -> int:
    """The URL without the punctuation that ends the sentence around it ("see https://x.io/a." or "(https://x.io)");
    a closing bracket is kept when the URL opened one (https://en.wikipedia.org/wiki/Foo_(bar))."""
    end = len(url)
    while end and url[end - 1] in ".,;:!?)]}*_":
        closer = url[end - 1]
        opener = {")": "(", "]": "[", "}": "{"}.get(closer)
        if opener and url[:end].count(opener) >= url[:end].count(closer):
            break
        end -= 1
    return end


def _email_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _EMAIL.finditer(text)]


def _card_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits[0] in "23456" and luhn.is_valid(digits):
            spans.append(m.span())
    return spans


def _iban_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _IBAN.finditer(text):
        iban = m.group().replace(" ", "")
        if 15 <= len(iban) <= 34 and iban_check.is_valid(iban):  # python-stdnum: check digits and country format
            spans.append(m.span())
    return spans


def _configured_regions() -> tuple[str, ...]:
    """The PHONE_REGIONS of the app in context (create_app copies the Config), else FEEDBACK_PHONE_REGIONS."""
    from flask import current_app, has_app_context

    if has_app_context() and current_app.config.get("PHONE_REGIONS") is not None:
        return phone_regions(current_app.config["PHONE_REGIONS"])
    return phone_regions()


def _phone_spans(text: str, regions: tuple[str, ...]) -> list[tuple[int, int]]:
    """Phone numbers found by libphonenumber in any of `regions`, overlapping finds merged, in reading order."""
    if not _DIGIT.search(text):
        return []
    found = []
    for region in regions or ("ZZ",):  # no region: only numbers written with "+" are found
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=_LENIENCY):
            start, end, raw = m.start, m.end, m.raw_string
            if raw.isdigit() and _ID_BEFORE.search(text, max(0, start - _ID_LOOKBEHIND), start):
                continue  # "order 2026112712": an id, see _ID_BEFORE
            if raw.startswith("(") and raw.count("(") > raw.count(")"):
                start += 1  # "(+1 415-555-0142)": the matcher takes the opening bracket, not the closing one
            found.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


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
