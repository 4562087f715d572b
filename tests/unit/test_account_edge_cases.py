"""Edge cases of account identity found by a review (service/accounts.py, migrations 0026-0027): names the key must
keep apart, long names, a merge that lasts and is erased whole, and every place that compares account names."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import create_engine, select, text

from service.accounts import account_key
from service.ingest.store import ingest
from service.ingest.validate import NoteInput
from service.models import Account


def _ingest(svc, *pairs):
    return ingest(svc, [NoteInput(text=t, account=a) for a, t in pairs], [], skip_invalid=False)


def _names(svc):
    with svc.db.session() as session:
        return sorted(session.scalars(select(Account.name)))


# ---- the key joins different customers -----------------------------------------------------------------------
@pytest.mark.parametrize("one, other", [
    ("The Limited", "The Co"),   # stripping the form would leave only "The"
    ("🚀 Inc", "★ Inc"),          # cleanco drops symbols: the key keeps them
    ("C++ Corp", "C# Inc"),      # "+" and "#" are part of the name
    ("Vodafone", "Vodafone UK"),  # "UK" is on cleanco's country lists, not its entity types
])
def test_two_customers_stay_two_accounts(svc, one, other):
    _ingest(svc, (one, "Exports time out."), (other, "SSO please."))
    assert _names(svc) == sorted([one, other])


def test_two_long_names_that_differ_only_at_the_end_stay_two_accounts():
    # "&" becomes " and ", so the key of a 200-character name is longer than 200: its end is hashed, not cut
    stem = " & ".join(["Smith", "Jones", "Brown", "Green", "White", "Black", "Gray", "Stone", "Wood", "Field", "Hill",
                       "Brook", "Lake", "Ford", "Marsh", "Dale", "Moor", "Heath", "Vale", "Glen", "Ross", "Bell",
                       "Cole", "Dunn", "Reed", "Fox"])
    one, two = (f"{stem} Partners Office {n}"[-200:] for n in (1, 2))
    assert len(one) == len(two) == 200
    assert account_key(one) != account_key(two)


def test_the_upgrade_does_not_merge_two_customers_the_key_joins(tmp_path):
    from .test_qa_migrations_walk import NOW, OLD_STATES, make_old

    db = make_old(f"sqlite:///{tmp_path / 'old.db'}", OLD_STATES["at-0021"])
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (id, name, created_at) VALUES (1, 'The Limited', :n), "
                          "(2, 'The Co', :n), (3, 'Vodafone', :n), (4, 'Vodafone UK', :n)"), {"n": NOW})
        for i in (1, 2, 3, 4):
            conn.execute(text(
                "INSERT INTO notes (id, external_id, text, account_id, source, occurred_at, meta, content_hash, "
                "norm_hash, ingested_at, updated_at) VALUES (:i, :e, 'x', :i, 'call', :n, '{}', :h, :h, :n, :n)"),
                {"i": i, "e": f"n{i}", "h": f"{i:064d}", "n": NOW})
    db.upgrade()  # a merge by the upgrade cannot be undone: only one key may join two rows
    with db.engine.connect() as conn:
        names = sorted(conn.execute(text("SELECT name FROM accounts")).scalars())
    db.dispose()
    assert names == ["The Co", "The Limited", "Vodafone", "Vodafone UK"]


# ---- merge ----------------------------------------------------------------------------------------------------
def test_a_merged_name_is_not_split_off_again_by_the_next_ingest(run_cli, tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a1", "text": "Exports time out.", "account": "AWS"},
        {"id": "a2", "text": "SSO please.", "account": "Amazon Web Services"}]) + "\n")
    assert run_cli("ingest", str(path)).exit_code == 0
    assert run_cli("accounts", "merge", "AWS", "Amazon Web Services").exit_code == 0
    later = tmp_path / "later.jsonl"  # next week's CRM export still says AWS
    later.write_text(json.dumps({"id": "a3", "text": "Audit log please.", "account": "AWS"}) + "\n")
    assert run_cli("ingest", str(later)).exit_code == 0
    names = [a["name"] for a in json.loads(run_cli("accounts", "list", "--json").output)]
    assert names == ["Amazon Web Services"]


ALIAS = "Qvbaliaszz"


def test_erasing_a_merged_account_leaves_none_of_its_names_behind(run_cli, cli_env):
    rows = [{"id": f"o{i}", "account": a, "text": t, "date": "2026-11-20"} for i, (a, t) in enumerate([
        ("Initech", "Exports to CSV time out after ten minutes on large tables."),
        ("Umbrella", "CSV export times out for big tables and we lose the whole file."),
        ("Initech", "SSO with Okta took us three days to configure."),
        ("Umbrella", "We need SCIM provisioning for Okta users.")])]
    rows += [{"id": f"g{i}", "account": "Globex", "date": "2026-11-21",
              "text": f"CSV export times out on large table {i}, we need it faster."} for i in range(2)]
    rows += [{"id": f"q{i}", "account": ALIAS, "date": "2026-11-21",
              "text": f"The CSV export times out on our big table number {i}."} for i in range(2)]
    notes = cli_env.parent / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(r) for r in rows))
    assert run_cli("ingest", str(notes), "-q").exit_code == 0
    assert run_cli("themes", "run", "--all", "--min-mentions", "2", "--since", "2026-11-01").exit_code == 0
    assert run_cli("report", "--since", "30d", "--as-of", "2026-11-28").exit_code == 0
    merged = run_cli("accounts", "merge", ALIAS, "Globex")
    assert merged.exit_code == 0, merged.output
    erased = run_cli("accounts", "erase", "Globex", "--yes", "--json")
    assert erased.exit_code == 0, erased.output
    engine = create_engine(f"sqlite:///{cli_env / 'feedback.db'}")
    with engine.connect() as conn:
        snapshots = [r for r in conn.execute(text("SELECT account_names FROM theme_snapshots")).scalars() if ALIAS in r]
        reports = [r[:80] for r in conn.execute(text("SELECT data FROM reports")).scalars() if ALIAS in r]
    engine.dispose()
    assert (snapshots, reports) == ([], [])


# ---- places that take a name but still compare it byte for byte -----------------------------------------------
def test_the_themes_page_filter_finds_an_account_by_another_spelling(app, svc):
    from service.themes.run import RunOptions, run_themes

    _ingest(svc, ("Acme Corp", "CSV export times out on large tables."),
            ("Acme Corp", "The CSV export times out for big tables."),
            ("Initech", "CSV exports time out after ten minutes."))
    run_themes(svc, RunOptions(include_all=True, min_mentions=1, min_accounts=1))
    client = app.test_client()
    exact = re.findall(r'<a href="/themes/(\d+)">', client.get("/themes?account=Acme+Corp").get_data(as_text=True))
    assert exact, "the stored spelling finds the theme"
    other = re.findall(r'<a href="/themes/(\d+)">', client.get("/themes?account=ACME+corp.").get_data(as_text=True))
    assert other == exact


def test_summarize_does_not_count_the_callers_own_account_as_another(app, svc):
    from service.themes.run import RunOptions, run_themes

    _ingest(svc, ("Acme Corp", "CSV export times out on large tables."),
            ("Acme Corp", "The CSV export times out for big tables."),
            ("Initech", "CSV exports time out after ten minutes."),
            ("Initech", "Our CSV export keeps timing out on large tables."))
    run_themes(svc, RunOptions(include_all=True, min_mentions=1, min_accounts=1))
    client = app.test_client()
    counts = {}
    for spelling in ("Acme Corp", "ACME corp."):
        out = client.post("/api/v1/themes/summarize", json={
            "text": "The CSV export times out on our large tables again.", "account": spelling, "store": False})
        assert out.status_code == 200, out.get_json()
        theme = [t for t in out.get_json()["themes"] if t["corpus_theme"]][0]
        counts[spelling] = theme["corpus_theme"]["other_accounts"]
    assert counts["ACME corp."] == counts["Acme Corp"]  # now 2 vs 1: "Acme Corp" counted as another account


def test_a_draft_asked_for_before_the_account_had_notes_is_still_listed_under_it(app, svc):
    client = app.test_client()
    drafted = client.post("/api/v1/drafts", json={"question": "Do you support SCIM?", "account": "Globex Inc"})
    assert drafted.status_code in (200, 201), drafted.get_json()
    draft_id = drafted.get_json()["draft_id"]
    _ingest(svc, ("Globex", "We need SCIM provisioning for Okta."))  # the CRM export spells it without Inc
    for spelling in ("Globex Inc", "Globex"):
        mine = client.get("/api/v1/drafts", query_string={"account": spelling}).get_json()
        assert draft_id in [d.get("draft_id", d.get("id")) for d in mine["items"]], spelling


# ---- the ingest report ----------------------------------------------------------------------------------------
def test_a_racing_ingest_reports_the_account_it_filed_a_spelling_under(svc, monkeypatch):
    import service.ingest.store as store

    real, raced = store.embed_ahead, []

    def another_ingest_meanwhile(*args, **kwargs):  # between the forecast and the lock, as a racing request
        if not raced:
            raced.append(True)
            _ingest(svc, ("Acme Corp", "Exports time out on big tables."))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "embed_ahead", another_ingest_meanwhile)
    report = _ingest(svc, ("ACME corp.", "SSO through Okta is a must."))
    assert _names(svc) == ["Acme Corp"]  # stored right
    assert report.accounts_filed == {"ACME corp.": "Acme Corp"}  # now {}: _plan files it again without the report
