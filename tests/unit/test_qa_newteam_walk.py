"""Fixes from a walkthrough by a new team (a fleet-tracking product) with its own roadmap and notes.

- a front matter date YAML reads but cannot build (2026-11-31) is an error on its file, line and field, not a
  ValueError without a file;
- a cited item's own title ("Driver safety scoring") is not an internal term in a customer draft;
- a not-planned item's `reason` column is the why a draft gives with its no, instead of a generic sentence;
- the template's "edit before sending" warning names the limit the draft misses.
"""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from service.drafts import checks
from service.drafts.base import DraftContext, DraftItem
from service.drafts.llm_drafter import _item_payload
from service.drafts.matching import _draft_item
from service.drafts.template import TemplateDrafter
from service.ingest.store import load_paths


# ---- ingest: impossible dates in front matter ---------------------------------------------------------------
def test_front_matter_impossible_date_is_named_on_its_line(tmp_path):
    note = tmp_path / "cascade.md"
    note.write_text("---\naccount: Cascade Cold Chain\ndate: 2026-11-31\nvisits: [2026-02-30, 2026-03-01]\n---\n"
                    "The temp monitoring is still the dealbreaker.\n", encoding="utf-8")
    notes, errors = load_paths([str(note)], 100_000)
    assert notes == []
    assert [(e.line, e.field) for e in errors] == [(3, "date"), (4, "visits")]
    assert "2026-11-31" in errors[0].reason and "day is out of range" in errors[0].reason
    assert "2026-02-30" in errors[1].reason
    assert all("cascade.md" in str(e) for e in errors)


def test_front_matter_impossible_date_via_cli_exits_1_with_file_line(run_cli, tmp_path):
    note = tmp_path / "prairie.md"
    note.write_text("---\naccount: Prairie Ag Haulers\ndate: 2026-02-30\n---\nIFTA filing by hand.\n", encoding="utf-8")
    result = run_cli("ingest", str(note))
    assert result.exit_code == 1
    assert "prairie.md:3 [date]: invalid date '2026-02-30'" in result.output
    assert "ValueError" not in result.output


def test_front_matter_valid_dates_still_read(tmp_path):
    note = tmp_path / "ok.md"
    note.write_text("---\naccount: Harbor City Waste\ndate: 2026-11-09\nrenewal: 2027-01-15\n---\nDashcam again.\n",
                    encoding="utf-8")
    (row,), errors = load_paths([str(note)], 100_000)
    assert errors == []
    assert row.occurred_at.date().isoformat() == "2026-11-09" and row.meta == {"renewal": "2027-01-15"}


# ---- drafts: an item's title is not an internal term -----------------------------------------------------------
def _ctx(items, verdict, audience="customer", **kw) -> DraftContext:
    return DraftContext(question=kw.pop("question", "Harsh braking and speeding scores per driver?"), account=None,
                        audience=audience, tone=None, verdict=verdict, items=list(items), **kw)


def test_cited_title_with_scoring_passes_the_customer_checks():
    item = DraftItem(id="FL-18", title="Driver safety scoring", status="planned", release="Q2 2027")
    c = _ctx([item], "planned")
    result = TemplateDrafter().draft(c)
    assert "Driver safety scoring is planned for Q2 2027" in result.text
    assert checks.check_draft(result.text, result.cited_item_ids, result.quotes, c) == []


def test_internal_terms_outside_the_title_are_still_caught():
    item = DraftItem(id="FL-18", title="Driver safety scoring", status="planned", release="Q2 2027")
    c = _ctx([item], "planned")
    text = "Driver safety scoring is planned for Q2 2027. It scores 4.2 in our RICE ranking."
    problems = checks.check_draft(text, ["FL-18"], [], c)
    assert "internal term 'scores'" in problems and "internal term 'RICE'" in problems


# ---- drafts: the roadmap's own reason for a no ------------------------------------------------------------------
def _row(**kw):
    base = dict(id="FL-24", title="On-premise server deployment", description="", status="not_planned", release=None,
                goal=None, workaround="A dedicated single-tenant cloud instance.", url=None, extra={})
    return SimpleNamespace(**{**base, **kw})


@pytest.mark.parametrize("extra, reason", [
    ({"reason": "Cloud only: two code lines would slow every release"},
     "Cloud only: two code lines would slow every release"),
    ({"Reason": "  Both platforms are\nend-of-life "}, "Both platforms are end-of-life"),
    ({"reason": "   "}, None), ({"reason": 5}, None), ({}, None), (None, None),
])
def test_reason_column_becomes_the_draft_items_reason(extra, reason):
    assert _draft_item(_row(extra=extra), {}, 0.9).reason == reason


def test_not_planned_customer_draft_gives_the_roadmaps_reason_before_the_workaround():
    item = _draft_item(_row(extra={"reason": "Cloud only: two code lines would slow every release"}), {}, 0.9)
    c = _ctx([item], "not_planned", question="Can we install it on-premise?")
    result = TemplateDrafter().draft(c)
    text = result.text
    assert "The reason: Cloud only: two code lines would slow every release." in text
    assert "does not fit the work" not in text and "ranks well ahead" not in text
    assert text.index("The reason:") < text.index("What you can do today:")
    assert checks.check_draft(text, result.cited_item_ids, result.quotes, c) == []


def test_not_planned_internal_draft_names_the_reason():
    item = _draft_item(_row(extra={"reason": "Road fleets only"}), {}, 0.9)
    result = TemplateDrafter().draft(_ctx([item], "not_planned", audience="internal"))
    assert "Reason (roadmap): Road fleets only." in result.text


def test_not_planned_without_a_reason_keeps_the_generic_sentence():
    item = _draft_item(_row(), {}, 0.9)
    result = TemplateDrafter().draft(_ctx([item], "not_planned", question="On-prem?"))
    assert "It does not fit the work we have chosen to focus on." in result.text
    assert "The reason:" not in result.text


def test_llm_payload_carries_the_reason_only_for_not_planned_items():
    item = _draft_item(_row(extra={"reason": "Road fleets only"}), {}, 0.9)
    assert _item_payload(item, internal=False)["reason"] == "Road fleets only"
    planned = _draft_item(_row(status="planned", extra={"reason": "x"}), {}, 0.9)
    assert "reason" not in _item_payload(planned, internal=False)


def test_reason_column_reaches_the_draft_end_to_end(run_cli, tmp_path):
    roadmap = tmp_path / "roadmap.csv"
    roadmap.write_text("id,title,status,description,reason\n"
                       "FL-26,Maritime vessel tracking,not planned,Vessel AIS tracking for ships at sea.,"
                       "We focus on road fleets\n"
                       "FL-01,Live GPS vehicle tracking map,shipped,Vehicle positions on a live map.,\n",
                       encoding="utf-8")
    assert run_cli("roadmap", "import", str(roadmap)).exit_code == 0
    result = run_cli("draft", "Do you offer maritime vessel tracking for ships at sea?", "--json")
    assert result.exit_code == 0
    draft = json.loads(result.output)
    assert draft["verdict"] == "not_planned" and draft["cited_item_ids"] == ["FL-26"]
    assert "The reason: We focus on road fleets." in draft["text"]


# ---- template warning ---------------------------------------------------------------------------------------
def test_short_draft_warning_names_the_word_limit_not_the_grade():
    item = DraftItem(id="FL-06", title="Samsara data import", status="shipped")
    result = TemplateDrafter().draft(_ctx([item], "available", question="Samsara import?"))
    words = checks.word_count(result.text)
    assert words < 40
    assert result.warnings == [f"template draft has {words} words (at least 40); edit before sending"]
