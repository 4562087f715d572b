"""Nightly reports: build, render (HTML with SVG charts, Markdown, JSON), replace-not-duplicate, webhook delivery
with retries, the scheduler's --once job and the reports API. Theme runs are seeded directly (no clustering), so
the figures are known exactly."""
from __future__ import annotations

import json
from datetime import date, datetime

import pytest
import requests
import responses
from sqlalchemy import func, select

from service.models import (Draft, DraftFeedback, Note, Report, Statement, Theme, ThemeMembership, ThemeRun,
                            ThemeSnapshot)
from service.reports.build import ReportError, build_report, period_window
from service.reports.deliver import build_payload, deliver_report
from service.reports.render import render_html, render_markdown
from service.reports.store import create_report, get_report
from service.themes.measure import Mention, measure, parse_arr
from .jobpages import follow_job

AS_OF = date(2026, 11, 27)  # the 7-day period is 2026-11-20 .. 2026-11-26, the previous one 11-13 .. 11-19
HOSTILE = "<script>alert(1)</script>"
HOOK = "https://hooks.example.com/services/T000/B000/secret"


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    """No DNS here: the test webhook host resolves to a public documentation address."""
    from service.reports import webhook_url

    monkeypatch.setattr(webhook_url, "resolve_addresses", lambda host, port: ["93.184.216.34"])
ROADMAP = [
    {"id": "EXP", "title": "Background CSV exports for large reports", "status": "shipped", "release": "2026.08",
     "description": "Exports above 50,000 rows run as background jobs.", "tags": ["exports", "csv"]},
    {"id": "SCIM", "title": "SCIM user provisioning from Okta", "status": "in_progress", "release": "Q1 2027",
     "description": "Create, update and deactivate users automatically from your identity provider."},
    {"id": "DARK", "title": "Dark mode", "status": "considering", "description": "A dark colour scheme."},
]


def _note(nid, text, account, day, source="call", arr=None):
    return {"id": nid, "text": text, "account": account, "source": source, "date": day, "arr": arr}


# theme label -> one-sentence notes (one statement each)
THEMES = {
    "CSV export times out": [  # 3 accounts this period, 1 mention before: growing
        _note("e1", "The CSV export times out on large reports.", "Acme", "2026-11-21", arr=120000),
        _note("e2", f"Export to CSV fails above 50k rows {HOSTILE} every night.", "Globex", "2026-11-22", "email"),
        _note("e3", "Our finance export keeps timing out.", "Initech", "2026-11-24", arr="80k"),
        _note("e4", "Exports time out for the big workspace.", "Acme", "2026-11-15"),
    ],
    "SSO setup takes too long": [  # nothing this period, 3 before: fading, and no roadmap item: a gap
        _note("s1", "SSO setup took two weeks.", "Umbrella", "2026-11-14"),
        _note("s2", "SSO rollout was painful.", "Hooli", "2026-11-16"),
        _note("s3", "SSO configuration needed three calls.", "Umbrella", "2026-11-18"),
    ],
    "Need a Snowflake connector": [  # first seen this period: new (emerging: two mentions only)
        _note("w1", "They need a native Snowflake connector.", "Hooli", "2026-11-23", "interview"),
        _note("w2", "Snowflake write-back is a must for them.", "Globex", "2026-11-25"),
    ],
}


def seed(app, *, with_roadmap: bool = True, with_drafts: bool = True) -> dict[str, int]:
    """Notes, a theme run built from THEMES, the roadmap (EXP linked to the export theme) and draft activity."""
    client = app.test_client()
    notes = [n for group in THEMES.values() for n in group]
    resp = client.post("/api/v1/notes", json=notes)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    svc = app.extensions["feedback"]
    ids = seed_run(svc)
    if with_roadmap:
        assert client.post("/api/v1/roadmap/items", json=ROADMAP).status_code == 201
        resp = client.post("/api/v1/roadmap/items/EXP/links", json={"theme_id": ids["CSV export times out"]})
        assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    if with_drafts:
        _seed_drafts(svc)
    return ids


def seed_run(svc, groups: dict[str, list[dict]] = THEMES, run_end: datetime = datetime(2026, 11, 27),
             days: float = 7.0) -> dict[str, int]:
    """A theme run with one theme per group of notes (no clustering), measured over the `days` before run_end."""
    ids = {}
    with svc.db.transaction() as s:
        run = ThemeRun(mode="full", filters={"all": True}, params={"min_mentions": 3, "min_accounts": 2})
        s.add(run)
        s.flush()
        for label, group in groups.items():
            wanted = [n["id"] for n in group]
            rows = s.execute(select(Statement, Note).join(Note).where(Note.external_id.in_(wanted))).all()
            mentions = [Mention(st.id, note.public_id, note.account.name, note.source, note.effective_at,
                                parse_arr(note.meta)) for st, note in rows]
            figures = measure(mentions, run_end, days)
            theme = Theme(created_run_id=run.id, last_run_id=run.id, label=label,
                          centroid=svc.embedder.embed([label])[0].tolist())
            s.add(theme)
            s.flush()
            recurring = figures["mentions"] >= 3 and figures["accounts"] >= 2
            s.add(ThemeSnapshot(
                run_id=run.id, theme_id=theme.id, label=label, keywords=label.lower().split()[:3],
                status="recurring" if recurring else "emerging", note_ids=sorted(m.note_id for m in mentions),
                quotes=[{"note_id": note.public_id, "account": note.account.name, "text": st.text,
                         "statement_id": st.id} for st, note in rows[:2]], **figures))
            for st, _ in rows:
                s.add(ThemeMembership(run_id=run.id, statement_id=st.id, theme_id=theme.id, similarity=0.9))
            ids[label] = theme.id
    return ids


def _seed_drafts(svc) -> None:
    when = datetime(2026, 11, 24, 10, 0)
    with svc.db.transaction() as s:
        drafts = [Draft(question=q, verdict=v, text="Draft.", mode="grounded-template", created_at=when)
                  for q, v in (("CSV?", "available"), ("SCIM?", "in_progress"), ("iPad?", "not_on_roadmap"),
                               ("Excel?", "available"))]
        drafts.append(Draft(question="Old", verdict="available", text="x", mode="t", created_at=datetime(2026, 10, 1)))
        s.add_all(drafts)
        s.flush()
        s.add_all([DraftFeedback(draft_id=drafts[0].id, rating="up", created_at=when),
                   DraftFeedback(draft_id=drafts[1].id, rating="down", created_at=when),
                   DraftFeedback(draft_id=drafts[2].id, rating="up", edited_text="My version.", created_at=when)])


@pytest.fixture
def seeded(app):
    ids = seed(app)
    return app, app.extensions["feedback"], ids


def _by_label(rows):
    return {r["label"]: r for r in rows}


# --- build -----------------------------------------------------------------------------------------------------

def test_period_window_is_date_aligned_and_rejects_unknown_periods():
    w = period_window("7d", AS_OF)
    assert (w.start, w.end, w.prev_start) == (date(2026, 11, 20), date(2026, 11, 27), date(2026, 11, 13))
    with pytest.raises(ReportError, match="1d, 7d, 30d"):
        period_window("2w", AS_OF)


def test_build_compares_with_the_previous_period(seeded):
    _, svc, ids = seeded
    data = build_report(svc, "7d", AS_OF)
    assert data["notes"] == {"count": 5, "accounts": 4, "previous": 4, "previous_accounts": 3}
    assert [t["label"] for t in data["growing"]] == ["CSV export times out"]
    assert [t["label"] for t in data["fading"]] == ["SSO setup takes too long"]
    assert [t["label"] for t in data["new"]] == ["Need a Snowflake connector"]
    top = data["top_themes"]
    assert [t["label"] for t in top] == ["CSV export times out", "Need a Snowflake connector"]  # by accounts
    export = top[0]
    assert (export["accounts"], export["mentions"], export["previous_mentions"]) == (3, 3, 1)
    assert export["account_names"] == ["Acme", "Globex", "Initech"]
    assert export["arr"] == 200000.0  # Acme 120k + Initech 80k; Globex states none
    assert len(export["timeline"]) == 12 and sum(export["timeline"]) == 4


def test_quotes_are_verbatim_with_account_and_note_id(seeded):
    app, svc, _ = seeded
    data = build_report(svc, "7d", AS_OF)
    client = app.test_client()
    for theme in data["top_themes"]:
        assert 2 <= len(theme["quotes"]) <= 3
        assert len({q["account"] for q in theme["quotes"]}) == len(theme["quotes"])  # different accounts first
        for q in theme["quotes"]:
            note = client.get(f"/api/v1/notes/{q['note_id']}").get_json()
            assert q["text"] in note["text"] and q["account"] == note["account"]


def test_gaps_come_from_roadmap_coverage_and_drafts_from_the_period(seeded):
    _, svc, ids = seeded
    data = build_report(svc, "7d", AS_OF)
    gap_ids = [g["theme_id"] for g in data["gaps"]]
    assert ids["SSO setup takes too long"] in gap_ids
    assert ids["CSV export times out"] not in gap_ids  # linked to EXP
    assert ids["Need a Snowflake connector"] not in gap_ids  # emerging themes are not gaps
    d = data["drafts"]
    assert d["count"] == 4  # the October draft is outside the period
    assert d["by_verdict"] == {"available": 2, "in_progress": 1, "not_on_roadmap": 1}
    assert (d["thumbs_up"], d["thumbs_down"], d["edits_saved"], d["feedback"]) == (2, 1, 1, 3)


def test_report_without_themes_or_roadmap_says_so(app):
    data = build_report(app.extensions["feedback"], "1d", AS_OF)
    assert data["top_themes"] == [] and data["theme_run"] is None
    assert any("no theme run yet" in m for m in data["messages"])
    assert "No themes yet" in render_html(data) and "No themes yet" in render_markdown(data)


# --- render ----------------------------------------------------------------------------------------------------

def test_html_is_self_contained_with_svg_charts_and_escaped_quotes(seeded):
    _, svc, _ = seeded
    html = render_html(build_report(svc, "7d", AS_OF))
    assert html.startswith("<!doctype html>") and "<style>" in html
    assert "<script" not in html.lower().replace("&lt;script", "")  # no script; the hostile quote is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count('class="chart bar-chart"') == 1
    assert html.count('class="chart sparkline"') == 2  # one per top theme
    assert "The CSV export times out on large reports." in html
    assert "Acme" in html and "note e1" in html
    assert "SSO setup takes too long" in html  # fading and a gap
    assert 'href="/' not in html  # a file on disk has no app to link to


def test_markdown_for_chat_tools(seeded):
    _, svc, _ = seeded
    data = build_report(svc, "7d", AS_OF)
    md = render_markdown(data)
    assert md.startswith("# Feedback report: last 7 days")
    assert "## Top themes by accounts" in md and "## Gaps: recurring themes no roadmap item covers" in md
    assert ("1. **CSV export times out**: 3 accounts this period, 3 mentions this period (was 1), ARR $200k, "
            "growing") in md
    assert "\u201cThe CSV export times out on large reports.\u201d: Acme, note e1" in md
    assert "<script>" not in md and "&lt;script>" in md  # no raw HTML for renderers that allow it
    slack = render_markdown(data, "slack")
    assert "*CSV export times out*" in slack and "&lt;script&gt;" in slack


# --- store -----------------------------------------------------------------------------------------------------

def test_same_period_replaces_the_report_instead_of_adding_one(seeded):
    _, svc, _ = seeded
    first = create_report(svc, "7d", AS_OF)
    with svc.db.transaction() as s:
        s.get(Report, first.id).delivery_status = "sent"
    second = create_report(svc, "7d", AS_OF)
    other = create_report(svc, "30d", AS_OF)
    with svc.db.session() as s:
        assert s.scalar(select(func.count(Report.id))) == 2
    assert second.id == first.id and other.id != first.id
    assert get_report(svc, first.id).delivery_status == "not_sent"  # new content, not delivered yet
    assert second.updated_at >= first.updated_at


# --- CLI -------------------------------------------------------------------------------------------------------

@pytest.fixture
def cli_seeded(cli_env, run_cli):
    from service import create_app

    app = create_app()
    seed(app)
    app.extensions["feedback"].close()
    return run_cli


def test_cli_report_formats_and_out_file(cli_seeded, tmp_path):
    md = cli_seeded("report", "--since", "7d", "--as-of", "2026-11-27")
    assert md.exit_code == 0 and md.stdout.startswith("# Feedback report: last 7 days")
    data = json.loads(cli_seeded("report", "--since", "7d", "--as-of", "2026-11-27", "--format", "json").stdout)
    assert data["period"] == "7d" and data["data"]["top_themes"][0]["label"] == "CSV export times out"
    out = tmp_path / "r.html"
    result = cli_seeded("report", "--since", "7d", "--as-of", "2026-11-27", "--out", str(out))
    assert result.exit_code == 0 and "<svg" in out.read_text() and result.stdout == ""
    listed = json.loads(cli_seeded("reports", "list", "--json").stdout)
    assert listed["total"] == 1 and listed["reports"][0]["id"] == data["id"]  # replaced, not duplicated
    shown = cli_seeded("reports", "show", str(data["id"]), "--format", "html")
    assert shown.exit_code == 0 and shown.stdout == out.read_text()
    assert cli_seeded("reports", "show", "999").exit_code == 1


def test_cli_bad_period_and_date_exit_2(run_cli):
    assert run_cli("report", "--since", "2w").exit_code == 2
    result = run_cli("report", "--as-of", "someday")
    assert result.exit_code == 2 and "--as-of" in result.stderr


# --- webhook ---------------------------------------------------------------------------------------------------

@pytest.fixture
def stored(seeded):
    _, svc, _ = seeded
    return svc, create_report(svc, "7d", AS_OF)


@responses.activate
def test_webhook_success_posts_a_slack_payload(stored):
    svc, report = stored
    responses.post(HOOK, body="ok")
    result = deliver_report(svc, report.id, HOOK, base_delay=0)
    assert result.ok and result.attempts == 1
    body = json.loads(responses.calls[0].request.body)
    assert body["text"].startswith("*Feedback report: last 7 days*") and "CSV export times out" in body["text"]
    assert body["blocks"][0]["type"] == "header" and any(b["type"] == "section" for b in body["blocks"])
    row = get_report(svc, report.id)
    assert (row.delivery_status, row.delivery_attempts, row.delivery_error) == ("sent", 1, None)
    assert row.delivered_at is not None


@responses.activate
def test_webhook_retries_a_500_then_succeeds(stored):
    svc, report = stored
    responses.post(HOOK, status=500, body="oops")
    responses.post(HOOK, body="ok")
    result = deliver_report(svc, report.id, HOOK, base_delay=0.001)
    assert result.ok and result.attempts == 2 and len(responses.calls) == 2
    assert get_report(svc, report.id).delivery_status == "sent"


@responses.activate
def test_webhook_final_failure_is_recorded_and_the_report_kept(stored):
    svc, report = stored
    responses.post(HOOK, status=503, body="unavailable")
    responses.post(HOOK, body=requests.exceptions.ConnectTimeout())
    responses.post(HOOK, status=429, body="slow down")
    result = deliver_report(svc, report.id, HOOK, base_delay=0.001)
    assert not result.ok and result.attempts == 3 and len(responses.calls) == 3
    row = get_report(svc, report.id)
    assert row.delivery_status == "failed" and row.delivery_attempts == 3
    assert "429" in row.delivery_error and "gave up after 3 attempts" in row.delivery_error
    assert "secret" not in row.delivery_error  # the URL is the credential: only its host is recorded
    assert row.html and row.data["top_themes"]


@responses.activate
def test_webhook_4xx_is_not_retried(stored):
    svc, report = stored
    responses.post(HOOK, status=404, body="no_service")
    result = deliver_report(svc, report.id, HOOK, base_delay=0.001)
    assert not result.ok and result.attempts == 1 and len(responses.calls) == 1
    assert "HTTP 404" in get_report(svc, report.id).delivery_error


def test_slack_payload_escapes_mentions_in_note_text(stored):
    _, report = stored
    data = json.loads(json.dumps(report.data))
    data["top_themes"][0]["quotes"][0]["text"] = "Ping <!channel> & <@U123>"
    text = json.dumps(build_payload(data))
    # "@" at a word's start also gets a zero-width space: Mattermost and Rocket.Chat mention on "@U123" itself
    assert "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;@\\u200bU123&gt;" in text


@responses.activate
def test_cli_webhook_failure_exits_1_but_stores_the_report(cli_seeded, monkeypatch):
    monkeypatch.setenv("FEEDBACK_REPORT_WEBHOOK_BACKOFF", "0.001")
    responses.post(HOOK, status=500)
    result = cli_seeded("report", "--since", "7d", "--as-of", "2026-11-27", "--webhook", HOOK)
    assert result.exit_code == 1 and "not delivered" in result.stderr and len(responses.calls) == 3
    assert result.stdout.startswith("# Feedback report")
    listed = json.loads(cli_seeded("reports", "list", "--json").stdout)["reports"]
    assert listed[0]["delivery"]["status"] == "failed" and listed[0]["delivery"]["attempts"] == 3


# --- schedule --------------------------------------------------------------------------------------------------

@responses.activate
def test_schedule_once_runs_themes_then_the_report(cli_seeded, cli_env, monkeypatch):
    monkeypatch.setenv("FEEDBACK_REPORT_WEBHOOK_URL", HOOK)
    responses.post(HOOK, body="ok")
    result = cli_seeded("schedule", "--once", "--since", "7d")
    assert result.exit_code == 0, result.output
    assert "themes: run 2 (incremental)" in result.stdout, result.stdout
    assert (cli_env / "reports" / "latest.html").read_text().startswith("<!doctype html>")
    assert len(responses.calls) == 1 and "delivered in 1 attempt" in result.stdout
    listed = json.loads(cli_seeded("reports", "list", "--json").stdout)["reports"]
    assert len(listed) == 1 and listed[0]["theme_run_id"] == 2 and listed[0]["delivery"]["status"] == "sent"


@pytest.mark.parametrize("cron", ["61 * * * *", "not a cron", "0 6 * *"])
def test_schedule_bad_cron_exits_2(run_cli, cron):
    result = run_cli("schedule", "--cron", cron, "--once")
    assert result.exit_code == 2 and "invalid cron expression" in result.stderr


def test_schedule_bad_cron_from_the_environment_exits_2(run_cli, monkeypatch):
    monkeypatch.setenv("FEEDBACK_REPORT_CRON", "every day")
    result = run_cli("schedule")
    assert result.exit_code == 2 and "'every day'" in result.stderr


# --- API -------------------------------------------------------------------------------------------------------

def test_reports_api(seeded):
    app, _, _ = seeded
    client = app.test_client()
    assert client.get("/api/v1/reports").get_json()["reports"] == []
    created = client.post("/api/v1/reports", json={"since": "7d", "as_of": "2026-11-27"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["period"] == "7d" and body["data"]["growing"][0]["label"] == "CSV export times out"
    again = client.post("/api/v1/reports", json={"since": "7d", "as_of": "2026-11-27"}).get_json()
    assert again["id"] == body["id"]
    listed = client.get("/api/v1/reports").get_json()
    assert [r["id"] for r in listed["reports"]] == [body["id"]]
    one = client.get(f"/api/v1/reports/{body['id']}?formats=true").get_json()
    assert "<svg" in one["html"] and one["markdown"].startswith("# Feedback report")
    assert client.get("/api/v1/reports/999").status_code == 404
    assert client.post("/api/v1/reports", json={"since": "2w"}).status_code == 422
    assert client.post("/api/v1/reports", json={"since": "1d", "webhook": "ftp://x"}).status_code == 422


def _delivered(client, body: dict, timeout: float = 30.0) -> dict:
    """The report once its delivery job has finished (the API answers before the webhook is posted)."""
    from tests.unit.test_jobs import _wait

    job = _wait(client, body["delivery"]["job_id"], timeout)
    return {"job": job, **client.get(f"/api/v1/reports/{body['id']}").get_json()}


@responses.activate
def test_reports_api_records_a_failed_delivery(seeded, monkeypatch):
    app, _, _ = seeded
    monkeypatch.setenv("FEEDBACK_REPORT_WEBHOOK_BACKOFF", "0")
    responses.post(HOOK, status=400, body="invalid_payload: remote words never stored")
    app.extensions["feedback"].config.WEBHOOK_ALLOWED_HOSTS = "hooks.example.com"
    client = app.test_client()
    resp = client.post("/api/v1/reports", json={"since": "1d", "webhook": HOOK})
    assert resp.status_code == 201 and resp.get_json()["delivery"]["job_id"]
    after = _delivered(client, resp.get_json())
    assert after["job"]["status"] == "failed" and len(responses.calls) == 1
    delivery = after["delivery"]
    assert delivery["status"] == "failed" and delivery["error"] == "HTTP 400 from hooks.example.com"
    assert "remote words" not in json.dumps(after) and "secret" not in json.dumps(after)


@responses.activate
def test_reports_api_delivers_off_the_request_thread(seeded, monkeypatch):
    """The request answers with the report queued while the webhook is still slow; the job records "sent"."""
    import threading

    app, svc, _ = seeded
    release = threading.Event()
    seen_thread, released = [], []

    def slow_hook(request):
        seen_thread.append(threading.current_thread().name)
        released.append(release.wait(60))  # held until the test has seen "queued" (60 s: a bound for hanging)
        return (200, {}, "ok")

    responses.add_callback(responses.POST, HOOK, callback=slow_hook)
    svc.config.WEBHOOK_ALLOWED_HOSTS = "hooks.example.com"
    client = app.test_client()
    resp = client.post("/api/v1/reports", json={"since": "1d", "webhook": HOOK})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["delivery"]["status"] == "queued"
    assert client.get(f"/api/v1/reports/{body['id']}").get_json()["delivery"]["status"] == "queued"
    release.set()
    after = _delivered(client, body)
    assert after["job"]["status"] == "done" and after["delivery"]["status"] == "sent"
    assert seen_thread and seen_thread[0] != threading.current_thread().name
    assert released == [True]  # the webhook answered only once released: "queued" was seen while it was held
    # the caller's URL (a credential) travelled sealed and is gone from the job row once it ran
    from service.models import Job

    with svc.db.session() as session:
        payload = session.get(Job, body["delivery"]["job_id"]).payload
    assert payload == {"report_id": body["id"]} and "secret" not in json.dumps(payload)


def test_sealed_webhook_url_needs_the_same_secret_key(seeded):
    from service.reports.deliver import open_url, run_delivery_job, seal_url

    _, svc, _ = seeded
    sealed = seal_url("key-one", HOOK)
    assert "secret" not in sealed and open_url("key-one", sealed) == HOOK
    with pytest.raises(ValueError, match="FEEDBACK_SECRET_KEY differs"):
        open_url("key-two", sealed)
    report = create_report(svc, "7d", AS_OF)
    result = run_delivery_job(svc, {"report_id": report.id, "webhook": sealed})  # svc has another secret key
    assert not result.ok and "FEEDBACK_SECRET_KEY" in get_report(svc, report.id).delivery_error
    assert get_report(svc, report.id).delivery_status == "failed"


@responses.activate
def test_reports_api_refuses_webhooks_to_hosts_not_allowed(seeded):
    """An API caller must not make the server POST to internal addresses (SSRF); nothing is sent or stored."""
    app, _, _ = seeded
    client = app.test_client()
    for url in ("http://127.0.0.1:6379/", "http://169.254.169.254/latest/meta-data", HOOK):
        resp = client.post("/api/v1/reports", json={"since": "1d", "webhook": url})
        assert resp.status_code == 422, url
        message = resp.get_json()["error"]["message"]
        assert "not allowed" in message or "private, loopback" in message, message
    assert len(responses.calls) == 0
    assert client.get("/api/v1/reports").get_json()["reports"] == []
    app.extensions["feedback"].config.REPORT_WEBHOOK_URL = HOOK  # the configured webhook's host is allowed
    responses.post(HOOK, status=200, body="ok")
    resp = client.post("/api/v1/reports", json={"since": "1d", "webhook": HOOK})
    assert resp.status_code == 201
    assert _delivered(client, resp.get_json())["delivery"]["status"] == "sent" and len(responses.calls) == 1


def test_report_names_its_window_and_says_plainly_when_it_holds_no_notes(seeded, run_cli):
    from service.themes.measure import window_text

    _, svc, _ = seeded
    data = build_report(svc, "7d", date(2030, 1, 1))
    assert data["trend_window"] == window_text(date(2029, 12, 31), 7)
    assert data["messages"][0].startswith("No notes in this window (the last 7 days: 2029-12-25 to 2029-12-31, UTC)")
    assert "30d" in run_cli("report", "--help").output


def _jobs_of(client, kind: str) -> list[dict]:
    return [j for j in client.get("/api/v1/jobs").get_json()["items"] if j["kind"] == kind]


@responses.activate
def test_reports_page_queues_delivery_to_the_configured_webhook(seeded):
    from tests.unit.test_jobs import _wait

    app, svc, _ = seeded
    responses.post(HOOK, status=200, body="ok")
    client = app.test_client()
    assert "configured webhook" not in client.get("/reports").get_data(as_text=True)  # none configured yet
    svc.config.REPORT_WEBHOOK_URL = HOOK
    assert "configured webhook" in client.get("/reports").get_data(as_text=True)
    done = follow_job(client, client.post("/reports", data={"period": "7d", "deliver": "y"}))  # the build is a job
    assert done.status_code == 303
    report_id = int(done.headers["Location"].rstrip("/").split("/")[-1])
    [delivery] = _jobs_of(client, "deliver")  # queued by the build job before it ended
    assert _wait(client, delivery["id"])["status"] == "done"
    assert get_report(svc, report_id).delivery_status == "sent" and len(responses.calls) == 1
    assert "Delivery: sent" in client.get(f"/reports/{report_id}").get_data(as_text=True)
    follow_job(client, client.post("/reports", data={"period": "1d"}))  # without the box ticked nothing is posted
    # A delivery would have been queued by the build job, which has ended: none was, and none ran. (Waiting a
    # moment for a post that never comes proved nothing on a machine slow enough to post after the wait.)
    assert [j["id"] for j in _jobs_of(client, "deliver")] == [delivery["id"]]
    for job in client.get("/api/v1/jobs").get_json()["items"]:
        assert _wait(client, job["id"])["status"] == "done"
    assert len(responses.calls) == 1


def test_an_empty_window_still_shows_the_30_day_context_chart(seeded):
    _, svc, _ = seeded
    full = build_report(svc, "30d", AS_OF)
    assert full["context"] is None and full["top_themes"]  # a window with notes needs no context
    quiet_day = build_report(svc, "1d", date(2026, 11, 28))  # the fixture notes end on the 24th
    assert quiet_day["notes"]["count"] == 0 and not quiet_day["top_themes"]
    ctx = quiet_day["context"]
    assert (ctx["start"], ctx["last_day"]) == ("2026-10-29", "2026-11-27")  # the 30 days up to the report's last day
    assert [t["label"] for t in ctx["themes"]][:1] == [full["top_themes"][0]["label"]]
    html, md = render_html(quiet_day), render_markdown(quiet_day)
    assert "For context: the top themes of 2026-10-29 to 2026-11-27" in html and html.count("<svg") >= 1
    assert "For context, the top themes of 2026-10-29 to 2026-11-27 (30 days)" in md
    later = build_report(svc, "1d", date(2030, 1, 1))  # 30 quiet days too: the 30 days up to the newest note
    assert later["context"]["last_day"] == max(n for n in _note_days(svc))


def _note_days(svc):
    from service.models import Note

    with svc.db.session() as s:
        return [n.effective_at.date().isoformat() for n in s.query(Note).all()]


def test_reports_list_shows_the_last_day_like_the_report_itself(cli_seeded):
    data = json.loads(cli_seeded("report", "--since", "7d", "--as-of", "2026-11-27", "--format", "json").stdout)
    assert (data["period_start"], data["last_day"], data["data"]["last_day"]) == ("2026-11-20", "2026-11-26", "2026-11-26")
    listed = cli_seeded("reports", "list").stdout
    assert "2026-11-20 to 2026-11-26" in listed and "2026-11-27" not in listed
