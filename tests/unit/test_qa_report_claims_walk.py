"""QA walk of the nightly report's claims against the data: the trend a gap shows is the report's own (the
window the report names), a period nobody was heard in proves no theme new, growing or fading, a mover says how
many accounts its mentions came from, and a cut list says it was cut. Theme runs are seeded directly (no
clustering), so every figure is known."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from service.models import ThemeSnapshot
from service.reports.build import build_report
from service.reports.deliver import build_payload
from service.reports.render import render_html, render_markdown

from .test_reports import ROADMAP, seed_run

RUN_END = datetime(2026, 11, 27)  # the theme run's own trend window: the 30 days to 2026-11-26


def _note(nid, text, account, day):
    return {"id": nid, "text": text, "account": account, "source": "call", "date": day}


def seed(app, groups: dict[str, list[dict]], *, extra: list[dict] = (), roadmap: bool = False) -> dict[str, int]:
    """Notes (each group one theme of the run, `extra` in no theme) and a theme run measured over RUN_END."""
    client = app.test_client()
    notes = [n for group in groups.values() for n in group] + list(extra)
    resp = client.post("/api/v1/notes", json=notes)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    if roadmap:
        assert client.post("/api/v1/roadmap/items", json=ROADMAP).status_code == 201
    return seed_run(app.extensions["feedback"], groups, RUN_END, 30.0)


def _gaps_section(html: str) -> str:
    return html[html.index('id="r-gaps"'):]


# --- a gap's trend is the report's, not the theme run's ----------------------------------------------------------

def test_a_gaps_trend_is_the_one_of_the_window_the_report_names(app):
    # The theme run (30 days to 11-26) sees 3 mentions against 2: stable. The report's 7 days (11-20..11-26) see
    # 2 against 0 in the 7 before (which did have notes): growing. The HTML showed the gap as "stable" under
    # "Trends compare the last 7 days to 2026-11-26 vs the 7 before", next to the same theme called growing.
    sso = "SSO setup takes too long"
    ids = seed(app, {sso: [
        _note("s1", "SSO setup took two weeks.", "Umbrella", "2026-10-20"),
        _note("s2", "SSO rollout was painful.", "Hooli", "2026-10-22"),
        _note("s3", "SSO configuration needed three calls.", "Initech", "2026-11-05"),
        _note("s4", "SSO setup broke again after the certificate change.", "Umbrella", "2026-11-21"),
        _note("s5", "Their SSO login loops on Safari.", "Hooli", "2026-11-22"),
    ]}, extra=[_note("x1", "Lovely weather at the offsite.", "Globex", "2026-11-15")], roadmap=True)
    svc = app.extensions["feedback"]
    with svc.db.session() as s:
        assert s.scalar(select(ThemeSnapshot.trend).where(ThemeSnapshot.theme_id == ids[sso])) == "stable"
    data = build_report(svc, "7d", date(2026, 11, 27))
    [top] = [t for t in data["top_themes"] if t["id"] == ids[sso]]
    [gap] = [g for g in data["gaps"] if g["theme_id"] == ids[sso]]
    assert (top["mentions"], top["previous_mentions"], top["trend"]) == (2, 0, "growing")
    assert gap["trend"] == top["trend"] == "growing"
    gaps_html = _gaps_section(render_html(data))
    assert "trend-growing" in gaps_html and "trend-stable" not in gaps_html
    assert not any("only partly covered" in m for m in data["messages"])  # the data covers both periods


# --- periods nothing was heard in prove no movement --------------------------------------------------------------

EXPORT = "CSV export times out"
EXPORTS = [
    _note("e0", "Exports time out for the big workspace.", "Acme", "2026-11-01"),
    _note("e1", "The CSV export times out on large reports.", "Acme", "2026-11-20"),
    _note("e2", "Export to CSV fails above 50k rows every night.", "Globex", "2026-11-20"),
    _note("e3", "Our finance export keeps timing out.", "Initech", "2026-11-20"),
]


def test_a_day_without_notes_does_not_make_yesterdays_themes_fade(app):
    seed(app, {EXPORT: EXPORTS})
    data = build_report(app.extensions["feedback"], "1d", date(2026, 11, 22))  # 11-21: no notes; 11-20: three
    assert (data["notes"]["count"], data["notes"]["previous"]) == (0, 3)
    assert data["fading"] == []  # was: CSV export times out (0, was 3)
    assert data["messages"][0].startswith("No notes in this window")
    assert "No theme is called fading" in data["messages"][1]
    md = render_markdown(data)
    assert "**Fading**: none" in md and "No theme is called fading" in md


def test_the_day_after_a_day_without_notes_does_not_make_todays_themes_grow(app):
    seed(app, {EXPORT: EXPORTS})
    data = build_report(app.extensions["feedback"], "1d", date(2026, 11, 21))  # 11-20: three; 11-19: no notes
    assert (data["notes"]["count"], data["notes"]["previous"]) == (3, 0)
    [top] = data["top_themes"]
    assert top["trend"] is None and data["growing"] == []  # was: growing (3, was 0)
    assert any(m.startswith("No notes in the previous period (2026-11-19 to 2026-11-19)") for m in data["messages"])
    md = render_markdown(data)
    assert "**Growing**: none" in md and "(was 0), None" not in md
    assert "3 mentions this period (was 0)\n" in md  # no trend word where no comparison is made
    assert "No notes in the previous period" in build_payload(data)["text"]  # the webhook says the same


def test_a_theme_first_heard_after_a_quiet_day_is_still_new(app):
    seed(app, {EXPORT: EXPORTS, "Need a Snowflake connector": [
        _note("w1", "They need a native Snowflake connector.", "Hooli", "2026-11-20"),
        _note("w2", "Snowflake write-back is a must for them.", "Globex", "2026-11-20")]})
    data = build_report(app.extensions["feedback"], "1d", date(2026, 11, 21))
    assert [t["label"] for t in data["new"]] == ["Need a Snowflake connector"]  # first heard, with notes before


def test_the_first_period_with_notes_calls_nothing_new(app):
    seed(app, {EXPORT: EXPORTS[1:]})  # every note is in the window: nothing was heard before it
    data = build_report(app.extensions["feedback"], "7d", date(2026, 11, 27))
    assert data["new"] == [] and data["growing"] == [] and data["top_themes"][0]["trend"] is None
    assert data["messages"][0].startswith("No notes before 2026-11-20: this is the first period with notes")
    assert "**New**: none" in render_markdown(data)


def test_a_previous_period_the_data_only_partly_covers_is_named(app):
    seed(app, {EXPORT: EXPORTS[1:]}, extra=[_note("x1", "Kickoff call with the new team.", "Globex", "2026-11-10")])
    data = build_report(app.extensions["feedback"], "7d", date(2026, 11, 21))  # previous period: 11-07..11-13
    assert data["notes"]["previous"] == 1
    assert any(m.startswith("The notes begin on 2026-11-10: the previous period (2026-11-07 to 2026-11-13) is only "
                            "partly covered") for m in data["messages"])


# --- what a mover's numbers are ---------------------------------------------------------------------------------

def test_a_mover_says_how_many_accounts_its_mentions_came_from(app):
    # Three sentences of one call with one account made "HIPAA (3, was 0)" read as a pain spreading.
    seed(app, {"HIPAA tier": [
        _note("h0", "They asked about HIPAA.", "Meridian", "2026-10-01"),
        _note("h1", "HIPAA came up immediately. They cannot sign without a BAA. Their privacy officer blocks the "
                    "pilot until a BAA is signed.", "Meridian", "2026-11-23"),
    ]}, extra=[_note("x1", "Lovely weather at the offsite.", "Globex", "2026-11-15")])
    data = build_report(app.extensions["feedback"], "7d", date(2026, 11, 27))
    [grown] = data["growing"]
    assert (grown["mentions"], grown["accounts"], grown["previous_mentions"], grown["previous_accounts"]) == (3, 1, 0, 0)
    md = render_markdown(data)
    assert "**Growing**: HIPAA tier (3 mentions from 1 account, was 0 mentions)" in md
    assert "HIPAA tier (3 mentions from 1 account, was 0 mentions)" in build_payload(data)["text"]
    with app.app_context():  # the HTML report says the same
        html = " ".join(render_html(data).split())
    assert "3 mentions from 1 account, previous period 0 mentions" in html


def test_a_report_stored_before_accounts_were_kept_still_renders(app):
    seed(app, {EXPORT: EXPORTS})
    data = build_report(app.extensions["feedback"], "1d", date(2026, 11, 21))
    data["fading"] = [{"id": 1, "label": "Old", "mentions": 0, "previous_mentions": 4, "trend": "fading"}]
    data.pop("movers_total", None)
    assert "**Fading**: Old (0, was 4)" in render_markdown(data)


def test_a_list_cut_at_ten_says_how_many_more_there_are(app):
    groups = {f"Theme number {n}": [_note(f"t{n}", f"Pain number {n} is real.", f"Acct{n}", "2026-11-22")]
              for n in range(12)}
    seed(app, groups, extra=[_note("x0", "Kickoff call.", "Globex", "2026-11-01"),
                             _note("x1", "Lovely weather at the offsite.", "Globex", "2026-11-15")])
    data = build_report(app.extensions["feedback"], "7d", date(2026, 11, 27))
    assert len(data["new"]) == 10 and data["movers_total"]["new"] == 12
    assert "; and 2 more" in render_markdown(data)
    assert "and 2 more" not in render_markdown(data).split("**Growing**")[1]
    with app.app_context():
        assert "and 2 more" in render_html(data)


# --- the window the themes pages use ----------------------------------------------------------------------------

def test_the_report_names_the_themes_pages_window_when_it_is_another(app):
    # The pages compare the 30 days to the run's window end (here 11-26), the report the days before its as-of:
    # the same theme read "growing" on /themes and "stable" in the report, each naming only its own window.
    seed(app, {EXPORT: EXPORTS})
    svc = app.extensions["feedback"]
    data = build_report(svc, "30d", date(2026, 12, 1))
    assert data["theme_run"]["trend_window"] == "the last 30 days to 2026-11-27 vs the 30 before"
    md = render_markdown(data)
    assert ("Trends compare the last 30 days to 2026-11-30 vs the 30 before. (The themes pages compare the last 30 "
            "days to 2026-11-27 vs the 30 before, so their trends can differ.)") in md
    same = build_report(svc, "30d", date(2026, 11, 28))
    assert same["trend_window"] == same["theme_run"]["trend_window"]
    assert "The themes pages compare" not in render_markdown(same)
    with app.app_context():
        assert "The themes pages compare the last 30 days to 2026-11-27" in " ".join(render_html(data).split())
