"""Search API: GET /api/v1/search, every stored statement about a query (service.search, as the CLI and the page)."""
from __future__ import annotations

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range
from flask import request

from ..models.notes import SOURCE_KINDS
from ..search import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, RANKING, RANKINGS, SearchError, search
from ..services import services
from .errors import APIError
from .hygiene import query_int
from .openapi import query_parameters
from .queries import DATE

bp = APIBlueprint("search", __name__, url_prefix="/api/v1", tag="Search")
# service.search names its parameters; this API spells the query `q`
FIELDS = {"query": "q"}


class SearchQuery(Schema):
    """Documents the query parameters; the view checks them (a bad value is a 400 naming it in details.field)."""
    q = String(required=True, validate=Length(1, MAX_QUERY_CHARS),
               metadata={"description": f"the words to look for, 1 to {MAX_QUERY_CHARS} characters, at least one a "
                                        "letter or digit"})
    account = String(metadata={"description": "only this account's statements (any spelling of its name)"})
    source = String(validate=OneOf(SOURCE_KINDS))
    since = String(metadata={**DATE, "description": "only notes from this day"})
    until = String(metadata={**DATE, "description": "only notes up to this day (the whole day)"})
    limit = Integer(load_default=DEFAULT_LIMIT, validate=Range(1, MAX_LIMIT))
    offset = Integer(load_default=0, validate=Range(0, MAX_OFFSET))
    ranking = String(load_default=RANKING, validate=OneOf(RANKINGS),
                     metadata={"description": "dense (the default: it ranked best on the public dev sets, "
                                              "eval/README.md), hybrid (dense and BM25 fused: exact product names) "
                                              "or lexical (BM25 alone)"})


@bp.get("/search")
@query_parameters(SearchQuery)
@bp.doc(summary=f"Search every statement of every note, best first, each verbatim with its note; filters account, "
                f"source, since, until; limit (default {DEFAULT_LIMIT}, at most {MAX_LIMIT}) and offset; ranking "
                f"(default {RANKING})",
        responses={200: '{"query", "results": [{"statement_id", "note_id", "account", "date", "source", "text", '
                        '"score", "similarity", "related": true | false | null, "matched_terms", '
                        '"theme": {"id", "label"} | null}], "total_candidates", "limit", "offset", "ranking", '
                        '"notices", "floor": number | null, "total_related": number | null}; related false: under '
                        'the floor, weakly related (still listed); total_related 0: no statement is about q',
                   400: "q missing, empty, over the limit or without a letter or digit; a bad date, source, limit, "
                        "offset or ranking (details.field)"})
def get_search():
    limit = query_int("limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = query_int("offset", 0, 0, MAX_OFFSET)
    args = request.args
    try:
        return search(services(), args.get("q", ""), account=args.get("account") or None,
                      since=args.get("since") or None, until=args.get("until") or None,
                      source=args.get("source") or None, limit=limit, offset=offset,
                      ranking=args.get("ranking") or RANKING)
    except SearchError as exc:
        raise APIError(400, exc.named(FIELDS), {"field": FIELDS.get(exc.field, exc.field)})
