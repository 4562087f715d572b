"""Erasure around its compaction: writers that race the vector folder's rebuild, and a compaction that fails.

The compaction runs outside the ingest lock, so a note can be ingested (or deleted) between the export of the old
folder and the swap to the fresh one; the fresh folder must then be reconciled with SQL. And the rows are committed
before the files are compacted, so a compaction that fails must still leave the erasure logged, say plainly that the
rows are gone and the files not compacted, and `feedback compact` must finish it. The window is entered through
`erase.build_in_child`, the step between the export and the swap: no timing, no sleeps."""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from service import erase
from service.models import Note, Statement
from service.vectorstore import STATEMENTS

MARKER = "Zqxracewv"
ERASED = f"Acme {MARKER}"
NOTES = [{"id": "a1", "account": ERASED, "text": f"CSV export for {MARKER} times out on large tables."},
         {"id": "b1", "account": "Beta", "text": "Single sign-on setup with Okta is slow and confusing."},
         {"id": "b2", "account": "Beta", "text": "We need an audit log export for our compliance team."}]
LATE = {"id": "late", "account": "Gamma", "text": "Webhook retries flood our endpoint every night."}


def _statement_ids(svc, note_id: str | None = None) -> set[str]:
    with svc.db.session() as session:
        query = select(Statement.id)
        if note_id is not None:
            query = query.join(Note, Statement.note_id == Note.id).where(Note.external_id == note_id)
        return {f"s{i}" for i in session.scalars(query)}


def _chroma_holds_marker(home: Path) -> bool:
    """Does any file of the vector folder hold the erased account's bytes (Chroma keeps deleted rows in its log)?"""
    return any(MARKER.encode() in p.read_bytes() for p in (home / "chroma").rglob("*") if p.is_file())


@contextmanager
def _child_fails():
    """Inside the block the child process that builds the fresh folder fails for real: it is handed an export it
    cannot parse. A patch of its own, undone on leaving the block, so the test's settings (FEEDBACK_HOME) stay."""
    build = erase.build_in_child

    def corrupt_then_build(export, fresh_path, prefix, embedder_name):
        for path in Path(export).glob("*.json"):
            path.write_text("{not json", encoding="utf-8")
        build(export, fresh_path, prefix, embedder_name)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(erase, "build_in_child", corrupt_then_build)
        yield


def test_a_note_ingested_and_one_deleted_during_the_rebuild_are_reconciled_after_the_swap(app, svc, monkeypatch):
    client = app.test_client()
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    deleted = _statement_ids(svc, "b2")
    assert deleted
    raced = []
    build = erase.build_in_child

    def build_then_race(*args):
        build(*args)  # the old folder is exported and the fresh one built: the swap comes next
        raced.append(client.post("/api/v1/notes", json=[LATE]).status_code)  # its vectors go to the old folder
        raced.append(client.delete("/api/v1/notes/b2").status_code)  # its vectors leave the old folder only

    monkeypatch.setattr(erase, "build_in_child", build_then_race)
    result = erase.erase_account(svc, ERASED)
    assert raced == [201, 200], "the ingest and the delete ran between the export and the swap"
    late = _statement_ids(svc, "late")
    indexed = set(svc.store.ids(STATEMENTS))
    assert late and late <= indexed, "the note ingested during the rebuild has its vectors in the fresh folder"
    assert not deleted & indexed, "the note deleted during the rebuild has no vectors left in the fresh folder"
    assert indexed == _statement_ids(svc)
    hits = svc.store.query(STATEMENTS, svc.embedder.embed([LATE["text"]]), 1)[0]
    assert hits and hits[0][0] in late and hits[0][2]["account"] == "Gamma"
    assert f"{len(late)} vector(s) added, {len(deleted)} removed" in result["compacted"]["vectors"]


def test_cli_erasure_whose_compaction_fails_is_logged_and_feedback_compact_finishes_it(run_cli, cli_env):
    notes = cli_env.parent / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES))
    assert run_cli("ingest", str(notes), "-q").exit_code == 0
    with _child_fails():
        failed = run_cli("accounts", "erase", ERASED, "--yes")
    assert failed.exit_code == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1, failed.stderr
    assert lines[0].startswith("error: the rows were erased (1 note(s)") and "files were not compacted" in lines[0]
    assert "failed with exit code 1" in lines[0] and "`feedback compact`" in lines[0]
    assert ERASED not in run_cli("accounts", "list").output
    audit = json.loads(run_cli("audit", "--json", "--action", "account_erase").stdout)["entries"]
    assert len(audit) == 1 and audit[0]["target"] == erase.fingerprint(ERASED)
    assert audit[0]["details"]["compacted"] is False and audit[0]["details"]["notes"] == 1
    assert _chroma_holds_marker(cli_env), "not compacted: the old folder still holds the erased rows"
    done = run_cli("compact")
    assert done.exit_code == 0, done.output
    assert "rebuilt 1 collection(s)" in done.stdout and "reconciled" not in done.stdout  # nothing raced it
    assert not _chroma_holds_marker(cli_env)
    assert json.loads(run_cli("audit", "--json", "--action", "compact").stdout)["entries"]
    stats = json.loads(run_cli("stats", "--json").stdout)
    assert stats["notes"] == 2 and stats["vectors"] == stats["statements"] > 0


def test_api_erasure_whose_compaction_fails_answers_503_logs_it_and_feedback_compact_finishes_it(
        app, svc, run_cli, monkeypatch):
    client = app.test_client()
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    with _child_fails():
        resp = client.delete(f"/api/v1/accounts/{ERASED}")
    assert resp.status_code == 503
    error = resp.get_json()["error"]
    assert error["code"] == "compaction_failed"
    assert error["message"].startswith("the rows were erased (1 note(s)") and "not compacted" in error["message"]
    assert error["details"]["erased"]["notes"] == 1 and error["details"]["compacted"] is False
    assert error["details"]["finish"] == "feedback compact"
    assert client.delete(f"/api/v1/accounts/{ERASED}").status_code == 404  # erased: a retry cannot finish it
    log = client.get("/api/v1/audit?action=account_erase").get_json()["entries"]
    assert len(log) == 1 and ERASED not in json.dumps(log)
    assert log[0]["target"] == f"name={erase.fingerprint(ERASED)}" and log[0]["details"]["compacted"] is False
    home = Path(svc.config.FEEDBACK_HOME)
    assert _chroma_holds_marker(home)
    svc.close()  # the web server stopped, as `feedback compact` asks when it serves the embedded store
    monkeypatch.setenv("FEEDBACK_HOME", str(home))
    monkeypatch.setenv("FEEDBACK_DATABASE_URL", svc.config.DATABASE_URL)
    done = run_cli("compact")
    assert done.exit_code == 0, done.output
    assert not _chroma_holds_marker(home)


def test_an_erasure_job_whose_compaction_fails_says_the_rows_are_erased_and_how_to_finish(app, svc, monkeypatch):
    from service.jobs import enqueue, execute

    assert app.test_client().post("/api/v1/notes", json=NOTES).status_code == 201
    monkeypatch.setenv("FEEDBACK_JOB_BACKOFF", "0.001")
    with _child_fails(), app.app_context():
        job = enqueue(svc, "erase", {"name": ERASED}, app=app, submit=False)
        failed = execute(svc, job["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 3  # a failed child is retried, then reported
    assert failed["error"].startswith("the rows were erased (1 note(s)") and "`feedback compact`" in failed["error"]
    assert ERASED not in json.dumps(failed)
    assert erase.compact(svc)["vectors"].startswith("rebuilt")  # what `feedback compact` runs
    assert not _chroma_holds_marker(Path(svc.config.FEEDBACK_HOME))


def test_retention_whose_compaction_fails_still_logs_and_reports(run_cli, cli_env, monkeypatch):
    old_day = (datetime.now(timezone.utc) - timedelta(days=400)).date().isoformat()
    recent = (datetime.now(timezone.utc) - timedelta(days=3)).date().isoformat()
    rows = [dict(NOTES[0], date=old_day), dict(NOTES[1], date=recent), dict(NOTES[2], date=recent)]
    notes = cli_env.parent / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in rows))
    assert run_cli("ingest", str(notes), "-q").exit_code == 0
    monkeypatch.setenv("FEEDBACK_RETENTION_DAYS", "365")
    with _child_fails():
        night = run_cli("schedule", "--once", "--since", "30d")
    assert night.exit_code == 0, night.output  # the night's report is not lost to the compaction
    assert "retention: 1 note(s)" in night.stdout and "not compacted: VectorStoreError" in night.stdout
    assert "`feedback compact`" in night.stdout and "report " in night.stdout
    audit = json.loads(run_cli("audit", "--json", "--action", "retention_erase").stdout)["entries"]
    assert len(audit) == 1 and audit[0]["details"]["notes"] == 1
    assert _chroma_holds_marker(cli_env)
    assert run_cli("compact").exit_code == 0
    assert not _chroma_holds_marker(cli_env)


def test_feedback_compact_refuses_while_a_server_serves_the_embedded_store(run_cli, cli_env):
    """Swapping the folder under a running web server left it failing every write: it must be stopped first."""
    from filelock import FileLock

    assert run_cli("ingest", "tests/data/notes.jsonl", "-q").exit_code == 0
    chroma = cli_env / "chroma"
    (chroma / ".serving.pid").write_text("web server (pid 4242)")
    with FileLock(str(chroma / ".serving.lock"), timeout=0):  # as a server's `hold_embedded_store` takes it
        refused = run_cli("compact")
    assert refused.exit_code == 1, refused.output
    assert "served by web server (pid 4242)" in refused.stderr and "stop it" in refused.stderr
    assert not json.loads(run_cli("audit", "--json", "--action", "compact").stdout)["entries"]


def test_cli_erasure_while_a_server_serves_the_store_erases_the_rows_and_leaves_compacting_to_feedback_compact(
        run_cli, cli_env):
    """The synchronous `accounts erase` swapped the folder under a running server, as `feedback compact` must not."""
    from filelock import FileLock

    notes = cli_env.parent / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES))
    assert run_cli("ingest", str(notes), "-q").exit_code == 0
    chroma = cli_env / "chroma"
    (chroma / ".serving.pid").write_text("web server (pid 4242)")
    with FileLock(str(chroma / ".serving.lock"), timeout=0):  # as a server's `hold_embedded_store` takes it
        erased = run_cli("accounts", "erase", ERASED, "--yes")
    assert erased.exit_code == 1, erased.output
    line = erased.stderr.strip()
    assert line.startswith("error: the rows were erased (1 note(s)") and "served by web server (pid 4242)" in line
    assert "`feedback compact`" in line and len(line.splitlines()) == 1
    assert ERASED not in run_cli("accounts", "list").output
    audit = json.loads(run_cli("audit", "--json", "--action", "account_erase").stdout)["entries"]
    assert len(audit) == 1 and audit[0]["details"]["compacted"] is False
    assert _chroma_holds_marker(cli_env), "the served folder was not swapped"
    assert run_cli("compact").exit_code == 0  # the server stopped: compacting finishes the erasure
    assert not _chroma_holds_marker(cli_env)
