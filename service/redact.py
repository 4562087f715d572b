"""Replace personal data with stable placeholders before any text is sent to an LLM endpoint.

One Redactor per LLM exchange: the same email/phone/name always gets the same placeholder, so the model
can still tell people apart, and restore() can put back only what the caller is allowed to show.

Besides emails, phone numbers and known names, five things a customer pastes into a note never go to the endpoint:
payment card numbers (a Luhn-valid number in a card's shape), IBANs in any letter case (ISO 13616 check digits), US
Social Security numbers (python-stdnum's checks, or any nine digits named "SSN"), API keys and tokens (the prefixed
formats of well-known providers, JWTs, and the value of "Bearer …" or "api_key=…") and web addresses (a reset link, a
share link or a webhook carries its secret in the path or the query, so every URL goes, with or without "https://";
a bare host name such as "Salesforce.com" is a company or product name and stays).
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from typing import Iterable

import phonenumbers
import tldextract
from stdnum import iban as iban_check, luhn
from stdnum.us import itin, ssn

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
# A web address without a scheme ("acme.okta.com/app/xyz?token=…", "docs.google.com/spreadsheets/d/…"): a host name,
# an optional port, then a path, query or fragment. Only a host whose ending is a public suffix counts ("README.md"
# and "app.py" end in country codes, "config.yaml" and "Node.js" in none; _bare_url_spans asks tldextract). A bare
# host with nothing after it is a company or product name ("Salesforce.com", "Monday.com") and stays: the secret of
# a link is in its path or query.
_BARE_URL = re.compile(r"(?<![\w@.\-/:%])(?P<host>(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:xn--[\w-]+|[^\W\d_]{2,}))"
                       r"(?::\d{2,5})?[/?#][^\s<>\"'`\[\]]*")
# The same with an IPv4 address for a host ("10.0.3.4:8080/admin?token=…", "52.14.9.1/hooks/…"), checked by the
# standard library's ipaddress. A network in CIDR notation ("10.0.0.1/24") is an address range, not a link (_CIDR).
_IP_URL = re.compile(r"(?<![\w@.\-/:%])(?P<host>\d{1,3}(?:\.\d{1,3}){3})(?::\d{2,5})?[/?#][^\s<>\"'`\[\]]*")
_CIDR = re.compile(r"/\d{1,2}")
# Public suffixes from tldextract's bundled snapshot of the Public Suffix List: never fetched (suffix_list_urls=())
# and never cached on disk (cache_dir=None), so redaction needs no network and writes no files.
_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
# "Monday.com/Asana", "ASP.NET/Blazor": a slash between capitalised names is prose ("or"), not a path. A host pasted
# from an address bar is lower case, so the exception needs a capital in the host and only capitalised words after it.
_PROSE_SLASH = re.compile(r"(?:/[A-Z][\w+#.-]*)+")
# What must follow the host (and port) of a scheme-less address: a path, a query, or a fragment with a value in it
# ("#access_token=…"); a page anchor alone ("deployment.md#backups", a Markdown link to a file) holds no secret.
_URL_TAIL = re.compile(r"(?::\d+)?(?:/[\w%~?-]|\?[\w%]|#\S*=)")
# A card number as printed: 13 to 19 digits in one run, four groups of four (and up to three more digits), or the
# 4-6-5 / 4-6-4 grouping of Amex and Diners; one separator throughout. Kept only when it passes the Luhn check
# (python-stdnum) and starts as card numbers do (2 to 6), so an order number or a phone number in groups is not
# taken for one.
_CARD = re.compile(r"(?<![\w+\-.])(?:\d{13,19}|\d{4}(?P<s>[ -])\d{4}(?P=s)\d{4}(?P=s)\d{4}(?:(?P=s)\d{1,3})?"
                   r"|\d{4}(?P<t>[ -])\d{6}(?P=t)\d{4,5})(?![\w\-]|\.\d)")
# An IBAN, written in one run or in groups of four, in any letter case ("de89 3704 0044 0532 0130 00" is as much an
# account as its upper-case spelling); kept only when python-stdnum accepts it: ISO 13616 mod-97 check digits and
# the country's account format, which a word followed by digits ("sh12 …") does not pass.
_IBAN = re.compile(r"(?i)(?<![\w.])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?!\w)")
# A US Social Security number: "123-45-6789" or "123 45 6789" (one separator throughout), kept only when
# python-stdnum accepts it as an SSN (no 000/666/9xx area, 00 group or 0000 serial, no advertised example number) or
# as an ITIN (the 9xx taxpayer number issued to people without one), and not when named as an id ("order 123-45-6789",
# _ID_BEFORE). Nine digits in one run are too common (order numbers, amounts) to be read as one without a name:
# "SSN 123456789", "social security no. 123 45 6789" or "ITIN: 912-70-1234"; a number so named is an ID number
# whatever its check says (a typo of one still is one) and whatever its separator ("SSN 123.45.6789").
_SSN = re.compile(r"(?<![\w+\-.])\d{3}(?P<s>[ -])\d{2}(?P=s)\d{4}(?![\w\-]|\.\d)")
_SSN_NAMED = re.compile(r"(?i)(?<!\w)(?:ssn|ss\s*#|itin|soc(?:ial|\.)?[\s-]*sec(?:urity|\.)?(?:\s+(?:number|no\.?|nr\.?|#))?)"
                        r"(?:\s*(?:is|was|[:#=\-\u2013\u2014]))*\s*"
                        r"(?P<n>\d{9}|\d{3}(?P<s>[ ./-])\d{2}(?P=s)\d{4})(?![\w\-]|\.\d)")
# API keys, tokens and secrets. detect-secrets (Yelp) was tried first and is a poor fit for a line of prose: its
# plugins report the secret's value, not where it is, and for some only a capture group ("ghp" for a whole GitHub
# token, a JWT without its signature); its default scan flags ordinary words as high-entropy strings; several
# formats are stale (Slack tokens stop at the first capital, Stripe keys at 24 characters, OpenAI keys only with
# the old "T3BlbkFJ" marker) and GitHub fine-grained tokens and Google API keys are missing. So: the formats below,
# each a provider's documented prefix plus a run of random characters long enough that no word or id matches it.
# Hex strings without a prefix (git SHAs, UUIDs, some vendors' keys) are not taken: a commit in release notes
# ("fixed in 3f2a9c1") is a fact the model may need, and nothing tells it from a key except the word before it,
# which the assignment form below reads ("api_key=8f4e…").
_SECRET = re.compile(r"""(?<![\w-])(?:
      sk-(?:proj-|svcacct-|admin-|ant-[a-z]+\d*-)?(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]{20,}  # OpenAI, Anthropic
    | gh[pousr]_[A-Za-z0-9]{30,} | github_pat_\w{22,}               # GitHub: classic and fine-grained tokens
    | glpat-[\w-]{20,}                                              # GitLab personal access token
    | xox[abposre]-(?=[A-Za-z0-9-]*\d)[A-Za-z0-9-]{10,}               # Slack bot/user/app tokens
    | (?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])  # AWS access key id
    | (?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,} | whsec_[A-Za-z0-9]{24,}  # Stripe keys, webhook secret
    | AIza[\w-]{35}                                                 # Google API key
    | hf_[A-Za-z0-9]{30,} | npm_[A-Za-z0-9]{36} | SG\.[\w-]{22}\.[\w-]{43}  # Hugging Face, npm, SendGrid
    | eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*                            # JWT: JSON header.payload.signature
    )(?![\w-])""", re.VERBOSE)
# The value after "Bearer", "Authorization: Basic", or a key word and ":", "=", "is" or a space ("api_key=…",
# "token: …", "client_secret = …", "the password is …", "AWS secret …"). Only the value is replaced, so the model still
# reads what it was. A value must look generated (_looks_generated), and after a bare space be 16 characters or more:
# "token: expired", "bearer of bad news" and "token 2FA-enabled" stay.
_SECRET_VALUE = re.compile(r"""(?ix)(?<![\w-])(?:
      bearer:?\s+ | authorization:\s*basic\s+
    | (?:x-)?(?:api[_\s-]?key | access[_-]?key(?:[_-]?id)? | secret[_-]?key
               | aws[_\s-]?secret(?:[_\s-]?access)?(?:[_\s-]?key)? | (?:access|auth|refresh)[_-]?token | token
               | client[_-]?secret | secret | password | passwd | pwd | pw | passcode)
      ["']?(?P<sep>\s*[:=]\s*|\s+(?:is|was)\s+|\s+)["']?
    )(?P<v>[\w~+/.!@#$%^&*=-]{8,})""")
_WORD = re.compile(r"[^\W\d_]+")

_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|NAME|CARD|IBAN|SSN|SECRET|URL)_(\d+)\]")
_NEUTRAL = {"EMAIL": "[email removed]", "PHONE": "[phone removed]", "NAME": "[name removed]",
            "CARD": "[card number removed]", "IBAN": "[bank account removed]", "SSN": "[ID number removed]",
            "SECRET": "[secret removed]", "URL": "[link removed]"}
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
        # URLs, secrets, emails, IBANs, SSNs, cards and phones in one pass, in reading order. Each finder sees what
        # the ones before it found blanked out (same length, so offsets hold): a URL's "user:pw@host" is no email, a
        # token's digits no phone, an email's or an IBAN's digits ("[EMAIL_1] 415 555 0142", "jane4155550142@x.io")
        # never become, or join, a phone number, and an SSN's nine digits are no phone either.
        # Names come after: an email's local part can look like a name ("jane.doe@").
        masked = _mask(text, [m.span() for m in _PLACEHOLDER.finditer(text)])
        found: list[tuple[int, int, str]] = []
        for kind, spans in (("URL", _url_spans), ("SECRET", _secret_spans), ("EMAIL", _email_spans),
                            ("IBAN", _iban_spans), ("SSN", _ssn_spans), ("CARD", _card_spans),
                            ("PHONE", lambda t: _phone_spans(t, self._regions))):
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
    if kind == "SSN":
        return re.sub(r"\D", "", original)
    return original if kind in ("URL", "SECRET") else original.lower()


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = [(m.start(), m.start() + _url_end(m.group())) for m in _URL.finditer(text)]
    return spans + _bare_url_spans(_mask(text, spans))


def _bare_url_spans(text: str) -> list[tuple[int, int]]:
    """Scheme-less addresses (_BARE_URL) whose host ends in a public suffix and that have a path, query or fragment
    left once the sentence's punctuation is off ("see acme.com/." is the host alone)."""
    spans = []
    for m in _BARE_URL.finditer(text):
        end = m.start() + _url_end(m.group())
        host, rest = m.group("host"), text[m.end("host"):end]
        if not _URL_TAIL.match(rest):
            continue  # "acme.com/." or "deployment.md#backups": nothing after the host that can hold a secret
        if host != host.lower() and _PROSE_SLASH.fullmatch(rest):
            continue  # "Monday.com/Asana"
        parts = _SUFFIXES(host)
        if parts.suffix and parts.domain:
            spans.append((m.start(), end))
    for m in _IP_URL.finditer(text):
        end = m.start() + _url_end(m.group())
        rest = text[m.end("host"):end]
        if _URL_TAIL.match(rest) and not _CIDR.fullmatch(rest) and _is_ipv4(m.group("host")):
            spans.append((m.start(), end))
    return sorted(spans)


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:  # 300.1.2.3, or a leading zero
        return False
    return True


def _secret_spans(text: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in _SECRET.finditer(text) if not m.group().startswith("eyJ") or _is_jwt(m.group())]
    for m in _SECRET_VALUE.finditer(text):
        value, sep = m.group("v").rstrip(".,;:?"), m.group("sep")  # the full stop is not part of "token: abc123."
        if sep and sep.isspace() and len(value) < 16:
            continue  # "token 2FA-enabled"
        if _looks_generated(value):
            spans.append((m.start("v"), m.start("v") + len(value)))
    return _merge(spans)


def _is_jwt(token: str) -> bool:
    """Its header is base64url-encoded JSON: "eyJ" alone is only the encoding of '{"'."""
    header = token.split(".")[0]
    try:
        return isinstance(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))), dict)
    except (binascii.Error, ValueError):
        return False


def _looks_generated(value: str) -> bool:
    """A key, token or password, not a word: letters and digits both ("Summer2026!", "8f4e2c1a…"), or a long mixed-case
    run with something besides letters ("dXNlcjpw/YXNzd29yZA"). A word, a version or a ticket id is no secret."""
    letters, digits = any(c.isalpha() for c in value), any(c.isdigit() for c in value)
    if letters and digits:  # not a version ("2.13.0-rc1", "v10.2.3") or a ticket id ("JIRA-1234")
        return not re.fullmatch(r"v?\d+(?:\.\d+)+(?:[-+.]?\w+)?|[A-Z][A-Z0-9]*-\d+", value)
    return len(value) >= 16 and value != value.lower() and value != value.upper() and not _WORD.fullmatch(value)


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


def _ssn_spans(text: str) -> list[tuple[int, int]]:
    """SSNs and ITINs in their printed shape that python-stdnum accepts, and any nine digits named as one."""
    spans = [m.span("n") for m in _SSN_NAMED.finditer(text)]
    for m in _SSN.finditer(text):
        if _ssn_or_itin(m.group()) and not _ID_BEFORE.search(text, max(0, m.start() - _ID_LOOKBEHIND), m.start()):
            spans.append(m.span())  # "order 123-45-6789" is an order number, as for phones (_ID_BEFORE)
    return _merge(spans)


def _ssn_or_itin(number: str) -> bool:
    digits = re.sub(r"\D", "", number)  # python-stdnum drops dashes, not spaces
    return ssn.is_valid(digits) or itin.is_valid(digits)


def _merge(spans) -> list[tuple[int, int]]:
    """Overlapping spans merged, in reading order."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


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
    return _merge(found)


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
