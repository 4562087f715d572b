"""Erasure leaves nothing behind: a unique marker planted in notes, author, metadata and the account name, then
themes, drafts and a report; after `accounts erase` no file under FEEDBACK_HOME holds the marker's bytes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

MARKER = "Zqxmarkerwv"
ACCOUNT = f"Globex {MARKER}"
OTHER = [("Initech", "Exports to CSV time out after ten minutes on large tables."),
         ("Umbrella", "CSV export times out for big tables and we lose the whole file."),
         ("Hooli", "Single sign-on setup with Okta is slow and confusing."),
         ("Initech", "SSO with Okta took us three days to configure."),
         ("Umbrella", "We need SCIM provisioning for Okta users.")]


def _marker_files(home: Path) -> list[str]:
    needles = [MARKER.encode(), MARKER.lower().encode(), MARKER.encode("utf-16-le")]
    hits = []
    for path in home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                hits.append(str(path.relative_to(home)))
    return hits


def _plant(run_cli, home: Path) -> None:
    rows = [{"id": f"o{i}", "account": a, "text": t, "date": "2026-11-20"} for i, (a, t) in enumerate(OTHER)]
    rows += [{"id": f"m{i}", "account": ACCOUNT, "author": f"Pat {MARKER}", "arr": f"{MARKER}-arr",
              "date": "2026-11-21",
              "text": f"CSV export times out for {MARKER} on large table {i}. {MARKER} needs SCIM provisioning too."}
             for i in range(3)]
    notes = home.parent / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(r) for r in rows))
    assert run_cli("ingest", str(notes), "-q").exit_code == 0
    roadmap = home.parent / "roadmap.json"
    roadmap.write_text(json.dumps([{"id": "RM-1", "title": "Faster CSV export", "status": "in progress"},
                                   {"id": "RM-2", "title": "SCIM provisioning for Okta", "status": "planned"},
                                   {"id": "RM-3", "title": "Audit log export", "status": "considering"}]))
    assert run_cli("roadmap", "import", str(roadmap)).exit_code == 0
    assert run_cli("roadmap", "link", "RM-1", "--note", "m0").exit_code == 0
    assert run_cli("themes", "run", "--all", "--min-mentions", "2", "--since", "2026-11-01").exit_code == 0
    themes = json.loads(run_cli("themes", "list", "--json").stdout)
    themes = themes["themes"] if isinstance(themes, dict) else themes
    renamed = run_cli("themes", "rename", str(themes[0]["id"]), f"CSV exports for {MARKER}")  # a pinned label
    assert renamed.exit_code == 0, renamed.output
    for question in (f"Does {ACCOUNT} get SCIM provisioning?", "Is CSV export getting faster?"):
        assert run_cli("draft", question, "--account", ACCOUNT).exit_code == 0
    assert run_cli("report", "--since", "30d", "--as-of", "2026-11-28").exit_code == 0
    assert run_cli("schedule", "--once", "--since", "30d").exit_code == 0  # writes reports/latest.*


@pytest.mark.slow
def test_erasure_leaves_no_marker_bytes_under_feedback_home(run_cli, cli_env):
    _plant(run_cli, cli_env)
    assert _marker_files(cli_env), "the marker was planted"
    refused = run_cli("accounts", "erase", ACCOUNT)
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    result = run_cli("accounts", "erase", ACCOUNT, "--yes", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["notes"] == 3 and summary["drafts_deleted"] >= 1 and MARKER not in result.stdout
    assert _marker_files(cli_env) == []
    # the rest still works: other accounts' notes, vectors, themes and reports
    done = run_cli("stats", "--json")
    assert done.exit_code == 0, (done.stdout, done.stderr)
    stats = json.loads(done.stdout)
    assert stats["notes"] == len(OTHER) and stats["vectors"] == stats["statements"]
    for args in (("themes", "run", "--all", "--min-mentions", "2"), ("match", "Do you have SCIM provisioning?")):
        done = run_cli(*args)
        assert done.exit_code == 0, (args, done.stdout, done.stderr, repr(done.exception))
    assert _marker_files(cli_env) == []  # the re-run did not bring the pinned label back
    assert run_cli("accounts", "erase", ACCOUNT, "--yes").exit_code == 1  # gone already
    audit = json.loads(run_cli("audit", "--json", "--action", "account_erase").stdout)["entries"]
    assert len(audit) == 1 and audit[0]["target"].startswith("sha256:")


def test_api_erasure_and_deletes_are_admin_only(app):
    client = app.test_client(role="admin")
    notes = [{"id": "a1", "account": "Acme", "text": "Exports time out."},
             {"id": "b1", "account": "Beta", "text": "SSO is slow."}]
    assert client.post("/api/v1/notes", json=notes).status_code == 201
    assert app.test_client(role="pm").delete("/api/v1/accounts/Acme").status_code == 403
    resp = client.delete("/api/v1/accounts/Acme")
    assert resp.status_code == 200 and resp.get_json()["notes"] == 1
    assert client.delete("/api/v1/accounts/Acme").status_code == 404
    assert client.get("/api/v1/notes/a1").status_code == 404 and client.get("/api/v1/notes/b1").status_code == 200
    assert client.get("/api/v1/stats").get_json()["vectors"] == 1  # the rebuilt index keeps its embedder
    assert client.delete("/api/v1/drafts/5").status_code == 404
    assert client.delete("/api/v1/reports/5").status_code == 404
    log = client.get("/api/v1/audit?action=account_erase").get_json()["entries"]
    assert len(log) == 1 and "Acme" not in json.dumps(log)


def test_report_and_draft_delete_from_the_cli(run_cli, cli_env):
    assert run_cli("ingest", "tests/data/notes.jsonl", "-q").exit_code == 0
    assert run_cli("schedule", "--once", "--since", "7d").exit_code == 0
    assert (cli_env / "reports" / "latest.html").exists()
    report_id = json.loads(run_cli("reports", "list", "--json").stdout)["reports"][0]["id"]
    assert run_cli("reports", "delete", str(report_id)).exit_code == 0
    assert not (cli_env / "reports" / "latest.html").exists()  # no report left: no latest file
    assert run_cli("reports", "delete", str(report_id)).exit_code == 1
    assert run_cli("drafts", "delete", "1").exit_code == 1


def test_retention_erases_older_notes_and_their_copies(run_cli, cli_env, monkeypatch):
    from datetime import datetime, timedelta, timezone

    # The kept notes are days old whenever the test runs: fixed dates fell out of the 365 days a year on.
    today = datetime.now(timezone.utc).date()
    recent = [(today - timedelta(days=n)).isoformat() for n in (10, 9)]
    rows = [{"id": "old1", "account": "Oldco", "date": "2020-01-05", "text": f"Old {MARKER} export pain one."},
            {"id": "old2", "account": "Newco", "date": "2020-02-05", "text": f"Old {MARKER} export pain two."},
            {"id": "new1", "account": "Newco", "date": recent[0], "text": "CSV export times out on big tables."},
            {"id": "new2", "account": "Newco", "date": recent[1], "text": "CSV export is slow for large files."}]
    path = cli_env.parent / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert run_cli("ingest", str(path), "-q").exit_code == 0
    assert run_cli("themes", "run", "--all", "--min-mentions", "2").exit_code == 0
    assert _marker_files(cli_env)
    monkeypatch.setenv("FEEDBACK_RETENTION_DAYS", "365")
    result = run_cli("schedule", "--once", "--since", "30d")
    assert result.exit_code == 0, result.output
    listed = json.loads(run_cli("notes", "list", "--json").stdout)
    ids = sorted(n["id"] for n in (listed["items"] if isinstance(listed, dict) else listed))
    assert ids == ["new1", "new2"]
    assert _marker_files(cli_env) == []
    audit = json.loads(run_cli("audit", "--json", "--action", "retention_erase").stdout)["entries"]
    assert audit and audit[0]["details"]["notes"] == 2
