"""The PM flow: pasted notes -> the pains in them, each matched to a theme already in the corpus."""
from __future__ import annotations

import numpy as np

from ..accounts import account_key, stored_names
from ..ingest.readers import RawRow
from ..ingest.split import split_statements
from ..ingest.store import ingest, validate_rows
from . import stages
from .queries import latest_run, latest_themes


class SummaryError(ValueError):
    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.details = details or {}


def summarize_texts(services, texts: list[str], *, account: str | list | None = None, source: str = "other",
                    date: str | None = None, store: bool = False, max_chars: int = 100_000) -> dict:
    """`account`: one account for every text, or one per text (a paste of several calls, each naming its own)."""
    accounts = list(account) if isinstance(account, list) else [account] * len(texts)
    rows = [RawRow({"text": t, "account": a, "source": source, "date": date}, i)
            for i, (t, a) in enumerate(zip(texts, accounts), 1)]
    notes, errors = validate_rows(rows, "paste", max_chars, allow_future=False, future_hint=None)
    if errors:
        raise SummaryError(f"{len(errors)} pasted note(s) are invalid; nothing was stored",
                           {"errors": [e.as_dict() for e in errors]})
    stored_ids: list[str | None] = [None] * len(notes)
    if store:
        report = ingest(services, notes, [], skip_invalid=False)
        stored_ids = _ids_by_text(services, notes, report.note_ids)
    # the same note pasted twice (a double paste, a copied block) is one mention, as ingest stores it once
    pieces = [(n, seg.text) for n in _first_copies(notes) for seg in split_statements(notes[n].text)]
    if not pieces:
        return _empty(stored_ids, "no sentences found in the pasted text")
    vecs = services.embedder.embed([t for _, t in pieces])
    scores = stages.class_scores([t for _, t in pieces], vecs, services.embedder)
    is_pain = np.array([k == "pain" for k in stages.decide(scores)], dtype=bool)
    with services.db.session() as session:
        corpus = [t for t in latest_themes(session) if t["centroid"] is not None]
        run = latest_run(session)
        threshold = (run.params or {}).get("assign_threshold") if run else None
        # the caller's own accounts as stored ("ACME corp." pasted is the stored "Acme Corp", or an alias of it): a
        # theme's other accounts are the rest
        written = [a for a in accounts if a and a.strip()]
        mine = {account_key(a) for a in written} | {account_key(n) for n in stored_names(session, written).values()}
    threshold = threshold if threshold is not None else stages.default_assign_threshold()
    if corpus:  # as in a theme run: a close call inside a corpus theme is a pain
        from .select import theme_evidence

        near = (vecs @ np.stack([t["centroid"] for t in corpus]).T).max(axis=1) >= threshold
        is_pain |= theme_evidence(scores, near)
    pains = [int(i) for i in np.flatnonzero(is_pain)]
    if not pains:
        return _empty(stored_ids, "no pains or requests found in the pasted text", len(pieces))
    groups: dict[object, list[int]] = {}
    unmatched: list[int] = []
    if corpus:
        matrix = np.stack([t["centroid"] for t in corpus])
        sims = vecs[pains] @ matrix.T
        for row, i in enumerate(pains):
            best = int(np.argmax(sims[row]))
            if sims[row, best] >= threshold:
                groups.setdefault(("corpus", best), []).append(i)
            else:
                unmatched.append(i)
    else:
        unmatched = list(pains)
    if len(unmatched) >= 2:
        labels = stages.cluster(vecs[unmatched], min_size=2)
        for i, lab in zip(unmatched, labels):
            groups.setdefault(("new", int(lab)) if lab >= 0 else ("single", i), []).append(i)
    else:
        for i in unmatched:
            groups.setdefault(("single", i), []).append(i)
    themes = []
    for key, members in groups.items():
        texts_ = [pieces[i][1] for i in members]
        quotes = [{"text": pieces[i][1], "note_id": stored_ids[pieces[i][0]], "paste_index": pieces[i][0] + 1}
                  for i in members]
        if key[0] == "corpus":
            t = corpus[key[1]]
            others = [a for a in t["account_names"] if account_key(a) not in mine]
            themes.append({
                "label": t["label"], "mentions": len(members), "quotes": quotes,
                "corpus_theme": {"id": t["id"], "label": t["label"], "accounts": t["accounts"],
                                 "other_accounts": len(others), "mentions": t["mentions"], "trend": t["trend"],
                                 "status": t["status"]},
            })
        else:
            labelled = stages.label_clusters([texts_], [vecs[members]], services=None, use_llm=False)[0]
            themes.append({"label": labelled.label, "mentions": len(members), "quotes": quotes, "corpus_theme": None})
    themes.sort(key=lambda t: (t["corpus_theme"] is None, -(t["corpus_theme"] or {}).get("other_accounts", 0), -t["mentions"]))
    return {"themes": themes, "statements": len(pieces), "pains": len(pains), "stored_note_ids": _unique(stored_ids),
            "stored": store}


def _empty(stored_ids, message, statements=0) -> dict:
    return {"themes": [], "statements": statements, "pains": 0, "stored_note_ids": _unique(stored_ids),
            "message": message}


def _first_copies(notes) -> list[int]:
    """Indexes of the notes that are not a repeat of an earlier one (same account and normalised text)."""
    first: dict[tuple[str | None, str], int] = {}
    for n, note in enumerate(notes):
        first.setdefault((note.account, note.norm_hash), n)
    return sorted(first.values())


def _unique(ids: list[str | None]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))


def _ids_by_text(services, notes, reported: list[str]) -> list[str | None]:
    """Public ids of the pasted notes (new or deduped against ones already stored)."""
    from sqlalchemy import select

    from ..models import Note

    with services.db.session() as session:
        found = dict(session.execute(select(Note.norm_hash, Note.id).where(Note.norm_hash.in_([n.norm_hash for n in notes]))).all())
        ext = dict(session.execute(select(Note.id, Note.external_id).where(Note.id.in_(list(found.values())))).all())
    return [(ext.get(found[n.norm_hash]) or str(found[n.norm_hash])) if n.norm_hash in found else None for n in notes]
