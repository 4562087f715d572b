"""Input hygiene for every request, before any handler sees it: bounded path ids and strict JSON.

A JSON body is refused with 400 when it is nested deeper than MAX_JSON_DEPTH, holds a lone surrogate (text that
cannot be stored as UTF-8), NaN/Infinity or a number that does not fit 64 bits; path integers are bounded to
64 bits so a huge id is a 404, not a database OverflowError.
"""
from __future__ import annotations

import json
import math
import re

from flask import jsonify, request
from werkzeug.routing import IntegerConverter

from .errors import error_body

MAX_JSON_DEPTH = 32
MAX_INT = 2**63 - 1
MAX_PAGE = 1_000_000  # pages beyond it hold nothing any client will read; offsets stay far inside 64 bits
SURROGATE = re.compile("[\ud800-\udfff]")


class BoundedIntegerConverter(IntegerConverter):
    """`<int:...>` that only matches 0..2**63-1: anything larger is no such page (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


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
    except ValueError:
        return  # malformed: each handler answers 400/422 in its own words
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


def init_app(app) -> None:
    from sqlalchemy.exc import OperationalError

    app.url_map.converters["int"] = BoundedIntegerConverter

    @app.errorhandler(OperationalError)
    def _busy(exc):
        """A writer held the database longer than the busy timeout: try again soon (not a server error)."""
        if "locked" not in str(exc.orig if hasattr(exc, "orig") else exc).lower():
            raise exc
        body = error_body(503, "the database is busy with another write; try again in a few seconds")
        if request.path.startswith("/api/"):
            return jsonify(body), 503, {"Retry-After": "5"}
        return body["error"]["message"], 503, {"Retry-After": "5", "Content-Type": "text/plain; charset=utf-8"}

    @app.before_request
    def _strict_json():
        if request.method not in ("POST", "PUT", "PATCH", "DELETE") or not request.is_json:
            return None
        try:
            check_json(request.get_data(cache=True))
        except BadJSON as exc:
            return jsonify(error_body(400, str(exc), {"field": "body"})), 400
        return None
