"""Administration API: erase an account, delete a draft or a report, read the audit log (admin only)."""
from __future__ import annotations

from apiflask import APIBlueprint

from ..auth.audit import entries
from ..erase import FINISH, CompactionFailed, EraseError, delete_draft, delete_report, erase_account, fingerprint
from ..models import row_number
from ..services import services
from .errors import APIError
from .hygiene import query_flag, query_int
from .openapi import query_parameters
from .queries import AuditQuery, BackgroundQuery

bp = APIBlueprint("admin", __name__, url_prefix="/api/v1", tag="Administration")


def init_app(app) -> None:
    app.register_blueprint(bp)


@bp.delete("/accounts/<path:name>")
@query_parameters(BackgroundQuery)
@bp.doc(summary="Erase an account: notes, statements, vectors, drafts quoting it, its traces in themes and "
                "reports; then compact the files. ?background=true queues it as a job with progress (202)",
        responses={404: "no such account", 202: "queued as a job (poll /api/v1/jobs/<id>)",
                   503: "compaction_failed: the account is erased (and logged) but the files were not compacted; "
                        "`feedback compact` on the server finishes it"})
def erase(name: str):
    from flask import request

    if query_flag("background"):
        from ..erase import account_exists, no_such_account
        from ..jobs import enqueue

        if not account_exists(services(), name):
            raise APIError(404, no_such_account(services(), name))
        job = enqueue(services(), "erase", {"name": name})
        return {"job": job, "status_url": f"/api/v1/jobs/{job['id']}"}, 202, {"Location": f"/api/v1/jobs/{job['id']}"}
    try:
        return erase_account(services(), name)
    except EraseError as exc:
        raise APIError(404, str(exc)) from None
    except CompactionFailed as exc:
        # The rows are erased and committed: a retry would be a 404, so the answer says what happened and how to
        # finish, and the audit log gets the entry the guard writes only for a success.
        from ..auth import record_action

        counts = {k: v for k, v in exc.erased.items() if isinstance(v, int)}
        record_action("account_erase", f"name={fingerprint(name)}",
                      {"status": 503, "route": request.url_rule.rule, "compacted": False, **counts})
        raise APIError(503, str(exc), {"erased": counts, "compacted": False, "finish": FINISH},
                       code="compaction_failed") from None


@bp.delete("/drafts/<draft_id>")
@bp.doc(summary="Delete a stored draft and its ratings", responses={404: "no such draft"})
def delete_one_draft(draft_id: str):
    # the same path as GET /drafts/<draft_id>, so an id that is not a number is no such draft (404), not a 405
    if (number := row_number(draft_id)) is None:
        raise APIError(404, f"no draft with id {draft_id[:40]!r}")
    try:
        delete_draft(services(), number)
    except EraseError as exc:
        raise APIError(404, str(exc)) from None
    return {"deleted": int(draft_id)}


@bp.delete("/reports/<report_id>")
@bp.doc(summary="Delete a stored report", responses={404: "no such report"})
def delete_one_report(report_id: str):
    # As DELETE /drafts/<id>: an id that is not a row number ("abc", one past 32 bits) is no such report (404). With
    # <int:...> no route took it, and werkzeug answered 405 because the GET route's pattern matched the digits.
    if (number := row_number(report_id)) is None:
        raise APIError(404, f"no report with id {report_id[:40]!r}")
    try:
        delete_report(services(), number)
    except EraseError as exc:
        raise APIError(404, str(exc)) from None
    return {"deleted": number}


@bp.get("/audit")
@query_parameters(AuditQuery)
@bp.doc(summary="The audit log, newest first (?limit=, ?action=)")
def audit_log():
    from flask import request

    return {"entries": entries(services().db, limit=query_int("limit", 100, 1, 10_000),
                               action=request.args.get("action"))}
