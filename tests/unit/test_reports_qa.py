"""QA pass on the theme reports: Markdown shows untrusted text as written, an empty window is named plainly, and
`reports list --json` counts every stored report like the API does."""
from __future__ import annotations

import json
from datetime import date

import pytest
from markdown_it import MarkdownIt

from service.reports.build import build_report
from service.reports.render import render_markdown
from tests.unit.test_reports import AS_OF, _public_dns, seeded  # noqa: F401 (fixtures)


def test_markdown_shows_entities_in_labels_and_names_as_written(seeded):  # noqa: F811
    _, svc, _ = seeded
    data = build_report(svc, "7d", AS_OF, with_gaps=False)
    written = "R&amp;D &copy; &lt;b&gt; <i>x</i>"
    data["top_themes"][0]["label"] = written
    data["top_themes"][0]["quotes"][0]["account"] = "Smith &amp; Sons"
    html = MarkdownIt("commonmark").render(render_markdown(data))
    # Rendered, the text reads exactly as typed: no entity is decoded, no tag passes through.
    assert "R&amp;amp;D &amp;copy; &amp;lt;b&amp;gt; &lt;i&gt;x&lt;/i&gt;" in html
    assert "Smith &amp;amp; Sons" in html and "<i>" not in html and "\u00a9" not in html
    data["top_themes"][0]["label"] = "R&D and Q&A"  # an & that starts no entity stays as it is in the raw file
    assert "R&D and Q&A" in render_markdown(data)


def test_an_empty_window_names_only_itself(seeded):  # noqa: F811
    _, svc, _ = seeded
    quiet_day = build_report(svc, "1d", date(2026, 11, 28), with_gaps=False)
    assert quiet_day["messages"][0] == ("No notes in this window (the last day: 2026-11-27, UTC): "
                                        "nothing was heard from customers in it.")
    week = build_report(svc, "7d", date(2030, 1, 1), with_gaps=False)
    # The previous period is not part of the sentence: "... vs the 7 before" read as if it were empty too.
    assert week["messages"][0].startswith("No notes in this window (the last 7 days: 2029-12-25 to 2029-12-31, UTC)")
    assert "before" not in week["messages"][0]


def test_reports_list_json_total_counts_all_reports_not_the_page(run_cli):
    for as_of in ("2026-11-25", "2026-11-26", "2026-11-27"):
        assert run_cli("report", "--since", "1d", "--as-of", as_of).exit_code == 0
    listed = json.loads(run_cli("reports", "list", "--limit", "1", "--json").stdout)
    assert len(listed["reports"]) == 1 and listed["total"] == 3 and listed["limit"] == 1
    assert listed["reports"][0]["last_day"] == "2026-11-26"  # newest first, last day inclusive


def test_a_report_of_a_past_window_does_not_list_what_moved_after_it(svc):
    from service.models import utcnow
    from service.roadmap.service import import_items

    import_items(svc, [{"id": "RM-1", "title": "SCIM provisioning", "status": "in progress"}])
    import_items(svc, [{"id": "RM-1", "title": "SCIM provisioning", "status": "shipped"}])  # moves now
    past = build_report(svc, "7d", date(2026, 10, 1), with_gaps=False)
    assert past["moved"] == []
    current = build_report(svc, "7d", utcnow().date(), with_gaps=False)
    assert [(m["item_id"], m["old_status"], m["new_status"]) for m in current["moved"]] == [
        ("RM-1", "in_progress", "shipped")]


@pytest.mark.parametrize("value", ["", "  ", "2026-11-30T23:00", "30/11/2026", "2026-02-30", "2999-01-01"])
def test_an_as_of_that_is_not_a_past_or_present_day_is_refused_by_name(client, run_cli, value):
    resp = client.post("/api/v1/reports", json={"since": "7d", "as_of": value})
    assert resp.status_code == 422 and resp.get_json()["error"]["details"]["field"] == "as_of"
    done = run_cli("report", "--since", "7d", "--as-of", value)
    assert done.exit_code == 2 and "--as-of" in done.stderr
    assert client.get("/api/v1/reports").get_json()["total"] == 0  # nothing was stored


def test_an_as_of_day_is_taken(client):
    resp = client.post("/api/v1/reports", json={"since": "7d", "as_of": "2026-11-01"})
    assert resp.status_code == 201 and resp.get_json()["last_day"] == "2026-10-31"


def test_a_report_asked_for_now_has_one_default_window_everywhere(app, client, run_cli):
    from service.models.reports import DEFAULT_PERIOD
    from service.web.page_forms import BuildReportForm

    made = client.post("/api/v1/reports", json={})
    assert made.status_code == 201 and made.get_json()["period"] == DEFAULT_PERIOD == "30d"
    assert f"default: {DEFAULT_PERIOD}" in run_cli("report", "-h").stdout
    with app.test_request_context():
        assert BuildReportForm(formdata=None, meta={"csrf": False}).period.data == DEFAULT_PERIOD
