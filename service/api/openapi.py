"""The OpenAPI document (/api/v1/openapi.json) as the API behaves: apiflask builds operations, parameters and bodies
from the blueprints' schemas; this adds what it cannot see. Callers authenticate with a bearer token (or a
signed-in session) checked by service.auth's guard, so every non-public operation can answer 401 and 403; every
error has the one shape of service.api.errors; a JSON body can be malformed (400), too large (413) or not JSON (415);
three endpoints take a list, or an object wrapping one, where apiflask would document a single object; query
parameters a view checks itself (a bad value is a 400 naming it) are documented from the schema given to
`query_parameters`; and an operation whose @doc lists only its errors still succeeds with a 200."""
from __future__ import annotations

import re

from .errors import CODES

ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {
            "code": {"type": "string", "enum": sorted(set(CODES.values()))},
            "message": {"type": "string", "description": "what is wrong, naming the field"},
            "details": {"type": "object", "description": "e.g. field, allowed, limit, or errors: [{field, reason}]"},
        },
    }},
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "an API token: `feedback tokens create --name NAME --role ROLE`"},
    "session": {"type": "apiKey", "in": "cookie", "name": "session",
                "description": "a signed-in browser session; unsafe methods also need the X-CSRFToken header"},
}
ERROR_RESPONSES = {
    "401": "no valid API token or session",
    "403": "the caller's role may not do this",
    "429": "over the rate limit (FEEDBACK_RATE_LIMIT, or FEEDBACK_RATE_LIMIT_HEAVY); Retry-After says when to retry",
    "503": "a dependency is unavailable: the database is busy or down, or the vector index is damaged (Retry-After)",
}
QUERY_RESPONSE = ("400", "a query value that is not allowed (or holds NUL); the message and details.field name it")
BODY_RESPONSES = {
    "400": "the body is not valid JSON (or holds NaN, a lone surrogate, or nests too deep)",
    "413": "the body is larger than the limit",
    "415": "the body is not sent as application/json",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list_or_wrapped(item: dict, key: str, single: dict | None = None) -> dict:
    """A list of `item`, or {key: [item, ...]}, or (when given) a single object."""
    listed = {"type": "array", "minItems": 1, "items": item}
    choices = [listed, {"type": "object", "required": [key], "properties": {key: listed}}]
    return {"oneOf": ([single] if single else []) + choices}


# path -> the request body each accepts (apiflask documents `Schema(many=True)` as one object)
LIST_BODIES = {
    "/api/v1/notes": lambda: _list_or_wrapped(_ref("NoteIn"), "notes", single=_ref("NoteIn")),
    "/api/v1/roadmap/items": lambda: _list_or_wrapped(_ref("ItemIn"), "items"),
    "/api/v1/match": lambda: _list_or_wrapped({"oneOf": [{"type": "string", "minLength": 1}, _ref("MatchIn")]},
                                              "requests"),
}
# path -> the multipart/form-data body it also accepts: note files (service.ingest.uploads), read as `feedback ingest`
# reads them (a view marked with hygiene.accepts_files)
FILE_BODIES = {
    "/api/v1/notes": lambda: {"schema": {
        "type": "object", "required": ["file"],
        "properties": {
            "file": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "format": "binary"},
                     "description": "one part per file, each with its file name: .txt .md .csv .jsonl .vtt .srt "
                                    ".docx .pdf (the name is only the label of its notes and errors)"},
            "account": {"type": "string", "maxLength": 200,
                        "description": "for the notes that name no account (front matter, column or key)"},
            "source": {"type": "string", "description": "for the notes that name no source"},
            "date": {"type": "string", "description": "ISO 8601 date, for the notes that name no date"},
        }}},
}


def query_parameters(schema):
    """Document the query parameters a view checks itself (hygiene.query_int, query_flag, an allowed status...: a bad
    value is a 400 naming it). apiflask documents query parameters only for a schema it validates, with a 422."""
    def decorate(view):
        view.query_doc = schema
        return view
    return decorate


def _query_docs(app) -> dict:
    """(path, method) -> the query schema documented for it."""
    from .queries import FOREIGN_QUERIES

    docs = {}
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        schema = getattr(view, "query_doc", None) or FOREIGN_QUERIES.get(rule.endpoint)
        for method in (rule.methods or ()) if schema else ():
            docs[(openapi_path(rule.rule), method.lower())] = schema
    return docs


def _add_query_parameters(operation: dict, schema) -> None:
    from apispec.ext.marshmallow import OpenAPIConverter

    converter = OpenAPIConverter(openapi_version="3.0.3", schema_name_resolver=lambda _: None, spec=None)
    given = {(p.get("in"), p.get("name")) for p in operation.get("parameters", [])}
    for parameter in converter.schema2parameters(schema, location="query"):
        if ("query", parameter["name"]) not in given:
            operation.setdefault("parameters", []).append(parameter)


def openapi_path(rule: str) -> str:
    """/notes/<path:note_id> -> /notes/{note_id}, as apiflask names paths."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def init_app(app) -> None:
    app.config.update(HTTP_ERROR_SCHEMA=ERROR_SCHEMA, VALIDATION_ERROR_SCHEMA=ERROR_SCHEMA,
                      SECURITY_SCHEMES=SECURITY_SCHEMES, VALIDATION_ERROR_DESCRIPTION="invalid input, naming the field")

    @app.spec_processor
    def _as_it_behaves(spec: dict) -> dict:
        from ..auth.policy import PUBLIC

        public = {(openapi_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
                  if rule.endpoint in PUBLIC for method in rule.methods or ()}
        queries = _query_docs(app)
        spec["security"] = [{"bearer": []}, {"session": []}]
        error = {"application/json": {"schema": _ref("HTTPError")}}
        spec.setdefault("components", {}).setdefault("schemas", {}).setdefault("HTTPError", ERROR_SCHEMA)
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                if not {"200", "201"} & set(responses):  # @doc(responses=...) listed only the other answers
                    responses["200"] = {"description": "success"}
                if (path, method) in queries:
                    _add_query_parameters(operation, queries[(path, method)])
                    status, description = QUERY_RESPONSE
                    responses.setdefault(status, {"description": description, "content": error})
                if (path, method) in public:
                    operation["security"] = []
                else:
                    for status, description in ERROR_RESPONSES.items():
                        responses.setdefault(status, {"description": description, "content": error})
                if path in LIST_BODIES and method == "post":
                    operation["requestBody"] = {"required": True, "content": {
                        "application/json": {"schema": LIST_BODIES[path]()}}}
                if path in FILE_BODIES and method == "post" and "requestBody" in operation:
                    operation["requestBody"]["content"]["multipart/form-data"] = FILE_BODIES[path]()
                if "requestBody" in operation:
                    for status, description in BODY_RESPONSES.items():
                        responses.setdefault(status, {"description": description, "content": error})
        return spec
