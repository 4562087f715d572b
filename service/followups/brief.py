"""An account brief before a call: the pains the account raised, grouped by theme, each with the roadmap's Decision,
the items that moved since a date, open asks nobody answered, and the drafts already made for the account.

Grounded like drafts: every group quotes the account's own statements (verbatim, with note ids and dates) and
either cites the item its Decision names or says "not on the roadmap" with the nearest items and their scoring
reasons. Each summary line is checked with the drafts' checks (items given, quotes verbatim from this account's
notes only, no unbacked dates or promises). Quotes of other accounts never enter a brief.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime

from sqlalchemy import select

from ..accounts import find as find_account, no_such_account, spellings
from ..drafts import checks
from ..drafts.base import VERDICT_OF_STATUS, DraftContext, Evidence
from ..drafts.evidence import _quotable
from ..drafts.matching import _draft_item, _scores
from ..models import Draft, RoadmapItem, ThemeMembership
from ..notes import NotFound
from ..roadmap import decision as decisions, history
from ..themes.queries import latest_run, latest_themes
from .asks import account_facts, statement_asks
from .service import told_items

QUOTES_PER_GROUP = 3
NEAREST = 2
NOT_ON_ROADMAP = "not_on_roadmap"


def brief(services, account: str, since: date | None = None) -> dict:
    """The brief as a dict; NotFound when no note names the account."""
    with services.db.session() as session:
        found = find_account(session, account)  # "acme corp" finds "Acme Corp"
        if found is None:
            raise NotFound(no_such_account(session, account))
        account = found.name
    mine = [s for s in statement_asks(services) if s.account == account]
    groups = _groups(services, mine)
    items = _items(services)
    scored = _scores(services)
    rows = [_group_row(g, items, scored) for g in groups]
    rows.sort(key=lambda r: (-r["mentions"], r["label"]))
    since = since or _last_heard(mine)
    moved = _moved(services, since, {r["decision"].get("item_id") for r in rows})
    sent = _drafts(services, account)
    answered = _answered_items(services, account, sent)
    for r in rows:
        r["answered"] = bool(r["decision"].get("item_id") in answered) if r["decision"].get("item_id") else bool(
            any(d["verdict"] == NOT_ON_ROADMAP and d["question"] in r["texts"] for d in sent))
        del r["quotes_all"], r["texts"]
    text, problems = _summary(services, account, rows, items, scored)
    facts = account_facts(services).get(account, {})
    return {"account": account, "arr": facts.get("arr"), "deal_stage": facts.get("deal_stage"),
            "notes": len({s.note_id for s in mine}), "first_heard": _first_heard(mine),
            "last_heard": _last_heard(mine).isoformat() if mine else None,
            "pains": rows, "moved_since": since.isoformat() if since else None, "moved": moved,
            "open_asks": [{k: r[k] for k in ("label", "decision", "quotes")} for r in rows if not r["answered"]],
            "drafts": sent, "text": text, "checks": checks.report(text, problems)}


def _groups(services, mine: list) -> list[dict]:
    """The account's asks by the item their Decision cites; a pain no item is cited for takes its theme's answer
    (`_theme_items`), else it is grouped by its theme of the latest run (else "Other pains"). Praise, and statements
    that are neither an ask nor a pain, are left out."""
    kinds = _kinds(services, mine)
    with services.db.session() as session:
        run = latest_run(session)
        theme_of = dict(session.execute(select(ThemeMembership.statement_id, ThemeMembership.theme_id).where(
            ThemeMembership.run_id == run.id, ThemeMembership.statement_id.in_([s.statement_id for s in mine]),
            ThemeMembership.theme_id.is_not(None))).all()) if run and mine else {}
        labels = {t["id"]: t["label"] for t in latest_themes(session)} if run else {}
    out: dict = defaultdict(list)
    uncited = []
    for s in mine:
        if kinds[s.statement_id] == "praise":
            continue
        if s.cited:
            out[("item", s.cited[0][0])].append(s)
        elif kinds[s.statement_id] == "pain":
            uncited.append(s)
    # Each statement has its own Decision: grouped apart from the pains that cite an item, a theme's other pains
    # would answer the same theme a second time ("RM-116 is under consideration", then "not on the roadmap"). They
    # take their theme's answer instead.
    answers = _theme_items(services, out, theme_of, labels, uncited)
    for s in uncited:
        theme = theme_of.get(s.statement_id)
        theme = theme if theme in labels else None
        out[("item", answers[theme]) if theme in answers else ("theme", theme)].append(s)
    groups = []
    for (kind, key), members in out.items():
        themes = Counter(labels[t] for t in (theme_of.get(m.statement_id) for m in members) if t in labels)
        label = themes.most_common(1)[0][0] if themes else None
        groups.append({"kind": kind, "theme_id": key if kind == "theme" else None, "item_key": key if kind == "item"
                       else None, "label": label if kind == "item" else (labels.get(key) or "Other pains"),
                       "members": members})
    return groups


def _theme_items(services, cited: dict, theme_of: dict, labels: dict, uncited: list) -> dict[int, str]:
    """theme id -> the item that answers the theme, for the themes of `uncited` pains: an item the roadmap's coverage
    finds for the theme (the answer the roadmap and report pages give), among them the one the account's own
    statements of the theme cite most, else a linked one, else the best matched. A theme no item addresses has none
    (a gap: its pains are "not on the roadmap")."""
    wanted = {theme_of.get(s.statement_id) for s in uncited} & set(labels)
    if not wanted:
        return {}
    from ..roadmap.service import coverage

    votes: dict[int, Counter] = defaultdict(Counter)
    for (_, item_id), members in cited.items():
        for m in members:
            if theme_of.get(m.statement_id) in wanted:
                votes[theme_of[m.statement_id]][item_id] += 1
    answers = {}
    for row in coverage(services)["themes"]:
        if row["theme_id"] in wanted and row["items"]:
            own = votes[row["theme_id"]]
            best = min(row["items"], key=lambda i: (-own[i["item_id"]], i.get("via") != "link",
                                                   -(i.get("score") or 0), i["item_id"]))
            answers[row["theme_id"]] = best["item_id"]
    return answers


def _kinds(services, mine: list) -> dict[int, str | None]:
    """statement id -> pain | praise | other. A statement no theme run has read yet (a note taken since the last
    run, or outside its window) is read now with the run's own classifier: otherwise a pain raised on yesterday's
    call, that no roadmap item addresses, would be missing from the brief until the next run."""
    kinds = {s.statement_id: s.kind for s in mine}
    unread = [s for s in mine if s.kind is None]
    if unread:
        from types import SimpleNamespace

        from ..themes.run import load_vectors
        from ..themes.select import classify

        texts = [s.text for s in unread]
        vectors = load_vectors(services, [SimpleNamespace(id=s.statement_id, text=s.text) for s in unread])
        kinds.update(zip((s.statement_id for s in unread), classify(texts, vectors, services.embedder)))
    return kinds


def _items(services) -> dict:
    with services.db.session() as session:
        rows = session.scalars(select(RoadmapItem)).all()
        for r in rows:
            session.expunge(r)
    return {r.id: r for r in rows}


def _group_row(group: dict, items: dict, scored: dict) -> dict:
    members = sorted(group["members"], key=lambda s: (s.at, s.statement_id))
    quotes = [{"note_id": s.note_id, "text": s.text, "date": s.at.date().isoformat()} for s in members]
    if group["item_key"] in items:
        item = items[group["item_key"]]
        # "statements": those whose own Decision cites the item; the other mentions are pains of a theme it answers.
        decision = {"verdict": VERDICT_OF_STATUS[item.status], "item_id": item.id, "title": item.title,
                    "status": item.status, "release": _draft_item(item, scored, None).dated_release,
                    "statements": sum(1 for s in members if s.cited and s.cited[0][0] == item.id)}
    else:
        totals = defaultdict(float)
        for s in members:
            for item_id, score in s.ranked.items():
                totals[item_id] += score / len(members)
        nearest = sorted(totals.items(), key=lambda kv: -kv[1])[:NEAREST]
        decision = {"verdict": NOT_ON_ROADMAP, "item_id": None, "nearest": [
            {"item_id": i, "title": items[i].title, "status": items[i].status, "match": round(sc, 4),
             "accepted_at": decisions.ACCEPTED, "scoring_reason": (scored.get(i) or {}).get("reason")}
            for i, sc in nearest if i in items]}
    label = decision.get("title") or group["label"]
    # The quotes shown: the statements closest to the decided item first (newest first when nothing is decided).
    best = sorted(members, key=lambda s: (-s.score_for(decision["item_id"]) if decision["item_id"] else 0,
                                          -s.at.timestamp(), s.statement_id))
    shown = [{"note_id": s.note_id, "text": s.text, "date": s.at.date().isoformat()} for s in best]
    return {"label": label, "theme": group["label"], "theme_id": group["theme_id"], "first_heard": quotes[0]["date"],
            "last_heard": quotes[-1]["date"], "mentions": len(members), "decision": decision,
            "quotes": _pick(shown), "quotes_all": quotes, "texts": {s.text for s in members}}


def _pick(quotes: list[dict]) -> list[dict]:
    """Up to three quotes in the order given, one per note."""
    out, seen = [], set()
    for q in quotes:
        if q["note_id"] not in seen and len(out) < QUOTES_PER_GROUP:
            seen.add(q["note_id"])
            out.append(q)
    return out


def _first_heard(mine: list) -> str | None:
    return min(s.at for s in mine).date().isoformat() if mine else None


def _last_heard(mine: list) -> date | None:
    return max(s.at for s in mine).date() if mine else None


def _moved(services, since: date | None, relevant: set) -> list[dict]:
    if since is None:
        return []
    with services.db.session() as session:
        rows = history.moved_since(session, datetime(since.year, since.month, since.day))
    return [{**r, "asked_by_account": r["item_id"] in relevant} for r in rows]


def _drafts(services, account: str) -> list[dict]:
    with services.db.session() as session:
        rows = session.scalars(select(Draft).where(Draft.account.in_(spellings(session, Draft.account, account)))
                               .order_by(Draft.id.desc())).all()
        return [{"id": d.id, "created_at": d.created_at.isoformat(), "question": d.question, "verdict": d.verdict,
                 "cited_item_ids": list(d.item_ids or []), "followup": bool((d.extra or {}).get("followup"))}
                for d in rows]


def _answered_items(services, account: str, sent: list[dict]) -> set[str]:
    """The items the account heard about at their current status: a draft for it that cites the item made since the
    item's status last changed, or a "told" mark that still holds. A later move reopens the ask, as it puts the
    account back on the item's follow-ups (service.told_items)."""
    with services.db.session() as session:
        out = told_items(session, account)
        changed: dict[str, datetime | None] = {}
        for d in sent:
            for item_id in d["cited_item_ids"]:
                if item_id not in changed:
                    change = history.last_status_change(session, item_id)
                    changed[item_id] = change.changed_at if change else None
                if changed[item_id] is None or datetime.fromisoformat(d["created_at"]) >= changed[item_id]:
                    out.add(item_id)
    return out


def _summary(services, account: str, rows: list[dict], items: dict, scored: dict) -> tuple[str, list[str]]:
    """One line per pain: a quote of the account's own words and what the roadmap says, each line checked like a
    draft about its own item (a brief names items of every status: "available today" on one line is right for
    that line's shipped item, whatever the line before says). A problem names the line it is in."""
    lines, problems = [], []
    for r in rows:
        quote = next((q for q in r["quotes"] if _quotable(q["text"], [])), None)
        said = f' They said: "{quote["text"].strip()}" (note {quote["note_id"]}).' if quote else ""
        evidence = [Evidence(note_id=quote["note_id"], account=account, quote=quote["text"], own=True)] if quote else []
        d = r["decision"]
        if d["item_id"]:
            release = f", release {d['release']}" if d["release"] else ""
            ours = f"{d['item_id']} {d['title']} is {_words(d['verdict'])}{release}."
            line, given, near_items = ours + said, [_draft_item(items[d["item_id"]], scored, None)], []
        else:
            near = "; ".join(f"{n['item_id']} {n['title']} ({n['status']})" for n in d["nearest"])
            # The label is a theme's, in the customers' words ("moved to Snowflake this summer"): no claim of ours.
            ours = f"not on the roadmap, no plan or date to share{' (nearest: ' + near + ')' if near else ''}."
            line, given = f"{r['label']}: {ours}{said}", []
            near_items = [_draft_item(items[n["item_id"]], scored, None) for n in d["nearest"]]
        ctx = DraftContext(question=f"Brief for {account}", account=account, audience="internal", tone=None,
                           verdict=VERDICT_OF_STATUS[given[0].status] if given else NOT_ON_ROADMAP,
                           items=given, evidence=evidence, alternatives=near_items)
        found = checks.check_draft(ours + said, [i.id for i in given], [e.quote for e in evidence], ctx)
        problems += [f"{r['label']}: {p}" for p in found if not p.startswith("too long")]  # a page, not a message
        lines.append(line)
    text = "\n".join(lines) or f"No asks or pains from {account} in the notes yet."
    return text, list(dict.fromkeys(problems))


def _words(verdict: str) -> str:
    return {"available": "available today", "in_progress": "in development", "planned": "planned",
            "under_consideration": "under consideration, with no date",
            "not_planned": "not planned"}.get(verdict, verdict)
