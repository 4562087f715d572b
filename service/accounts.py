"""Which stored account a written account name means.

Reps write the same customer several ways: "Acme Corp" in the CRM export, "ACME corp." in a pasted note,
"Acme Corporation" in an interview file. Stored apart, one customer counts as three accounts in a theme's "distinct
accounts", is listed three times in an item's follow-ups, and its brief holds a third of its asks. So an account is
known by a key: its name without a trailing legal form (cleanco's entity-type terms: Inc, Corp, Ltd, GmbH, LLC, AG,
...; not its country lists, which hold words such as "UK"), case, accents, separators (spaces and . , ; : - _ / ( )
[ ] " ' ! ?; apostrophes join: "L'Oreal" is "LOreal") and "&" read as "and"; single letters run together ("A.B.C." is
"ABC"). The first spelling stored is the one shown; every later spelling with the same key files under it, and every
filter, brief and follow-up mark that names an account finds it by the key too. Names that differ in any word
("Acme Logistics", "Acme Freight", "Vodafone UK") or symbol ("C++", "C#") stay different accounts, and a legal form
is kept where nothing else would be left ("The Limited"). Two names of one customer the key does not join ("AWS",
"Amazon Web Services") are merged by a person (`merge`), and the merged name stays an alias of the kept account.
Not handled: legal forms in other scripts ("株式会社", "ООО").
"""
from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable

from cleanco.clean import custom_basename, normalize_terms
from cleanco.termdata import terms_by_type
from sqlalchemy import or_, select

from .models import Account, AccountAlias
from .text import STOP_WORDS

KEY_CHARS = 200  # the `accounts.key` column; a longer key keeps its start and a hash of the rest
_SEPARATORS = re.compile(r"""[\s.,;:_/()\[\]{}"!?\-\u2010-\u2015]+""")
_APOSTROPHES = re.compile(r"['\u2018\u2019`]")
_DASHES = re.compile(r"[-_/\u2010-\u2015]+")
# cleanco's entity-type terms, shaped as its prepare_default_terms() shapes all of them (longest first)
_TERMS = sorted(((len(p), p) for p in {tuple(t.split()) for t in normalize_terms(
    {term for terms in terms_by_type.values() for term in terms})}), key=lambda x: (-x[0], x[1]))
_TERMS = [(n, list(p)) for n, p in _TERMS]


def _without_legal_form(text: str) -> str:
    base = text
    for _ in range(2):  # "Acme Co., Ltd.": cleanco's docs suggest a second pass for two forms in a row
        base = custom_basename(base, _TERMS, suffix=True, prefix=False, middle=False).strip()
    kept = text.split()[:len(base.split())]  # the words as written: cleanco also drops trailing symbols ("C++")
    if not base or all(w in STOP_WORDS for w in re.findall(r"\w+", base.casefold())):
        return text  # "Inc", "The Limited": nothing but the form (or an article) would be left
    return " ".join(kept)


@functools.lru_cache(maxsize=65536)  # pure; a drafts list or an erasure keys every account name it meets
def account_key(name: str) -> str:
    """The key two spellings of one account share: "ACME corp." and "Acme Corporation" are both "acme"."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", name)).strip()
    base = _without_legal_form(_DASHES.sub(" ", text))  # "acme-corp": cleanco reads words; it knows "Co." and ","
    folded = unicodedata.normalize("NFKD", base.casefold().replace("&", " and "))
    tokens = [t for t in _SEPARATORS.split("".join(c for c in folded if not unicodedata.combining(c))) if t]
    out: list[str] = []
    run = False  # the last token is a run of single letters: "a b c" is "abc", as "A.B.C." is "ABC"
    for token in tokens:
        single = len(token) == 1 and token.isalnum()
        if single and run:
            out[-1] += token
        else:
            out.append(token)
        run = single
    key = " ".join(out) or " ".join(text.casefold().split()) or text
    if len(key) > KEY_CHARS:  # never cut: two long names differing at the end would share a key
        key = key[:KEY_CHARS - 17] + "~" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return key


def stored_names(session, names: Iterable[str]) -> dict[str, str]:
    """Each written name -> the name of the stored account it means (only those that have one)."""
    keys = {name: account_key(name) for name in names if name and name.strip()}
    if not keys:
        return {}
    wanted = set(keys.values())
    found = dict(session.execute(select(AccountAlias.key, Account.name).join(Account)
                                 .where(AccountAlias.key.in_(wanted)).order_by(AccountAlias.id.desc())).all())
    found |= dict(session.execute(select(Account.key, Account.name).where(Account.key.in_(wanted))).all())
    return {name: found[key] for name, key in keys.items() if key in found}


def canonical(session, name: str | None) -> str | None:
    """The stored name of the account a written name means, or the name as written (trimmed) when none has it."""
    if name is None or not name.strip():
        return name
    return stored_names(session, [name]).get(name, name.strip())


def named(name: str):
    """The SQL condition for the account a written name means: its key, its exact name (a row written without the
    ORM, which fills the key, has none), or a name merged into it (an alias)."""
    key = account_key(name)
    return or_(Account.key == key, Account.name == name.strip(),
               Account.id.in_(select(AccountAlias.account_id).where(AccountAlias.key == key)))


def find(session, name: str) -> Account | None:
    """The stored account a written name means (its own key before an alias)."""
    key = account_key(name)
    return session.scalars(select(Account).where(named(name))
                           .order_by((Account.key == key).desc(), Account.id)).first()


def names_of(session, account: Account) -> list[str]:
    """The account's name and the names merged into it."""
    return [account.name] + list(session.scalars(select(AccountAlias.name).where(AccountAlias.account_id == account.id)
                                                 .order_by(AccountAlias.id)))


def spellings(session, column, name: str) -> list[str]:
    """The values of a column that names accounts in text (drafts.account) meaning the same account as `name`: a draft
    asked for "Globex Inc" before the account "Globex" had notes is still Globex's."""
    keys = {account_key(name)}
    account = find(session, name)
    if account is not None:
        keys |= {account_key(n) for n in names_of(session, account)}
    return [v for v in session.scalars(select(column).distinct().where(column.is_not(None))) if account_key(v) in keys]


def suggestion(session, name: str) -> str | None:
    """The stored account name a mistyped one probably means ("Velo Comerce" -> "Velo Commerce"): the account of the
    same key, else the closest key by difflib's ratio (at least 0.85), for "did you mean ...?" hints only."""
    import difflib

    found = find(session, name)
    if found is not None:
        return found.name
    keys = dict(session.execute(select(Account.key, Account.name)).all())
    close = difflib.get_close_matches(account_key(name), list(keys), n=1, cutoff=0.85)
    return keys[close[0]] if close else None


def no_such_account(session, name: str, field: str = "") -> str:
    """'no account named X', with the stored account it probably means."""
    near = suggestion(session, name)
    hint = f"; did you mean {near!r}?" if near is not None and near != name else " (feedback accounts list)"
    return f"{field + ': ' if field else ''}no account named {name[:200]!r}{hint}"


class AccountError(ValueError):
    """A merge asked with a missing or over-long name, or an account merged into itself."""


def merge(services, source: str, into: str) -> dict:
    """File every note of `source` under `into`, then forget `source`: for one customer whose spellings the key does
    not join ("AWS" and "Amazon Web Services", "Acme" and "Acme Logistics" when they are one customer). Both are named
    exactly as stored (`feedback accounts list`), or by a spelling of that name. Drafts and "told" marks naming
    `source` name `into`; the moved notes count as changed, so themes, follow-ups and briefs read them again, and the
    index's copy of their account is updated after the commit. NotFound / AccountError name what is wrong; nothing
    changes then."""
    from sqlalchemy import delete, update

    from . import locks
    from .models import Draft, FollowupTold, Note, Statement, utcnow
    from .notes import NotFound
    from .vectorstore import STATEMENTS

    names = []
    for field, value in (("from", source), ("into", into)):
        if not isinstance(value, str) or not value.strip() or len(value.strip()) > 200:
            raise AccountError(f"{field}: an account's name of 1 to 200 characters (feedback accounts list)")
        names.append(value.strip())
    with services.db.transaction() as session:
        locks.hold(session, "ingest")  # no ingest files a note under either account meanwhile
        found = []
        for field, name in zip(("from", "into"), names):
            account = session.scalar(select(Account).where(Account.name == name)) or find(session, name)
            if account is None:
                raise NotFound(no_such_account(session, name, field))
            found.append(account)
        src, dst = found
        if src.id == dst.id:
            raise AccountError(f"{names[0]!r} and {names[1]!r} are the same account ({dst.name!r}): nothing to merge")
        note_ids = list(session.scalars(select(Note.id).where(Note.account_id == src.id)))
        session.execute(update(Note).where(Note.account_id == src.id).values(account_id=dst.id, updated_at=utcnow()))
        drafts = session.execute(update(Draft).where(Draft.account == src.name).values(account=dst.name)).rowcount
        # one mark per (item, account, status): the kept account's own mark makes the merged one's redundant
        kept = set(session.execute(select(FollowupTold.item_id, FollowupTold.status)
                                   .where(FollowupTold.account == dst.name)).all())
        marks = 0
        for mark in session.scalars(select(FollowupTold).where(FollowupTold.account == src.name)).all():
            if (mark.item_id, mark.status) in kept:
                session.delete(mark)
            else:
                mark.account, marks = dst.name, marks + 1
        session.flush()
        # the merged name (and the names merged into it before) stays an alias of the kept account: a later note
        # written for it files there, and erasing the kept account erases these names too
        session.execute(update(AccountAlias).where(AccountAlias.account_id == src.id).values(account_id=dst.id))
        session.add(AccountAlias(account_id=dst.id, name=src.name, key=src.key or account_key(src.name)))
        session.flush()
        session.execute(delete(Account).where(Account.id == src.id))
        statement_ids = list(session.scalars(select(Statement.id).where(Statement.note_id.in_(note_ids)))) \
            if note_ids else []
        out = {"merged": src.name, "into": dst.name, "notes": len(note_ids), "drafts": drafts, "told_marks": marks}
    _reindex_account(services, statement_ids, dst.name, STATEMENTS)
    return out


def _reindex_account(services, statement_ids: list[int], name: str, collection: str) -> None:
    """The moved statements' account in the index (a draft's search for the asking account's own quotes filters on
    it). After the commit: if this fails, SQL is right and `feedback reindex` copies it again."""
    import logging

    for start in range(0, len(statement_ids), 2048):
        ids = [f"s{i}" for i in statement_ids[start:start + 2048]]
        try:
            found, vectors, metas = services.store.get(collection, ids)
            if found:
                services.store.upsert(collection, found, vectors, [{**m, "account": name} for m in metas])
        except Exception as exc:  # the merge itself is committed; only the index's copy of a name is behind
            logging.getLogger(__name__).warning("the index still names the merged account on %d statement(s) (%s); "
                                                "`feedback reindex` refreshes it", len(ids), exc)
            return
