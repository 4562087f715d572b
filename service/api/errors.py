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


def given_description(exc: HTTPException) -> str | None:
    """The message a view gave `abort(404, description=...)`, else None: werkzeug's own descriptions ("The requested
    URL was not found on the server...") are its class defaults, generic, and say nothing about what was asked for."""
    description = exc.description
    if not description or description == type(exc).description:
        return None
    return str(description)


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
    def _too_large(exc):
        limit = app.config.get("MAX_CONTENT_LENGTH")
        given = given_description(exc)  # a view's own limit (an upload's, say) is not the body limit
        message = given or f"request body is larger than the limit of {limit:,} bytes"
        body = error_body(413, message, None if given else {"limit_bytes": limit})
        if request.path.startswith("/api/"):
            return jsonify(body), 413
        return _page_error(413, message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if request.path.startswith("/api/") or request.path == "/healthz":  # a view's description or werkzeug's
            return jsonify(error_body(exc.code or 500, exc.description or exc.name)), exc.code
        given = given_description(exc)
        if given is None:  # werkzeug's generic description: the page's own wording says it better
            return _page_error(exc.code or 500, exc.name)
        # The 404 page shows its own generic sentence unless given a title; with one it shows the view's message.
        return _page_error(exc.code or 500, given, title="Not found" if exc.code == 404 else None)

    from ..vectorstore import VectorStoreError

    from ..embedding import EmbeddingModelError

    @app.errorhandler(EmbeddingModelError)
    @app.errorhandler(VectorStoreError)
    def _index_unavailable(exc: Exception):
        """An unreachable Chroma server, an index built by another embedder, or an embedding model that cannot be
        loaded (missing files, wrong weights): a dependency, not a bug."""
        body = error_body(503, str(exc))
        if request.path.startswith("/api/"):
            return jsonify(body), 503
        return _page_error(503, str(exc))

    init_dependency_errors(app, _unexpected_error(app))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http(exc)
        return _unexpected_error(app)(exc)


def _unexpected_error(app):
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        if request.path.startswith("/api/"):
            return jsonify(error_body(500, "internal error; the details are in the server log")), 500
        return _page_error(500, "Something went wrong on our side.")
    return unexpected


# A dependency that is down answers 503 naming it, with one log line: an outage is not a bug, and a traceback per
# request would bury the one line that says what is wrong.
DATABASE_BUSY = "the database is busy with another write; try again in a few seconds"
DATABASE_DOWN = "database unavailable; try again shortly (the reason is in the server log)"


def database_problem(exc) -> str | None:
    """What to tell a caller about a database error, or None when it is not the database being unavailable (a bug:
    500). Busy (a write held the lock past the timeout, or the connection pool is exhausted) or down (refused, dropped,
    timed out: psycopg and sqlite3 raise OperationalError for those; a dropped connection is also `invalidated`)."""
    from sqlalchemy.exc import DBAPIError, OperationalError, TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout) or "locked" in str(getattr(exc, "orig", exc)).lower():
        return DATABASE_BUSY
    if isinstance(exc, OperationalError) or (isinstance(exc, DBAPIError) and exc.connection_invalidated):
        return DATABASE_DOWN
    return None


def unreachable_server(exc) -> str | None:
    """"vector store unreachable at URL" for a network error talking to the configured Chroma server (chromadb's
    HTTP client raises httpx's errors as they come), else None."""
    from flask import current_app

    url = current_app.config.get("CHROMA_URL")
    try:
        target = exc.request.url
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError when the error carries no request
        return None
    if url and _same_server(str(target), url):
        return f"vector store unreachable at {url}"
    return None


def _same_server(a: str, b: str) -> bool:
    from urllib.parse import urlsplit

    x, y = urlsplit(a), urlsplit(b)
    return (x.scheme, x.hostname, x.port) == (y.scheme, y.hostname, y.port)


def first_line(exc) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {text[0] if text else ''}"


def dependency_unavailable(message: str, exc, *, retry_after: int = 5, log: bool = True):
    """503 for an API call (the shape of every error) or a page; one line in the log, no traceback."""
    from flask import current_app

    if log:
        current_app.logger.error("%s %s: %s (%s)", request.method, request.path, message, first_line(exc))
    headers = {"Retry-After": str(retry_after)}
    if request.path.startswith("/api/") or request.path == "/healthz":
        return jsonify(error_body(503, message)), 503, headers
    page, status, *rest = _page_error(503, message, bare=True)
    return page, status, {**(rest[0] if rest else {}), **headers}


def init_dependency_errors(app, unexpected) -> None:
    import httpx
    from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def _database(exc):
        message = database_problem(exc)
        if message is None:
            return unexpected(exc)
        if message == DATABASE_BUSY:  # expected under write load: no log line
            return dependency_unavailable(message, exc, log=False)
        return dependency_unavailable(message, exc, retry_after=30)

    @app.errorhandler(httpx.TransportError)
    def _unreachable(exc):
        message = unreachable_server(exc)
        return unexpected(exc) if message is None else dependency_unavailable(message, exc, retry_after=30)


def _page_error(status: int, message: str, *, bare: bool = False, title: str | None = None):
    """The error page. `bare`: rendered without the context processors, which read the signed-in user from the
    database, because the database may be what is down."""
    from flask import current_app, render_template

    if "error.html" in (current_app.jinja_env.list_templates() or []):
        if bare:
            page = current_app.jinja_env.get_template("error.html").render(status=status, message=message, title=title)
            return page, status, {"Content-Type": "text/html; charset=utf-8"}
        return render_template("error.html", status=status, message=message, title=title), status
    return f"{status}: {message}", status, {"Content-Type": "text/plain; charset=utf-8"}
