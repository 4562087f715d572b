"""Which stored account a written account name means.

Reps write the same customer several ways: "Acme Corp" in the CRM export, "ACME corp." in a pasted note,
"Acme Corporation" in an interview file. Stored apart, one customer counts as three accounts in a theme's "distinct
accounts", is listed three times in an item's follow-ups, and its brief holds a third of its asks. So an account is
known by a key: its name without the legal form (cleanco's term list: Inc, Corp, Ltd, GmbH, LLC, AG, ...), case,
accents, punctuation and spacing ("&" reads as "and"). The first spelling stored is the one shown; every later
spelling with the same key files under it, and every filter, brief and follow-up mark that names an account finds
it by the key too. Names that differ in any word ("Acme Logistics", "Acme Freight") stay different accounts.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from cleanco import basename
from sqlalchemy import select

from .models import Account

KEY_CHARS = 200  # the `accounts.key` column; a name is at most 200 characters, its key rarely longer


def account_key(name: str) -> str:
    """The key two spellings of one account share: "ACME corp." and "Acme Corporation" are both "acme"."""
    text = unicodedata.normalize("NFKC", name).strip()
    base = basename(text).strip() or text  # a name that is only a legal form ("Inc") keeps it
    folded = unicodedata.normalize("NFKD", base.casefold().replace("&", " and "))
    words = re.findall(r"\w+", "".join(c for c in folded if not unicodedata.combining(c)))
    return (" ".join(words) or " ".join(text.casefold().split()))[:KEY_CHARS]


def stored_names(session, names: Iterable[str]) -> dict[str, str]:
    """Each written name -> the name of the stored account it means (only those that have one)."""
    keys = {name: account_key(name) for name in names if name and name.strip()}
    if not keys:
        return {}
    found = dict(session.execute(select(Account.key, Account.name).where(Account.key.in_(set(keys.values())))).all())
    return {name: found[key] for name, key in keys.items() if key in found}


def canonical(session, name: str | None) -> str | None:
    """The stored name of the account a written name means, or the name as written (trimmed) when none has it."""
    if name is None or not name.strip():
        return name
    return stored_names(session, [name]).get(name, name.strip())


def find(session, name: str) -> Account | None:
    """The stored account a written name means."""
    return session.scalar(select(Account).where(Account.key == account_key(name)))
