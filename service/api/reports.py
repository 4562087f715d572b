"""Reports API: list stored reports, read one, build one now (and optionally deliver it to a webhook)."""
from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import String
from apiflask.validators import OneOf
from flask import request

from ..models.reports import DEFAULT_PERIOD, PERIODS
from ..reports.build import ReportError, parse_as_of
from ..reports.deliver import WebhookURLError, api_allowed_hosts, check_url, enqueue_delivery
from ..reports.store import (ReportNotFound, count_reports, create_report, get_report, list_reports, report_dict,
                             summary_dict)
from ..services import services
from .errors import APIError
from .fields import Body, Text
from .hygiene import MAX_PAGE, check_body, query_int

bp = APIBlueprint("reports", __name__, url_prefix="/api/v1", tag="Reports")
bp.before_request(check_body)  # JSON, parsed and within limits, once the caller is known


def init_app(app) -> None:
    app.register_blueprint(bp)


class ReportIn(Body):
    since = String(load_default=DEFAULT_PERIOD, validate=OneOf(PERIODS),
                   metadata={"description": f"the period: 1d, 7d or 30d (default {DEFAULT_PERIOD}, the themes pages' "
                                            "window, as `feedback report`)"})
    webhook = Text(metadata={"description": "a Slack-compatible incoming webhook URL to post the report to"})
    as_of = Text(metadata={"description": "the period ends at the start of this day, UTC (default: today)"})


@bp.get("/reports")
@bp.doc(summary="Stored reports, newest first (?limit=, ?offset=); total counts them all")
def list_all():
    limit = query_int("limit", 50, 1, 500)
    offset = query_int("offset", 0, 0, MAX_PAGE * 500)
    rows = [summary_dict(r) for r in list_reports(services(), limit=limit, offset=offset)]
    return {"reports": rows, "total": count_reports(services()), "limit": limit, "offset": offset}


@bp.get("/reports/<int:report_id>")
@bp.doc(summary="One report: its structured data (?formats=true adds the HTML and Markdown)",
        responses={404: "no such report"})
def get_one(report_id: int):
    try:
        row = get_report(services(), report_id)
    except ReportNotFound as exc:
        raise APIError(404, str(exc)) from None
    return report_dict(row, formats=request.args.get("formats", "").lower() in ("1", "true", "yes"))


@bp.post("/reports")
@bp.input(ReportIn, arg_name="body")
@bp.doc(summary="Build and store the report for a period now; a stored report for the same window is replaced",
        responses={201: "the stored report; with a webhook its delivery is a job (delivery.status queued, then "
                        "sent or failed with a short error; delivery.job_id to poll /api/v1/jobs/<id>)"})
def create(body: dict):
    svc = services()
    try:  # a day to come, an empty value or a time of day: refused here, so the field is named right
        as_of = parse_as_of(body.get("as_of"), "as_of")
    except ReportError as exc:
        raise APIError(422, str(exc), {"field": "as_of"}) from None
    try:
        if "webhook" in body:  # "" too: an empty value is no delivery asked for in silence, it is refused
            if not body["webhook"].strip():
                raise WebhookURLError("webhook is empty: give the webhook URL, or leave the field out")
            check_url(body["webhook"], api_allowed_hosts(svc.config))
    except WebhookURLError as exc:
        raise APIError(422, str(exc), {"field": "webhook"}) from None
    try:
        row = create_report(svc, body.get("since") or DEFAULT_PERIOD, as_of)
    except ReportError as exc:
        raise APIError(422, str(exc), {"field": "since"}) from None
    job = enqueue_delivery(svc, row.id, body["webhook"]) if body.get("webhook") else None
    out = report_dict(get_report(svc, row.id))
    if job is not None:  # a slow webhook must not hold this worker: the post runs as a job
        out["delivery"]["job_id"] = job["id"]
    return out, 201
