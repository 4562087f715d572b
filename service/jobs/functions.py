"""The job functions: each takes (services, payload, progress) and returns a JSON-able result.

Each is safe to run again after a failure part way (a retry): ingest dedupes by id and normalised text and
commits atomically, reindex rebuilds from SQL, a report replaces the one stored for its window, a theme run
commits at its end, an erasure commits its rows in one transaction (a retry of the compaction alone finds
nothing left to erase and says so). Long work reports progress through `progress.total(n)` and `progress(n)`.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime

from ..ingest.validate import NoteInput


class JobFailed(RuntimeError):
    """A final failure with a message for the user: retrying cannot help."""


def notes_payload(notes: list[NoteInput], rejected=()) -> dict:
    """Validated notes as JSON for the job row (the input is validated before it is queued, so a bad row is an
    immediate 422 or CLI error, never a failed job later)."""
    def row(note: NoteInput) -> dict:
        data = dataclasses.asdict(note)
        data["occurred_at"] = note.occurred_at.isoformat() if note.occurred_at else None
        if data.get("written_account") is None:  # set by the ingest itself; a worker of the previous version lacks it
            data.pop("written_account", None)
        return data

    return {"notes": [row(n) for n in notes], "rejected": [e.as_dict() for e in rejected]}


def _notes_from(payload: dict) -> list[NoteInput]:
    out = []
    for data in payload["notes"]:
        data = dict(data)
        if data.get("occurred_at"):
            data["occurred_at"] = datetime.fromisoformat(data["occurred_at"])
        out.append(NoteInput(**data))
    return out


def ingest_job(services, payload: dict, progress) -> dict:
    from ..ingest.split import split_statements
    from ..ingest.store import ingest_notes

    notes = _notes_from(payload)
    progress.total(sum(len(split_statements(n.text)) for n in notes))  # the bar's size; speakers may split finer
    report = ingest_notes(services, notes, progress)
    return {**report.as_dict(), "rejected": payload.get("rejected", [])}


def reindex_job(services, payload: dict, progress) -> dict:
    from ..ingest.store import reindex
    from ..notes import stats

    progress.total(stats(services, with_vectors=False)["statements"])
    return {"reindexed": reindex(services, progress=progress)}


def themes_payload(options) -> dict:
    """A RunOptions as the JSON a themes job carries (dates as ISO text)."""
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in dataclasses.asdict(options).items()}


def themes_job(services, payload: dict, progress) -> dict:
    from ..themes.run import RunOptions, ThemeRunError, run_themes

    fields = {f.name for f in dataclasses.fields(RunOptions)}
    options = {k: v for k, v in payload.items() if k in fields}
    for key in ("since", "until"):
        if options.get(key):
            options[key] = datetime.fromisoformat(options[key])
    try:
        result = run_themes(services, RunOptions(**options), progress=progress.steps)
    except ThemeRunError as exc:
        raise JobFailed(str(exc)) from None
    return {"run_id": result["run_id"], "mode": result.get("mode"), "themes": len(result["themes"])}


def report_job(services, payload: dict, progress) -> dict:
    """The nightly job (themes, report, then the configured webhook if `deliver`), as `feedback schedule` runs it.
    A webhook URL is a credential: jobs never store one, they use FEEDBACK_REPORT_WEBHOOK_URL."""
    from ..models.reports import NIGHTLY_PERIOD
    from ..reports.schedule import nightly_job

    as_of = date.fromisoformat(payload["as_of"]) if payload.get("as_of") else None
    webhook = services.config.REPORT_WEBHOOK_URL if payload.get("deliver") else None
    return nightly_job(services, payload.get("period", NIGHTLY_PERIOD), webhook, as_of, progress=progress.steps)


def build_report_job(services, payload: dict, progress) -> dict:
    """A report for a period built now (the reports page): the same stored row as `feedback report`."""
    from ..reports.build import ReportError
    from ..reports.store import create_report

    try:
        row = create_report(services, payload["period"], progress=progress.steps)
    except ReportError as exc:
        raise JobFailed(str(exc)) from None
    if payload.get("deliver") and services.config.REPORT_WEBHOOK_URL:
        from ..reports.deliver import enqueue_delivery

        enqueue_delivery(services, row.id)  # its own job: a slow webhook must not hold the report's
    return {"report_id": row.id, "period": row.period}


def erase_job(services, payload: dict, progress) -> dict:
    """Account erasure in two steps: the rows and every derived copy (one transaction), then the files compacted.
    Once the rows are gone the job row keeps only the fingerprint the audit log uses, not the account's name, and
    a retry (a transient error while compacting) compacts again without erasing twice."""
    from ..erase import CompactionFailed, EraseError, compact, erase_account, fingerprint
    from .store import replace_payload

    progress.total(2)
    if "name" in payload:
        try:
            erased = erase_account(services, payload["name"], compact_files=False)
        except EraseError as exc:
            # Nothing to erase (a second request for the same account, a typo): the job row must not keep the name
            # it was asked to forget, neither in its payload nor in its error.
            name, mark = payload["name"], fingerprint(payload["name"])
            payload.clear()
            payload["account"] = mark
            replace_payload(services, progress.job_id, {"account": mark})
            raise JobFailed(str(exc).replace(repr(name), mark).replace(name, mark)) from None
        kept = {"account": fingerprint(payload["name"]), "erased": erased, "compact": payload.get("compact", True)}
        payload.clear()
        payload.update(kept)  # the same dict a retry in this process gets
        replace_payload(services, progress.job_id, kept)
    progress(1)
    result = dict(payload["erased"])
    if payload.get("compact", True):
        try:
            result["compacted"] = compact(services)
        except Exception as exc:
            if _will_retry(services, progress, exc):
                raise
            raise JobFailed(str(CompactionFailed(result, exc))) from exc  # erased, not compacted: how to finish
    progress(1)
    return result


def _will_retry(services, progress, exc: BaseException) -> bool:
    """Will the queue run this job again after `exc`? For a transient error before the last attempt. The last
    attempt's error is the job's, and it must say that the rows are erased and how to finish the compaction."""
    from .queue import ATTEMPTS, is_transient
    from .store import get

    job_id = getattr(progress, "job_id", None)
    job = get(services, job_id) if job_id and is_transient(exc) else None
    return job is not None and job["attempts"] < ATTEMPTS


def deliver_job(services, payload: dict, progress) -> dict:
    """Post a stored report to the configured webhook, or to an API caller's (sealed in the payload)."""
    from ..reports.deliver import run_delivery_job

    result = run_delivery_job(services, payload, getattr(progress, "job_id", None))  # retries with backoff itself
    if not result.ok:
        raise JobFailed(f"webhook delivery failed after {result.attempts} attempt(s): {result.error}")
    return {"ok": True, "attempts": result.attempts, "status_code": result.status_code}


JOBS = {"ingest": ingest_job, "reindex": reindex_job, "themes": themes_job, "report": report_job,
        "build_report": build_report_job, "deliver": deliver_job, "erase": erase_job}
