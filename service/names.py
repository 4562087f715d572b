"""Names of people and customer accounts, as the notes know them.

A person's name never leaves in a quote or a prompt: drafts redact every name the notes know.
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
