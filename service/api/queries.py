"""The query parameters of the API, for the OpenAPI document. The views check them themselves (hygiene.query_int and
query_flag, an allowed status, a date) so that a bad value is a 400 naming it; these schemas only describe them,
through service.api.openapi.query_parameters. The views of this package read their bounds from here."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Integer, String
from apiflask.validators import OneOf, Range

from ..models.jobs import JOB_STATUSES
from ..models.notes import SOURCE_KINDS
from ..models.roadmap import ROADMAP_STATUSES
from .hygiene import MAX_PAGE

MAX_PER_PAGE = 200
THEME_STATUSES = ("recurring", "emerging")  # hidden themes are left out of the list
DATE = {"format": "date", "description": "a day, YYYY-MM-DD (years 1900 to 2200)"}


def page_field() -> Integer:
    return Integer(load_default=1, validate=Range(1, MAX_PAGE), metadata={"description": "the page, from 1"})


def per_page_field(default: int) -> Integer:
    return Integer(load_default=default, validate=Range(1, MAX_PER_PAGE))


def _flag(description: str, default: bool = False) -> Boolean:
    return Boolean(load_default=default, metadata={"description": f"{description} (true or false; 1/0, yes/no, "
                                                                  "on/off also work)"})


class NotesQuery(Schema):
    account = String(metadata={"description": "only this account's notes"})
    source = String(validate=OneOf(SOURCE_KINDS))
    since = String(metadata={**DATE, "description": "only notes from this day"})
    until = String(metadata={**DATE, "description": "only notes up to this day"})
    page = page_field()
    per_page = per_page_field(50)


class IngestQuery(Schema):
    skip_invalid = _flag("store the valid notes and list the invalid ones in `rejected` (else nothing is stored)")
    allow_future = _flag("accept a date more than a day ahead")


class ThemesQuery(Schema):
    status = String(validate=OneOf(THEME_STATUSES))


class BackgroundQuery(Schema):
    background = _flag("run it as a job: 202 with the job to poll")


class ItemsQuery(Schema):
    status = String(validate=OneOf(ROADMAP_STATUSES))
    include_archived = _flag("also list archived items")


class ImportQuery(Schema):
    sync = _flag("archive the items missing from the input")
    prune = _flag("with sync=true, delete them instead")


class DraftsQuery(Schema):
    account = String(metadata={"description": "only drafts for this account"})
    page = page_field()
    per_page = per_page_field(20)


class FollowupsQuery(Schema):
    since = String(metadata={**DATE, "description": "only notes on or after this day"})
    drafts = _flag("a checked follow-up draft per account; false lists accounts only", default=True)


class BriefQuery(Schema):
    account = String(metadata={"description": "the account (the /accounts/brief form; required there)"})
    since = String(metadata={**DATE, "description": "items moved since this day (default: the account's last note)"})


class AuditQuery(Schema):
    limit = Integer(load_default=100, validate=Range(1, 10_000))
    action = String(metadata={"description": "only entries of this action, such as ingest"})


class ReportsQuery(Schema):
    limit = Integer(load_default=50, validate=Range(1, 500))
    offset = Integer(load_default=0, validate=Range(0, MAX_PAGE * 500))


class ReportQuery(Schema):
    formats = Boolean(load_default=False, metadata={"description": "add the HTML and Markdown"})


class JobsQuery(Schema):
    status = String(validate=OneOf(JOB_STATUSES))
    limit = Integer(load_default=50, validate=Range(1, MAX_PER_PAGE))


# Views in modules this one does not decorate (service/api/reports.py and jobs.py), by endpoint.
FOREIGN_QUERIES = {"reports.list_all": ReportsQuery, "reports.get_one": ReportQuery, "jobs.get_many": JobsQuery}
