"""Build, render and store a report; list and read stored ones. One report per (period, start, end)."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..models import Report, utcnow
from .build import BUILD_STEPS, build_report, check_as_of
from .render import render_html, render_markdown


class ReportNotFound(LookupError):
    pass


def summary_dict(r: Report) -> dict:
    data = r.data or {}
    return {
        "id": r.id, "period": r.period, "period_start": r.period_start.isoformat(),
        "period_end": r.period_end.isoformat(),  # exclusive; people are shown last_day
        "last_day": (r.period_end - timedelta(days=1)).isoformat(), "title": data.get("title"),
        "created_at": r.created_at.isoformat(), "updated_at": r.updated_at.isoformat(),
        "theme_run_id": r.theme_run_id, "notes": (data.get("notes") or {}).get("count"),
        "top_themes": len(data.get("top_themes") or []), "gaps": len(data.get("gaps") or []),
        "delivery": {"status": r.delivery_status, "attempts": r.delivery_attempts, "error": r.delivery_error,
                     "delivered_at": r.delivered_at.isoformat() if r.delivered_at else None},
    }


def report_dict(r: Report, *, formats: bool = False) -> dict:
    out = summary_dict(r) | {"data": r.data}
    if formats:
        out |= {"markdown": r.markdown, "html": r.html}
    return out


REPORT_STEPS = BUILD_STEPS + 2  # building, then rendering and storing


def create_report(services, period: str = "1d", as_of: date | None = None, *, with_gaps: bool = True,
                  messages: list[str] | None = None, progress=None) -> Report:
    """Build and store the report for a period; a report already stored for the same window is replaced
    (same id), and its delivery status starts over because its content changed. `messages` are shown on top
    (e.g. why the themes could not be refreshed before this report). `progress(done, total)`, if given, is
    called after each of the REPORT_STEPS steps."""
    check_as_of(as_of)
    step = (lambda done, _total=None: progress(done, REPORT_STEPS)) if progress else (lambda *_: None)
    data = build_report(services, period, as_of, with_gaps=with_gaps, progress=step)
    data["messages"] = list(messages or []) + data["messages"]
    html, markdown = render_html(data), render_markdown(data)
    step(BUILD_STEPS + 1)
    for attempt in range(2):  # a concurrent run may insert the same window first: then update that row
        try:
            with services.db.transaction() as session:
                row = _upsert(session, data, html, markdown)
            step(REPORT_STEPS)
            return row
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _upsert(session, data: dict, html: str, markdown: str) -> Report:
    start, end = date.fromisoformat(data["period_start"]), date.fromisoformat(data["period_end"])
    row = session.scalars(select(Report).where(
        Report.period == data["period"], Report.period_start == start, Report.period_end == end)).first()
    if row is None:
        row = Report(period=data["period"], period_start=start, period_end=end)
        session.add(row)
    row.data, row.html, row.markdown = data, html, markdown
    row.theme_run_id = (data.get("theme_run") or {}).get("run_id")
    row.updated_at = utcnow()
    row.delivery_status, row.delivery_error, row.delivered_at, row.delivery_attempts = "not_sent", None, None, 0
    session.flush()
    return row


def list_reports(services, limit: int = 100, offset: int = 0) -> list[Report]:
    with services.db.session() as session:
        query = select(Report).order_by(Report.period_end.desc(), Report.updated_at.desc(), Report.id.desc())
        return list(session.scalars(query.offset(offset).limit(limit)))


def count_reports(services) -> int:
    """All stored reports, whatever page of them is listed: the `total` of the API and `reports list --json`."""
    with services.db.session() as session:
        return session.scalar(select(func.count()).select_from(Report)) or 0


def get_report(services, report_id) -> Report:
    try:
        key = int(str(report_id))
    except ValueError:
        raise ReportNotFound(f"no report with id {report_id!r}") from None
    with services.db.session() as session:
        row = session.get(Report, key)
    if row is None:
        raise ReportNotFound(f"no report with id {report_id!r}")
    return row


def write_files(services, report: Report, folder: Path | None = None) -> Path:
    """FEEDBACK_HOME/reports/latest.html (and .md): a file to open or attach, refreshed by every run."""
    folder = Path(folder or Path(services.config.FEEDBACK_HOME) / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    html_path = folder / "latest.html"
    _atomic_write(html_path, report.html)
    _atomic_write(folder / "latest.md", report.markdown)
    return html_path


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file
