"""What the pages show, shaped from the themes, roadmap and drafts services. Each feature is optional: when its
package is missing the module attribute is None and the page says the feature is not available."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import select

from ..accounts import account_key
from ..models import Draft, RoadmapItem, RoadmapLink
from ..notes import existing_note_ids

log = logging.getLogger(__name__)

try:
    from ..themes import queries as theme_queries
    from ..themes.run import RunOptions
except ImportError:  # pragma: no cover - depends on which features are installed
    theme_queries = None
try:
    from ..roadmap import service as roadmap
except ImportError:  # pragma: no cover
    roadmap = None
try:
    from ..drafts import pipeline as drafts
except ImportError:  # pragma: no cover
    drafts = None

STATEMENTS_SHOWN = 30
THEMES_PER_PAGE = 50
THEME_CHOICES = 20  # the nearest themes offered to merge into or move statements to
ACCOUNTS_PER_PAGE = 20
MAX_PAGE = 1_000_000  # as the API's ?page=: far past any list, and its offset stays inside 64 bits


class BadPage(ValueError):
    """?page= that is not a page number: a 400 naming the field."""


def page_number(raw: str | None) -> int:
    """?page=N as an int (1 when absent), else BadPage saying what is expected."""
    if raw is None or raw.strip() == "":
        return 1
    text = raw.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 7 and 1 <= int(text) <= MAX_PAGE):
        raise BadPage(f"page must be a whole number from 1 to {MAX_PAGE:,}, not {raw[:40]!r}")
    return int(text)


@dataclass(frozen=True)
class Pager:
    """One page of a list the page has in full (it was filtered or ordered in Python): what _macros.pager shows."""

    number: int
    per_page: int
    total: int

    @property
    def first(self) -> int:  # 1-based position of the first row shown
        return min((self.number - 1) * self.per_page + 1, self.total + 1)

    @property
    def last(self) -> int:
        return min(self.number * self.per_page, self.total)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    def rows(self, items: list) -> list:
        return items[(self.number - 1) * self.per_page:self.number * self.per_page]


# ---- themes ---------------------------------------------------------------------------------------------------
def theme_list(svc, form=None) -> tuple[dict | None, list[dict]]:
    """The latest run's themes, filtered by window overlap, source and account when a valid form is given."""
    with svc.db.session() as session:
        run = theme_queries.latest_run(session)
        items = theme_queries.latest_themes(session) if run else []
    info = {"run_id": run.id, "created_at": run.created_at, "mode": run.mode, "filters": run.filters or {},
            "since": run.since, "until": run.until} if run else None
    for t in items:
        t.pop("centroid", None)
    if form is not None:
        items = [t for t in items if _keep(t, form)]
    return info, items


def _keep(theme: dict, form) -> bool:
    since = datetime.combine(form.since.data, time.min) if form.since.data else None
    until = datetime.combine(form.until.data, time.max) if form.until.data else None
    first = datetime.fromisoformat(theme["first_seen"]) if theme.get("first_seen") else None
    last = datetime.fromisoformat(theme["last_seen"]) if theme.get("last_seen") else None
    if since and last and last < since:
        return False
    if until and first and first > until:
        return False
    if form.source.data and not (theme.get("sources") or {}).get(form.source.data):
        return False
    account = (form.account.data or "").strip()
    # by the key, as every other account filter: "ACME corp." finds a theme of "Acme Corp"
    return not account or account_key(account) in {account_key(a) for a in theme.get("account_names") or []}


def theme_page(svc, theme_id: int) -> dict | None:
    with svc.db.session() as session:
        try:
            detail = theme_queries.theme_detail(session, theme_id)
        except theme_queries.ThemeNotFound:
            return None
        detail["statements"] = theme_queries.theme_statements(session, theme_id, limit=STATEMENTS_SHOWN)
    detail["items"], detail["items_note"] = addressing_items(svc, theme_id)
    return detail


def other_themes(svc, theme_id: int, keep: tuple[int, ...] = ()) -> list[dict]:
    """The merge and move choices of a theme page: the THEME_CHOICES other themes of the latest run most like this
    one (id, label, similarity), plus any in `keep` (the choice sent with a refused edit, shown again). Any other
    theme is typed by its id next to the list; a list of every theme held 818 options twice at a year of data."""
    with svc.db.session() as session:
        return theme_queries.nearest_themes(session, theme_id, THEME_CHOICES, include=keep)


def addressing_items(svc, theme_id: int) -> tuple[list[dict], str | None]:
    """Roadmap items that address a theme (linked by a person, or picked by the matcher), from coverage."""
    if roadmap is None:
        return [], "The roadmap is not available in this installation."
    try:
        cov = roadmap.coverage(svc)
        with svc.db.session() as session:
            releases = {i.id: i.release for i in roadmap.load_items(session)}
    except Exception:
        log.exception("roadmap coverage failed on a theme page")
        return [], "Roadmap coverage could not be computed right now."
    row = next((t for t in cov.get("themes") or [] if t.get("theme_id") == theme_id), None)
    if row is None:
        return [], cov.get("note") or "This theme is not in the latest theme run, so coverage is not computed."
    items = [{**i, "release": releases.get(i["item_id"])} for i in row.get("items") or []]
    if not items and not releases:
        return [], "No roadmap imported yet."
    return items, None


def themes_of_note(svc, public_id: str) -> list[dict]:
    if theme_queries is None:
        return []
    with svc.db.session() as session:
        return [{k: t[k] for k in ("id", "label", "status", "trend")}
                for t in theme_queries.latest_themes(session) if public_id in (t.get("note_ids") or [])]


# ---- drafts ---------------------------------------------------------------------------------------------------
def recent_drafts(svc, limit: int = 8) -> list[dict]:
    with svc.db.session() as session:
        rows = session.scalars(select(Draft).order_by(Draft.id.desc()).limit(limit)).all()
        return [{"id": d.id, "question": d.question, "account": d.account, "verdict": d.verdict,
                 "created_at": d.created_at} for d in rows]


def no_roadmap(svc) -> bool:
    """True while no roadmap item is imported: every draft then says "not on the roadmap", which the ask and draft
    pages must say is only for want of a roadmap, before a rep sends it."""
    with svc.db.session() as session:
        return session.scalar(select(RoadmapItem.id).where(RoadmapItem.archived.is_(False)).limit(1)) is None


def draft_page(svc, draft_id: int) -> dict | None:
    try:
        found = drafts.get_draft(svc, draft_id)
    except drafts.DraftNotFound:
        return None
    found["items"] = cited_items(svc, found.get("cited_item_ids") or [])
    linked, rejected = linked_items(svc, draft_id)
    for item in found["items"]:
        item["linked"], item["rejected"] = item["id"] in linked, item["id"] in rejected
    found["notes_present"] = notes_present(svc, [e.get("note_id") for e in found.get("evidence") or []])
    return found


def notes_present(svc, note_ids) -> set[str]:
    """The public ids among these that still name a note. A stored draft or report keeps the ids it quoted as a
    record of what was sent; its page links only the notes that still exist and says which were deleted."""
    with svc.db.session() as session:
        return existing_note_ids(session, note_ids)


def report_notes_present(svc, report_data: dict) -> set[str]:
    quoted = [q.get("note_id") for t in report_data.get("top_themes") or [] for q in t.get("quotes") or []]
    return notes_present(svc, quoted)


def linked_items(svc, draft_id: int) -> tuple[set[str], set[str]]:
    """The items this draft's question is linked to (a "yes" on its page, the API or the CLI), and those it was
    rejected for (a "no")."""
    from ..roadmap.rejections import drafts_rejected

    with svc.db.session() as session:
        linked = set(session.scalars(select(RoadmapLink.item_id).where(RoadmapLink.draft_id == draft_id)))
        return linked, drafts_rejected(session, draft_id)


def cited_items(svc, item_ids: list[str]) -> list[dict]:
    """Title, status and release of each cited item, in citation order; an item deleted since stays listed."""
    if not item_ids:
        return []
    known = {}
    if roadmap is not None:
        with svc.db.session() as session:
            known = {i.id: roadmap.item_dict(i) for i in roadmap.load_items(session, include_archived=True)
                     if i.id in item_ids}
    return [known.get(i) or {"id": i, "title": i, "status": None, "release": None, "missing": True} for i in item_ids]


# ---- roadmap --------------------------------------------------------------------------------------------------
def roadmap_page(svc) -> dict:
    """Items best score first, with release, demand and reason; and the gaps. Coverage failing (a matcher
    problem) still shows the items and scores."""
    with svc.db.session() as session:
        items = {i.id: roadmap.item_dict(i) for i in roadmap.load_items(session)}
    note, demand, gaps, themed = None, {}, [], False
    try:
        ranked = roadmap.scores(svc) if items else {"items": [], "method": None}
    except ValueError as exc:  # FEEDBACK_SCORING or its weights are misconfigured: the items, unscored, and why
        ranked = {"method": None, "items": [{"item_id": i["id"], "title": i["title"], "status": i["status"],
                                              "score": None, "reason": None} for i in items.values()]}
        note = f"Items are not scored: the server's scoring setting is wrong ({exc})."
    if items:
        try:
            cov = roadmap.coverage(svc)
            demand = {r["item_id"]: r for r in cov["items"]}
            gaps, note, themed = ([{**g, "why": roadmap.gap_reasons(g)} for g in cov["gaps"]], note or cov.get("note"),
                                  bool(cov["themes"]))
        except Exception:
            log.exception("roadmap coverage failed on the roadmap page")
            note = note or "Demand and gaps could not be computed right now; scores are shown without them."
    rows = []
    for r in ranked["items"]:
        item = items.get(r["item_id"], {})
        cov_row = demand.get(r["item_id"], {})
        rows.append({**r, "shown_score": None if r["score"] is None else roadmap.scoring.fmt(r["score"]),
                     "release": item.get("release"), "url": item.get("url"), "goal": item.get("goal"),
                     "demand": cov_row.get("demand") or {}, "theme_ids": cov_row.get("theme_ids") or []})
    return {"items": rows, "gaps": gaps, "note": note, "method": ranked.get("method"), "themed": themed}


# ---- jobs -----------------------------------------------------------------------------------------------------
JOB_LABELS = {
    "ingest": "Storing notes", "themes": "Theme run", "build_report": "Building a report", "report": "Nightly report",
    "reindex": "Rebuilding the vector index", "erase": "Erasing an account", "deliver": "Delivering a report",
}
PROGRESS_UNITS = {"ingest": "statements", "reindex": "statements", "themes": "steps", "build_report": "steps",
                  "report": "steps", "erase": "steps"}
RESULT_LABELS = {
    "created": "notes stored", "updated": "notes updated", "unchanged": "notes already stored",
    "statements": "statements", "themes": "themes", "reindexed": "statements re-indexed", "notes": "notes erased",
    "drafts_deleted": "drafts deleted", "theme_snapshots_redacted": "theme snapshots redacted",
    "reports_redacted": "reports redacted",
}


def job_view(job: dict) -> dict:
    """What the job page shows: a label, whether it is still going, done/total, and the result's counts."""
    done, total = job["progress"]["done"] or 0, job["progress"]["total"] or 0
    result = job.get("result") or {}
    counts = [(label, result[key]) for key, label in RESULT_LABELS.items()
              if isinstance(result.get(key), int) and not isinstance(result.get(key), bool)]
    return {"label": JOB_LABELS.get(job["kind"], job["kind"]), "active": job["status"] in ("queued", "running"),
            "done": min(done, total) if total else done, "total": total,
            "percent": round(100 * min(done, total) / total) if total else None, "counts": counts,
            "unit": PROGRESS_UNITS.get(job["kind"], ""),
            "rejected": len(result.get("rejected") or [])}
