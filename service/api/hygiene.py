"""Input hygiene for every request, before any handler sees it: bounded path ids, strict JSON, links that stay put.

An API body that is not JSON is refused with 415 (multipart/form-data too, unless the view takes files:
accepts_files); a JSON body with 400 when it does not parse, is nested deeper than MAX_JSON_DEPTH, holds a lone
surrogate (text that cannot be stored as UTF-8), NaN/Infinity or a number that does not fit 64 bits; a chunked body
over the size limit with 413, like one that declares its length. Path integers are bounded to 64 bits so a huge id is
a 404, not a database OverflowError; a NUL in the path is a 404 and in a query value a 400. Generated links encode
'/' inside an id, so an id such as "../x" can never make a link that leaves its page.
"""
from __future__ import annotations

import json
import math
import re
from urllib.parse import quote

from flask import abort, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter, PathConverter, UnicodeConverter

from ..models.base import MAX_ROW_ID
from .errors import error_body

MAX_JSON_DEPTH = 32
MAX_INT = 2**63 - 1
MAX_PAGE = 1_000_000  # pages beyond it hold nothing any client will read; offsets stay far inside 64 bits
SURROGATE = re.compile("[\ud800-\udfff]")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` that only matches 0 up to the largest row id: anything larger is no such page (404). Id columns are
    INTEGER, 4 bytes on PostgreSQL, which refuses a larger number in a query (a 500 there, a 404 on SQLite)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


class EncodeSlash:
    """Links made by url_for encode '/' inside a value (werkzeug keeps it: /notes/../../etc/passwd), so an id or an
    account name can never make a link that a browser resolves against the page's own path."""

    SAFE = "!$&'()*+,:;=@"  # what werkzeug leaves unencoded in a path segment, minus "/"

    def to_url(self, value) -> str:
        return quote(str(value), safe=self.SAFE)


class SegmentConverter(EncodeSlash, UnicodeConverter):
    """The default `<name>`."""


class EncodedPathConverter(EncodeSlash, PathConverter):
    """`<path:name>`: still matches a '/' inside the value (notes stored before '/' was refused)."""


class BadJSON(ValueError):
    pass


def _constant(name: str):
    raise BadJSON(f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BadJSON(f"the number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19 or abs(int(text)) > MAX_INT:
        raise BadJSON(f"the number {text[:40]} does not fit in 64 bits")
    return int(text)


def check_json(data: bytes) -> None:
    """Raise BadJSON naming what is wrong and where ($.field[2]...); malformed JSON is left to the handlers."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise BadJSON(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except UnicodeDecodeError:
        raise BadJSON("the body is not UTF-8") from None
    except BadJSON:
        raise
    except json.JSONDecodeError as exc:
        raise BadJSON(f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:
        raise BadJSON(f"the body is not valid JSON: {exc}") from None
    stack = [(value, "$", 0)]
    while stack:
        item, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadJSON(f"the JSON body is nested deeper than {MAX_JSON_DEPTH} levels (at {where})")
        if isinstance(item, str):
            if SURROGATE.search(item):
                raise BadJSON(f"{where} holds a lone surrogate (\\ud800-\\udfff); send valid Unicode text")
        elif isinstance(item, dict):
            for key, child in item.items():
                if SURROGATE.search(key):
                    raise BadJSON(f"a key in {where} holds a lone surrogate; send valid Unicode text")
                stack.append((child, f"{where}.{key[:40]}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{i}]", depth + 1) for i, child in enumerate(item))


def query_int(name: str, default: int, low: int, high: int) -> int:
    """A whole-number query parameter within [low, high], else a 400 naming it."""
    from .errors import APIError

    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    raw = raw.strip()
    if not re.fullmatch(r"-?\d{1,19}", raw) or not low <= int(raw) <= high:
        raise APIError(400, f"{name} must be a whole number from {low:,} to {high:,}", {"field": name})
    return int(raw)


# Query-string switches (?background=true, ?drafts=false): a query string has no JSON booleans, so these words are
# the yes and no; any other value is a 400 naming the argument, not silently "no".
FLAGS = {"true": True, "1": True, "yes": True, "on": True, "false": False, "0": False, "no": False, "off": False}


def query_flag(name: str, default: bool = False) -> bool:
    """A yes/no query parameter, else a 400 naming it."""
    from .errors import APIError

    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    if raw.strip().lower() not in FLAGS:
        raise APIError(400, f"{name} must be true or false, not {raw[:40]!r}", {"field": name})
    return FLAGS[raw.strip().lower()]


def init_app(app) -> None:
    # A busy or unavailable database is a 503: see service.api.errors.init_dependency_errors.
    app.url_map.converters.update(int=BoundedIntegerConverter, default=SegmentConverter, string=SegmentConverter,
                                  path=EncodedPathConverter)

    @app.before_request
    def _no_nul_in_the_address():
        """A NUL in the path or a query value names nothing the service stores (ingest refuses NUL in ids, names and
        text), and PostgreSQL refuses it as a query parameter: without this, a 500 on every route that looks it up."""
        if "\x00" in request.path:
            abort(404)
        for name, value in request.args.items(multi=True):
            if "\x00" in name or "\x00" in value:
                if request.path.startswith("/api/"):
                    return jsonify(error_body(400, f"the query parameter {name[:40]!r} holds a NUL character",
                                              {"field": name[:40]})), 400
                abort(400)
        return None

    @app.before_request
    def _strict_json_to_pages():
        """A JSON body sent to a page (the API's blueprints check theirs with check_body, after the auth guard)."""
        if request.method not in UNSAFE or request.path.startswith("/api/") or not request.is_json:
            return None
        return _refuse_bad_json(_read_body())


def check_body():
    """Every API blueprint's before_request (so after the app's auth guard: a stranger gets 401, not a lesson in
    JSON): a body must be JSON, parse, and be within the limits; no body at all is each endpoint's call."""
    if request.method not in UNSAFE:
        return None
    data = _read_body()
    if not data.strip():
        return None
    if not request.is_json:
        if request.method == "DELETE":
            return None
        files = getattr(current_app.view_functions.get(request.endpoint or ""), "accepts_files", False)
        if files and request.mimetype == "multipart/form-data":
            return None  # read (within the limit, above) and kept: the view parses its parts from it
        got = request.mimetype or "no Content-Type"
        if files:
            return jsonify(error_body(415, "the body must be JSON sent as Content-Type: application/json, or files "
                                           f"sent as multipart/form-data (got {got})",
                                      {"field": "Content-Type",
                                       "expected": ["application/json", "multipart/form-data"]})), 415
        return jsonify(error_body(415, f"the body must be JSON sent as Content-Type: application/json (got {got})",
                                  {"field": "Content-Type", "expected": "application/json"})), 415
    return _refuse_bad_json(data)


def accepts_files(view):
    """Mark a view that also takes files as multipart/form-data (check_body lets such a body through to it); put it
    right under the route decorator."""
    view.accepts_files = True
    return view


def _refuse_bad_json(data: bytes):
    try:
        check_json(data)
    except BadJSON as exc:
        return jsonify(error_body(400, str(exc), {"field": "body"})), 400
    return None


def _read_body() -> bytes:
    """The body, or 413 when it is over the limit. A body sent without a length (chunked) is cut at the limit by
    werkzeug without a word, which would reach the handlers as truncated JSON (400); one more byte says it is
    larger."""
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if request.content_length is None and limit is not None and len(data) >= limit:
        if request.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
    return data
