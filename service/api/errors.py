"""One error shape for every API answer: {"error": {"code", "message", "details"}}."""
from __future__ import annotations

from apiflask import HTTPError
from flask import jsonify, request
from werkzeug.exceptions import HTTPException

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_input",
    429: "too_many_requests", 500: "internal_error", 503: "dependency_unavailable",
}


class APIError(HTTPError):
    def __init__(self, status: int, message: str, details=None, code: str | None = None):
        super().__init__(status, message, detail=details)
        self.code = code or CODES.get(status, "error")


LOCATIONS = {"json": "request body", "query": "query parameter", "form": "form field", "headers": "header",
             "path": "path parameter", "cookies": "cookie", "files": "file"}
MAX_LISTED_ERRORS = 20


def _flatten(errors, where: str = ""):
    """marshmallow's nested {field: [messages] | {index: ...}} as (field path, message) pairs: tags[2], items[0].id;
    errors about the whole body (marshmallow's "_schema") are about "body"."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key == "_schema":
                name = where or "body"
            elif isinstance(key, int):
                name = f"{where}[{key}]"
            else:
                name = f"{where}.{key}" if where else str(key)
            yield from _flatten(value, name)
    elif isinstance(errors, (list, tuple)) and all(isinstance(m, str) for m in errors):
        yield where, " ".join(errors)
    elif isinstance(errors, (list, tuple)):
        for value in errors:
            yield from _flatten(value, where)
    else:
        yield where, str(errors)


def _sentence(field: str, reason: str) -> str:
    """"label" + "must be a string" -> "label must be a string"; a reason that names its field, or one of
    marshmallow's own capitalised messages, is kept whole."""
    if reason.startswith(f"{field} "):
        return reason
    return f"{field} {reason}" if reason[:1].islower() else f"{field}: {reason}"


def validation_error(details: dict) -> tuple[str, dict]:
    """A schema's errors ({location: {field: [messages]}}) as one message naming the fields, and details listing
    the first MAX_LISTED_ERRORS of them: {"field", "location", "errors": [{"field", "reason"}], "error_count"}."""
    problems = [(location, field, reason) for location, errors in details.items()
                for field, reason in _flatten(errors)]
    location = problems[0][0] if problems else "json"
    shown = problems[:MAX_LISTED_ERRORS]
    message = f"invalid {LOCATIONS.get(location, location)}: " + "; ".join(_sentence(f, r) for _, f, r in shown[:5])
    if len(problems) > 5:
        message += f" (and {len(problems) - 5:,} more)"
    return message, {"field": problems[0][1] if problems else None, "location": location,
                     "errors": [{"field": f, "reason": r} for _, f, r in shown], "error_count": len(problems)}


def error_body(status: int, message: str, details=None, code: str | None = None) -> dict:
    return {"error": {"code": code or CODES.get(status, "error"), "message": message, "details": details or {}}}


def init_errors(app) -> None:
    @app.error_processor
    def _shape(error):
        code = getattr(error, "code", None) if isinstance(getattr(error, "code", None), str) else None
        details = error.detail or {}
        message = error.message
        if error.status_code == 422 and details and set(details) <= set(LOCATIONS):  # a schema's validation errors
            message, details = validation_error(details)
        if error.status_code == 500:
            message, details = "internal error", {}
        return error_body(error.status_code, message, details, code), error.status_code, error.headers

    @app.errorhandler(413)
    def _too_large(_exc):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        body = error_body(413, f"request body is larger than the limit of {limit:,} bytes", {"limit_bytes": limit})
        if request.path.startswith("/api/"):
            return jsonify(body), 413
        return _page_error(413, body["error"]["message"])

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if request.path.startswith("/api/") or request.path == "/healthz":
            return jsonify(error_body(exc.code or 500, exc.description or exc.name)), exc.code
        return _page_error(exc.code or 500, exc.name)

    from ..vectorstore import VectorStoreError

    @app.errorhandler(VectorStoreError)
    def _index_unavailable(exc: VectorStoreError):
        """An unreachable Chroma server or an index built by another embedder: a dependency, not a bug."""
        body = error_body(503, str(exc))
        if request.path.startswith("/api/"):
            return jsonify(body), 503
        return _page_error(503, str(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        app.logger.exception("unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return jsonify(error_body(500, "internal error; the details are in the server log")), 500
        return _page_error(500, "Something went wrong on our side.")


def _page_error(status: int, message: str):
    from flask import current_app, render_template

    if "error.html" in (current_app.jinja_env.list_templates() or []):
        return render_template("error.html", status=status, message=message), status
    return f"{status}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}
