"""Schema-driven fuzzing of the whole API (schemathesis) and property tests of the readers and validators
(hypothesis): no input makes the service answer 500 or raise anything but its own errors."""
from __future__ import annotations

import json

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="the fuzz tests need schemathesis (pip install -e '.[dev]')")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402

from tests.conftest import api_token  # noqa: E402
from tests.unit.test_bad_input import seeded_app as fuzz_app  # noqa: E402,F401  (a module fixture)

FUZZ_EXAMPLES = 30  # per operation and mode (valid, invalid): about a minute for the whole API on 2 cores


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.slow
def test_the_api_never_answers_500(fuzz_app):
    """Every operation of the OpenAPI document, FUZZ_EXAMPLES generated requests each, as an admin."""
    headers = {"Authorization": f"Bearer {api_token(fuzz_app, 'admin')}"}
    operations = _operations(fuzz_app)
    statuses: dict[int, int] = {}
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    for operation, mode in [(op, mode) for op in operations for mode in modes]:
        @settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        @given(case=operation.as_strategy(mode))
        def run(case):
            response = case.call(headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters, no body)
            assert mode == GenerationMode.NEGATIVE
    assert len(operations) >= 20
    assert not any(code >= 500 for code in statuses), statuses
    print(f"fuzz: {sum(statuses.values())} requests over {len(operations)} operations x {len(modes)} modes, statuses {sorted(statuses.items())}")


# --- readers and validators ------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
note_rows = st.dictionaries(st.sampled_from(["text", "id", "account", "source", "author", "date", "arr"]),
                            json_values, max_size=7)


@settings(max_examples=300, deadline=None)
@given(note_rows)
def test_validate_row_returns_a_note_or_named_errors(row):
    from service.ingest.validate import validate_row

    note, errors = validate_row(row, "fuzz.jsonl", 1)
    assert (note is None) == bool(errors)
    if note is not None:
        assert isinstance(note.text, str) and note.text.strip()
        for value in (note.account, note.author, note.external_id):
            assert value is None or isinstance(value, str)
        note.content_hash.encode()  # storable text
    for err in errors:
        assert str(err).startswith("fuzz.jsonl:1")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([".jsonl", ".csv", ".txt", ".md", ".vtt", ".srt"]))
def test_readers_take_any_bytes(raw, suffix):
    from service.ingest.readers import ReaderError, read_bytes
    from service.ingest.store import validate_rows

    try:
        rows, errors = read_bytes(raw, f"fuzz{suffix}", suffix)
    except ReaderError as exc:
        assert exc.errors and all(str(e).startswith(f"fuzz{suffix}") for e in exc.errors)
        return
    validate_rows(rows, f"fuzz{suffix}", 100_000)


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=4))
def test_roadmap_validation_raises_only_its_own_error(rows):
    from service.ingest.errors import IngestError
    from service.roadmap import importer

    try:
        importer.validate(importer.json_rows(rows, "fuzz.json"), "fuzz.json")
    except IngestError as exc:
        assert exc.errors


@settings(max_examples=300, deadline=None)
@given(json_values | st.text(max_size=40))
def test_dates_parse_or_say_why(value):
    from service.ingest.validate import parse_date

    try:
        parsed = parse_date(value)
    except ValueError as exc:
        assert str(exc)
    else:
        assert 1900 <= parsed.year <= 2200 and parsed.tzinfo is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_webhook_urls_pass_or_fail_cleanly(url):
    from service.reports.deliver import WebhookURLError, check_url

    try:
        check_url(url, ["hooks.slack.com"])
    except WebhookURLError:
        return
    assert "hooks.slack.com" in url.lower() and "@" not in url and "\\" not in url


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(json_values)
def test_strict_json_check_never_crashes(value):
    from service.api.hygiene import BadJSON, check_json

    try:
        check_json(json.dumps(value).encode())
    except BadJSON as exc:
        assert str(exc)


@pytest.mark.parametrize("text, line", [('"text', 1), ('"', 1), ('text\n"abc', 2), ('text\nok\n"abc', 3)])
def test_an_unterminated_quote_in_a_csv_is_an_error_at_its_line(text, line):
    """Found by the fuzz test above: an unterminated quote escaped as a bare csv.Error (a 500). In the header it
    rejects the file; in a row it is that row's error, beside the rows read before it."""
    from service.ingest.readers import ReaderError, read_bytes

    try:
        rows, errors = read_bytes(text.encode(), "notes.csv", ".csv")
    except ReaderError as exc:
        assert line == 1
        rows, errors = [], exc.errors
    assert [str(e) for e in errors] and str(errors[0]).startswith(f"notes.csv:{line}: malformed CSV")
    assert [r.data["text"] for r in rows] == (["ok"] if line == 3 else [])