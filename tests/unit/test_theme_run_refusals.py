"""A theme run that cannot start says which option is to blame (details.field), and is refused before a job is
queued for it: a window whose start is after its end, a store of small talk only."""
from __future__ import annotations

from sqlalchemy import func, select

from service.ingest.store import ingest_notes
from service.ingest.validate import NoteInput
from service.models import Job


def _jobs(svc) -> int:
    with svc.db.session() as session:
        return session.scalar(select(func.count(Job.id))) or 0


def test_since_after_until_names_the_field_and_queues_nothing(client, svc):
    for query in ("", "?background=true"):
        resp = client.post(f"/api/v1/themes/run{query}", json={"since": "2026-06-01", "until": "2026-05-01"})
        assert resp.status_code == 422, query
        error = resp.get_json()["error"]
        assert error["details"]["field"] == "since"
        assert "2026-06-01" in error["message"] and "2026-05-01" in error["message"]
    assert _jobs(svc) == 0


def test_small_talk_only_names_the_all_option(client, svc):
    ingest_notes(svc, [NoteInput(text=text, account=f"Acct {n}") for n, text in enumerate(
        ["Thanks for the call today.", "Great chatting with you!", "Talk soon, have a nice weekend."])])
    resp = client.post("/api/v1/themes/run", json={})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["details"]["field"] == "all" and "all" in error["message"]


def test_the_cli_says_the_same(run_cli):
    result = run_cli("themes", "run", "--since", "2026-06-01", "--until", "2026-05-01")
    assert result.exit_code != 0
    assert "since (2026-06-01) is after until (2026-05-01)" in result.output


def test_a_query_switch_that_is_neither_yes_nor_no_is_a_400_naming_it(client, svc):
    """?background=maybe ran the theme run in the request (read as "no"); every query switch reads the same words."""
    for path, name in (("/api/v1/themes/run?background=maybe", "background"),
                       ("/api/v1/notes?skip_invalid=perhaps", "skip_invalid")):
        body = {} if "themes" in path else {"text": "Exports time out."}
        resp = client.post(path, json=body)
        assert resp.status_code == 400, path
        assert resp.get_json()["error"]["details"]["field"] == name
    assert _jobs(svc) == 0
    assert client.post("/api/v1/notes?skip_invalid=off", json={"text": "Exports time out."}).status_code == 201
