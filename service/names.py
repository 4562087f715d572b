"""Names of people and customer accounts, as the notes know them.

Two uses: a name is never a topic (a request that names a contact or an account is matched on what it asks, not on
whose notes mention that name), and a person's name never leaves in a quote or a prompt (drafts redact them).
"""
from __future__ import annotations

import re

from sqlalchemy import func, select

from .models import Account, Note

NAME_KEYS = re.compile(r"(?:^|_)(?:name|contact|author|person|rep|owner|email|phone)(?:_|$)", re.I)


def note_names(author: str | None, meta: dict | None) -> list[str]:
    """Contact and author names from a note's metadata (values under name-like keys; never emails or numbers)."""
    values = [author] + [v for k, v in (meta or {}).items() if NAME_KEYS.search(str(k)) and isinstance(v, str)]
    return [v.strip() for v in values if v and v.strip() and "@" not in v and not re.search(r"\d{3}", v)]


def _notes_key(session) -> tuple:
    return tuple(session.execute(select(func.count(Note.id), func.max(Note.updated_at),
                                        select(func.count(Account.id)).scalar_subquery())).one())


def person_names(services, session) -> set[str]:
    """Every contact and author name in the notes' metadata, and their first names, cached until notes change.

    Any of them may turn up in a question or a quote, whichever account it belongs to.
    """
    key = _notes_key(session)
    cached = getattr(services, "_person_names", None)
    if cached and cached[0] == key:
        return cached[1]
    names: set[str] = set()
    for author, meta in session.execute(select(Note.author, Note.meta)):
        for name in note_names(author, meta):
            names.add(name)
            first = name.split()[0]
            if len(name.split()) > 1 and len(first) >= 3 and first[0].isupper():
                names.add(first)  # "Marco said..." names Marco Rossi as surely as his full name
    services._person_names = (key, names)
    return names


class NameFinder:
    """Known names found by their first word: a dictionary lookup per capitalised word, however many names."""

    _CAPITALISED = re.compile(r"(?<![\w&])[A-Z][\w-]*")

    def __init__(self, names: set[str]):
        self.by_first: dict[str, list[str]] = {}
        for name in sorted(names, key=len, reverse=True):  # the longest name at a position wins
            self.by_first.setdefault(name.split()[0], []).append(name)

    def spans(self, text: str) -> list[tuple[int, int]]:
        out, end = [], 0
        for m in self._CAPITALISED.finditer(text):
            if m.start() < end:
                continue
            for name in self.by_first.get(m.group(0).removesuffix("'s"), ()):
                stop = m.start() + len(name)
                if text.startswith(name, m.start()) and not re.match(r"[\w&]", text[stop:stop + 1]):
                    stop += 2 if text.startswith("'s", stop) else 0
                    out.append((m.start(), stop))
                    end = stop
                    break
        return out

    def __bool__(self) -> bool:
        return bool(self.by_first)


def name_finder(services, session, keep: frozenset[str] = frozenset(),
                common: frozenset[str] = frozenset()) -> NameFinder:
    """Every known person and account name, as written (case-sensitive, whole words), cached until notes change.

    An account is also named by the leading words of its name ("Harbor & Pine" for Harbor & Pine Outfitters,
    "Parallax" for Parallax Marketing Group); a single leading word only when it is not a common word (`common`: a
    dictionary, lower-case), so "Atlas" or "Summit" alone stay in. A name made only of words in `keep` (the
    roadmap's own terms: an account called "Snowflake Partners" must not take "Snowflake" out of a request) stays in.
    """
    key = (_notes_key(session), keep, len(common))
    cached = getattr(services, "_name_finder", None)
    if cached and cached[0] == key:
        return cached[1]
    names = set(person_names(services, session))
    for (account,) in session.execute(select(Account.name)):
        words = account.split()
        names.update(" ".join(words[:n]) for n in range(1, len(words) + 1)
                     if re.search(r"\w$", words[n - 1]) and (n > 1 or n == len(words) or words[0].lower() not in common))
    names = {n for n in names
             if len(n) >= 3 and n[0].isupper() and not set(re.findall(r"\w+", n.lower())) <= keep}
    finder = NameFinder(names)
    services._name_finder = (key, finder)
    return finder


def without_names(text: str, finder: NameFinder | None) -> str:
    """The text with known names taken out: what it asks, not who asks. Unchanged if nothing else would be left."""
    spans = finder.spans(text) if finder else []
    if not spans:
        return text
    parts, last = [], 0
    for start, stop in spans:
        parts.append(text[last:start])
        last = stop
    stripped = " ".join(("".join(parts) + text[last:]).split())
    return stripped if re.search(r"[A-Za-z]{3}", stripped) else text
