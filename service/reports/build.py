"""The structured nightly report for a period: theme movement against the previous period, top themes with
verbatim quotes, roadmap gaps and draft activity. Rendering (HTML, Markdown) and storage live elsewhere.

Theme figures come from the latest theme run: its memberships say which statements belong to which theme, and
the statements' notes carry the dates, so any period can be compared with the one before it without re-running.
"""
from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from ..models import Account, Draft, DraftFeedback, Note, Statement, utcnow
from ..models.reports import PERIODS

log = logging.getLogger(__name__)

PERIOD_DAYS = {"1d": 1, "7d": 7, "30d": 30}
PERIOD_NAMES = {"1d": "last day", "7d": "last 7 days", "30d": "last 30 days"}
TOP_THEMES = 8
QUOTES_PER_THEME = 3
MOVERS = 10  # at most this many new / growing / fading themes each
DATA_VERSION = 1

try:  # themes are optional: without them the report still has notes, gaps (none) and drafts
    from ..models import ThemeMembership
    from ..themes.measure import parse_arr, trend_of, window_text
    from ..themes.queries import latest_run, latest_themes
except ImportError:  # pragma: no cover - depends on which features are installed
    latest_run = latest_themes = window_text = None


class ReportError(ValueError):
    """A report cannot be built as asked (unknown period, bad date); the message says what to do."""


@dataclass(frozen=True)
class Window:
    period: str
    start: date  # inclusive
    end: date  # exclusive

    @property
    def days(self) -> int:
        return PERIOD_DAYS[self.period]

    @property
    def prev_start(self) -> date:
        return self.start - timedelta(days=self.days)

    def dt(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day)


def period_window(period: str, as_of: date | None = None) -> Window:
    """The `period` days before `as_of` (default: today, UTC). Date-aligned, so a second run the same day
    covers the same window and replaces the first report."""
    if period not in PERIODS:
        raise ReportError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    end = as_of or utcnow().date()
    return Window(period, end - timedelta(days=PERIOD_DAYS[period]), end)


def parse_as_of(value, name: str = "as_of") -> date | None:
    """A report's as-of day from the CLI or the API: None when not given, else a day (YYYY-MM-DD), never in the
    future (check_as_of). An empty value or one with a time of day is refused by name rather than read as today or
    cut to its day without a word. ReportError says what is wrong."""
    from ..notes import parse_filter_date

    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", value):
        raise ReportError(f"{name} takes a day as YYYY-MM-DD (the report covers the days before it), got {value!r}")
    try:
        day = parse_filter_date(value, name).date()
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    check_as_of(day, name)
    return day


def check_as_of(as_of: date | None, name: str = "as_of") -> None:
    """A stored report covers days that have begun: its window ends at the start of `as_of`, so tomorrow (today so
    far) is the latest. A later one would be listed as the newest report for good, saying nothing was heard in days
    still to come. (build_report itself reads any window: nothing is stored.)"""
    latest = utcnow().date() + timedelta(days=1)
    if as_of is not None and as_of > latest:
        raise ReportError(f"{name} {as_of.isoformat()} is in the future: a report covers the days before its as-of "
                          f"date, so the latest it takes is {latest.isoformat()} (tomorrow, UTC: today so far)")


BUILD_STEPS = 3  # the stored figures, the gaps, what moved: what `progress(done, total)` counts


def build_report(services, period: str = "1d", as_of: date | None = None, *, with_gaps: bool = True,
                 progress=None) -> dict:
    window = period_window(period, as_of)
    messages: list[str] = []
    step = (lambda done: progress(done, BUILD_STEPS)) if progress else (lambda done: None)
    with services.db.session() as session:
        notes = _note_stats(session, window)
        run, rows = _theme_rows(session, window, messages)
        first_note = _first_note(session)
        drafts = _draft_activity(session, window)
        context = _context(session, window) if run and not notes["count"] else None
    step(1)
    baseline_note = _limit_trends(rows, notes, window, first_note)
    gaps, gaps_note = _gaps(services, rows) if with_gaps else ([], "gaps were not computed")
    step(2)
    moved, moved_since = _moved(services, window)
    step(3)
    last_day = window.end - timedelta(days=1)
    # The themes' pages, API and CLI name their window in the same words.
    trend_window = window_text(last_day, window.days) if window_text else f"{window.start} to {last_day}"
    if not notes["count"]:
        # The window alone: "(... vs the 7 before)" here would read as if the previous period were empty too.
        days = last_day.isoformat() if window.days == 1 else f"{window.start} to {last_day}"
        messages.insert(0, f"No notes in this window (the {PERIOD_NAMES[period]}: {days}, UTC): "
                           "nothing was heard from customers in it.")
    if baseline_note:
        messages.insert(1 if not notes["count"] else 0, baseline_note)
    active = [r for r in rows if r["mentions"] > 0]
    top = sorted(active, key=lambda r: (-r["accounts"], -(r["arr"] or 0), -r["mentions"], r["label"]))[:TOP_THEMES]
    return {
        "version": DATA_VERSION,
        "title": f"Feedback report: {PERIOD_NAMES[period]}",
        "period": period,
        "period_start": window.start.isoformat(),
        "period_end": window.end.isoformat(),  # exclusive
        "last_day": (window.end - timedelta(days=1)).isoformat(),
        "previous_start": window.prev_start.isoformat(),
        "trend_window": trend_window,
        "generated_at": utcnow().replace(microsecond=0).isoformat(),
        "theme_run": run,
        "notes": notes,
        "new": _movers(rows, "new"),
        "growing": _movers(rows, "growing"),
        "fading": _movers(rows, "fading"),
        # how many themes each list holds before it is cut to MOVERS: "New: a; b; c" must not read as all of them
        "movers_total": {k: sum(1 for r in rows if _is_mover(r, k)) for k in ("new", "growing", "fading")},
        "top_themes": top,
        "themes_mentioned": len(active),
        "themes_mentioned_previous": sum(1 for r in rows if r["previous_mentions"] > 0),
        "quiet_themes": len(rows) - len(active),
        "gaps": gaps,
        "gaps_note": gaps_note,
        "drafts": drafts,
        "moved": moved,
        "moved_since": moved_since,
        "messages": messages,
        "context": context,
    }


def _context(session, window: Window) -> dict | None:
    """For a window without notes: the top themes of the 30 days up to its last day, or, when those are quiet
    too, of the 30 days up to the newest earlier note, so an empty report still shows where things stand."""
    when = func.coalesce(Note.occurred_at, Note.ingested_at)
    end = window.end
    if not session.scalar(select(func.count(Note.id)).where(when >= window.dt(end - timedelta(days=30)),
                                                            when < window.dt(end))):
        newest = session.scalar(select(func.max(when)).where(when < window.dt(window.end)))
        if newest is None:
            return None
        end = newest.date() + timedelta(days=1)
    ctx = Window("30d", end - timedelta(days=30), end)
    mentions = _mentions(session, latest_run(session).id, ctx)
    rows = [_theme_row(t, mentions.get(t["id"], []), ctx) for t in latest_themes(session)]
    top = sorted((r for r in rows if r["mentions"]), key=lambda r: (-r["accounts"], -r["mentions"], r["label"]))
    return {"start": ctx.start.isoformat(), "last_day": (end - timedelta(days=1)).isoformat(),
            "themes": [{k: r[k] for k in ("id", "label", "accounts", "mentions")} for r in top[:TOP_THEMES]]}


def _note_stats(session, window: Window) -> dict:
    when = func.coalesce(Note.occurred_at, Note.ingested_at)

    def count(start: date, end: date):
        cond = (when >= window.dt(start)) & (when < window.dt(end))
        notes = session.scalar(select(func.count(Note.id)).where(cond)) or 0
        accounts = session.scalar(select(func.count(func.distinct(Note.account_id))).where(cond)) or 0
        return notes, accounts

    notes, accounts = count(window.start, window.end)
    previous, previous_accounts = count(window.prev_start, window.start)
    return {"count": notes, "accounts": accounts, "previous": previous, "previous_accounts": previous_accounts}


def _theme_rows(session, window: Window, messages: list[str]) -> tuple[dict | None, list[dict]]:
    if latest_run is None:
        messages.append("themes are not available in this installation")
        return None, []
    run = latest_run(session)
    if run is None:
        messages.append("no theme run yet: run `feedback themes run` (or `feedback schedule --once`) first")
        return None, []
    mentions = _mentions(session, run.id, window)
    themes = latest_themes(session)
    rows = [_theme_row(t, mentions.get(t["id"], []), window) for t in themes]
    # The window the themes pages' trends compare (to the data's latest day), which the report's may not be.
    windows = sorted({t["trend_window"] for t in themes if t.get("trend_window")})
    info = {"run_id": run.id, "created_at": run.created_at.isoformat(), "mode": run.mode,
            "trend_window": windows[0] if windows else None}
    return info, rows


def _mentions(session, run_id: int, window: Window) -> dict[int, list[dict]]:
    """theme id -> its member statements dated in this period or the previous one, most central first."""
    when = func.coalesce(Note.occurred_at, Note.ingested_at)
    query = (
        select(ThemeMembership.theme_id, Statement.id, Statement.text, Note.id, Note.external_id, Account.name,
               when, Note.meta)
        .join(Statement, Statement.id == ThemeMembership.statement_id)
        .join(Note, Note.id == Statement.note_id)
        .outerjoin(Account, Account.id == Note.account_id)
        .where(ThemeMembership.run_id == run_id, ThemeMembership.theme_id.is_not(None),
               when >= window.dt(window.prev_start), when < window.dt(window.end))
        .order_by(ThemeMembership.similarity.desc(), Statement.id)
    )
    out: dict[int, list[dict]] = defaultdict(list)
    for theme_id, sid, text, nid, ext, account, at, meta in session.execute(query):
        out[theme_id].append({"statement_id": sid, "text": text, "note_id": ext or str(nid), "account": account,
                              "when": at, "arr": parse_arr(meta), "current": at >= window.dt(window.start)})
    return out


def _theme_row(theme: dict, mentions: list[dict], window: Window) -> dict:
    current = [m for m in mentions if m["current"]]
    previous = len(mentions) - len(current)
    first_seen = datetime.fromisoformat(theme["first_seen"]) if theme.get("first_seen") else window.dt(window.start)
    arr_by_account: dict[str, float] = {}
    for m in sorted(current, key=lambda m: m["when"]):  # the latest ARR stated for an account wins
        if m["account"] and m["arr"] is not None:
            arr_by_account[m["account"]] = m["arr"]
    accounts = sorted({m["account"] for m in current if m["account"]})
    previous_accounts = len({m["account"] for m in mentions if not m["current"] and m["account"]})
    trend = trend_of(len(current), previous, first_seen, window.dt(window.start)) if mentions else "quiet"
    return {
        "id": theme["id"], "label": theme["label"], "status": theme["status"], "keywords": theme["keywords"][:6],
        "mentions": len(current), "previous_mentions": previous, "accounts": len(accounts),
        "previous_accounts": previous_accounts,
        "account_names": accounts, "arr": float(sum(arr_by_account.values())) if arr_by_account else None,
        "trend": trend, "total_mentions": theme["mentions"], "total_accounts": theme["accounts"],
        "total_arr": theme.get("arr"), "timeline": list(theme.get("timeline") or []),
        "quotes": _quotes(current, theme),
    }


def _quotes(current: list[dict], theme: dict) -> list[dict]:
    """Verbatim statements from this period, one per note and different accounts first; the theme's own
    representative quotes when the period has none."""
    picked, seen_notes, seen_accounts = [], set(), set()
    for fresh_account_only in (True, False):
        for m in current:
            if len(picked) == QUOTES_PER_THEME:
                break
            if m["note_id"] in seen_notes or (fresh_account_only and m["account"] in seen_accounts):
                continue
            picked.append({"note_id": m["note_id"], "account": m["account"], "text": m["text"],
                           "date": m["when"].date().isoformat()})
            seen_notes.add(m["note_id"])
            seen_accounts.add(m["account"])
    if not picked:
        picked = [{**q, "date": None} for q in (theme.get("quotes") or [])[:QUOTES_PER_THEME]]
    return picked


def _is_mover(row: dict, trend: str) -> bool:
    return row["trend"] == trend and (trend != "fading" or row["previous_mentions"] > 0)


def _movers(rows: list[dict], trend: str) -> list[dict]:
    chosen = [r for r in rows if _is_mover(r, trend)]
    chosen.sort(key=lambda r: (-abs(r["mentions"] - r["previous_mentions"]), -r["accounts"], r["label"]))
    keep = ("id", "label", "status", "mentions", "previous_mentions", "accounts", "previous_accounts", "trend",
            "timeline")
    return [{k: r[k] for k in keep} for r in chosen[:MOVERS]]


def _first_note(session) -> datetime | None:
    when = func.coalesce(Note.occurred_at, Note.ingested_at)
    return session.scalar(select(func.min(when)))


def _limit_trends(rows: list[dict], notes: dict, window: Window, first_note: datetime | None) -> str | None:
    """A trend compares what was heard in two periods; where one of them heard nothing at all, a count of 0 there
    is no evidence of a change. A day without notes (a weekend) does not make yesterday's themes fade, the day
    after it does not make today's grow, and the first period of data makes nothing new, only first recorded.
    Such trends become None (no claim) and the returned note says why."""
    if not rows:  # no theme run: the report says so, and there is no trend to qualify
        return None
    start, last_prev = window.start.isoformat(), (window.start - timedelta(days=1)).isoformat()
    if not notes["count"]:
        keep, note = {"quiet"}, None  # "No notes in this window" is said first; nothing faded in a silent window
    elif first_note is None or first_note >= window.dt(window.start):
        keep = {"quiet"}
        note = (f"No notes before {start}: this is the first period with notes, so no theme is called new, "
                "growing or fading (there is no earlier period to compare with).")
    elif not notes["previous"]:
        keep = {"quiet", "new"}
        note = (f"No notes in the previous period ({window.prev_start.isoformat()} to {last_prev}): no theme is "
                "called growing or fading against a period nothing was heard in.")
    else:
        if first_note > window.dt(window.prev_start):
            return (f"The notes begin on {first_note.date().isoformat()}: the previous period "
                    f"({window.prev_start.isoformat()} to {last_prev}) is only partly covered, so growth against it "
                    "may be overstated.")
        return None
    dropped = [row for row in rows if row["trend"] not in keep]
    for row in dropped:
        row["trend"] = None
    if not dropped:  # nothing would have been claimed: no note needed
        return None
    return note or "No theme is called fading: a period without notes says nothing about any theme."


def _gaps(services, rows: list[dict]) -> tuple[list[dict], str | None]:
    """Recurring themes that no roadmap item covers, from the roadmap's own coverage: none addresses them, or only
    an item decided against (not_planned) does."""
    try:
        from ..roadmap.service import coverage
    except ImportError:
        return [], "the roadmap is not available in this installation"
    try:
        cov = coverage(services)
    except Exception:  # a failing matcher must not cost the whole report
        log.exception("roadmap coverage failed while building a report")
        return [], "roadmap coverage could not be computed; see the server log"
    by_id = {r["id"]: r for r in rows}
    gaps = []
    for gap in cov.get("gaps") or []:
        row = by_id.get(gap.get("theme_id"), {})
        accounts, mentions = gap.get("accounts") or 0, gap.get("size") or 0
        # "accounts", "mentions" and "arr" here are the whole theme run's, where a top theme's are this period's;
        # the total_* names (a top theme's names for its theme-run figures) say so and the old names stay for
        # readers of the JSON (docs/reports.md).
        # The trend is this report's, over the window the report names ("Trends compare ..."): the theme run's
        # own trend compares another window (the last 30 days of the data) and contradicted the top themes' one.
        gaps.append({"theme_id": gap.get("theme_id"), "label": gap.get("label"), "accounts": accounts,
                     "mentions": mentions, "trend": row.get("trend") if row else None, "arr": gap.get("arr"),
                     "total_accounts": accounts, "total_mentions": mentions, "total_arr": gap.get("arr"),
                     "period_mentions": row.get("mentions", 0),
                     # why it is a gap though the roadmap is near it: an item declined it, or items split its texts
                     "declined": gap.get("declined") or [], "near": gap.get("near") or []})
    note = cov.get("note")
    if not gaps and note is None and not cov.get("items"):
        note = "no roadmap imported yet: `feedback roadmap import FILE`"
    return gaps, note


def _draft_activity(session, window: Window) -> dict:
    start, end = window.dt(window.start), window.dt(window.end)
    verdicts = dict(session.execute(
        select(Draft.verdict, func.count(Draft.id)).where(Draft.created_at >= start, Draft.created_at < end)
        .group_by(Draft.verdict)
    ).all())
    feedback = session.execute(
        select(DraftFeedback.rating, DraftFeedback.edited_text)
        .where(DraftFeedback.created_at >= start, DraftFeedback.created_at < end)
    ).all()
    ratings = Counter(rating for rating, _ in feedback)
    stars = [int(r) for r in ratings.elements() if r.isdigit()]
    return {
        "count": sum(verdicts.values()),
        "by_verdict": dict(sorted(verdicts.items(), key=lambda kv: (-kv[1], kv[0]))),
        "feedback": len(feedback),
        "thumbs_up": ratings.get("up", 0),
        "thumbs_down": ratings.get("down", 0),
        "average_stars": round(sum(stars) / len(stars), 2) if stars else None,
        "edits_saved": sum(1 for _, edited in feedback if edited),
    }


def _moved(services, window: Window) -> tuple[list[dict], str]:
    """Roadmap items whose status changed since the last stored report (else since the window's start), each with
    how many accounts asked for it and the path of its follow-ups page. A report of a past window (its end before
    today) stops at its end, and looks back from the last report made before then: a report for October must not
    list what moved in November."""
    from ..models import Report

    until = window.dt(window.end) if window.end < utcnow().date() else None
    with services.db.session() as session:
        query = select(Report).where(~((Report.period == window.period) & (Report.period_start == window.start)
                                       & (Report.period_end == window.end)))
        if until is not None:
            query = query.where(Report.created_at < until)
        last = session.scalars(query.order_by(Report.created_at.desc()).limit(1)).first()
        since = last.created_at if last is not None else window.dt(window.start)
        try:
            from ..roadmap.history import moved_since
        except ImportError:  # pragma: no cover - the roadmap is optional
            return [], since.isoformat()
        rows = moved_since(session, since, until)
    for row in rows:
        row["accounts"] = _asked(services, row["item_id"])
        row["followups"] = f"/roadmap/items/{row['item_id']}/followups"
    return rows, since.replace(microsecond=0).isoformat()


def _asked(services, item_id: str) -> int | None:
    try:
        from ..followups.service import asking_accounts

        return len(asking_accounts(services, item_id))
    except Exception:  # a failing matcher must not cost the whole report
        log.exception("counting the accounts behind %s failed while building a report", item_id)
        return None
