"""GET /api/v1/jobs/<id> and /api/v1/jobs: the state of background work (large ingests and the like)."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from ..jobs import JobNotFound, get_job, list_jobs
from ..models.jobs import JOB_STATUSES
from ..services import services
from .errors import APIError
from .hygiene import query_int

bp = APIBlueprint("jobs", __name__, url_prefix="/api/v1", tag="Jobs")


@bp.get("/jobs/<job_id>")
@bp.doc(summary="One job: status (queued, running, done, failed), progress, result or error",
        responses={404: "no such job"})
def get_one(job_id: str):
    try:
        return get_job(services(), job_id)
    except JobNotFound as exc:
        raise APIError(404, str(exc))


@bp.get("/jobs")
@bp.doc(summary="Recent jobs, newest first; ?status= filters, ?limit= (<= 200)")
def get_many():
    status = request.args.get("status")
    if status and status not in JOB_STATUSES:
        raise APIError(400, f"unknown status {status!r}", {"field": "status", "allowed": list(JOB_STATUSES)})
    # The same rule as every other list's page size (int() took "1_0", and the error named no field).
    limit = query_int("limit", 50, 1, 200)
    return {"items": list_jobs(services(), status=status, limit=limit)}


def init_app(app) -> None:
    app.register_blueprint(bp)
