"""service.search: the pure ranking functions (also the bench's), and search() over a small ingested store."""
from __future__ import annotations

import numpy as np
import pytest

from service.search import (RANKING, RRF_K, SearchError, _escape_like, dense_ranking, fuse, lexical_ranking,
                            like_fragments, like_score, matched_terms, rrf, search)

NOTES = [
    {"id": "n-1", "account": "Acme Corp", "source": "call", "date": "2026-06-01",
     "text": "Their Salesforce sync creates duplicate contacts every night. Pricing is fine for now."},
    {"id": "n-2", "account": "Globex", "source": "interview", "date": "2026-07-15",
     "text": "IT requires SCIM provisioning through Okta before any rollout. The dashboard loads slowly."},
    {"id": "n-3", "account": "ACME corp.", "source": "email", "date": "2026-08-20",
     "text": "Salesforce duplicates again this week; RevOps cleans them up by hand."},
    {"id": "n-4", "account": "Initech", "source": "ticket", "date": "2026-09-10",
     "text": "Exports to CSV time out after ten minutes on big workspaces."},
]


def ingest_notes(svc, notes=NOTES):
    from service.ingest.readers import RawRow
    from service.ingest.store import ingest, validate_rows

    valid, errors = validate_rows([RawRow(n, i) for i, n in enumerate(notes, 1)], "test", 100_000)
    return ingest(svc, valid, errors, skip_invalid=False)


@pytest.fixture
def stored(svc):
    report = ingest_notes(svc)
    assert report.created == len(NOTES)
    return svc


# ---- pure ranking ---------------------------------------------------------------------------------------------
def test_rrf_uses_the_published_k_and_sums_over_rankings():
    assert RRF_K == 60
    fused = rrf([["a", "b"], ["b", "c"]])
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61) and fused["c"] == pytest.approx(1 / 62)


def test_fuse_orders_by_fused_score_and_each_ranking_alone_keeps_its_order():
    assert [k for k, _ in fuse(["a", "b", "c"], ["b"], "hybrid")] == ["b", "a", "c"]
    assert [k for k, _ in fuse(["a", "b", "c"], ["c", "b"], "dense")] == ["a", "b", "c"]
    assert [k for k, _ in fuse(["a", "b", "c"], ["c", "b"], "lexical")] == ["c", "b"]
    with pytest.raises(ValueError):
        fuse(["a"], [], "best")


def test_lexical_ranking_keeps_only_texts_with_a_query_term_best_first():
    texts = ["We love the dashboard.", "SCIM is required. SCIM or nothing.", "They asked about SCIM once."]
    ranked = lexical_ranking("SCIM support", texts)
    assert [i for i, _ in ranked] == [1, 2]
    assert ranked[0][1] > ranked[1][1] > 0
    assert lexical_ranking("the of and", texts) == []  # stop words only: nothing lexical to look for


def test_dense_ranking_is_cosine_nearest_first():
    vectors = np.array([[1, 0], [0.6, 0.8], [0, 1]], dtype=np.float32)
    ranked = dense_ranking(np.array([0, 2], dtype=np.float32), vectors, k=2)
    assert [i for i, _ in ranked] == [2, 1] and ranked[0][1] == pytest.approx(1.0)


def test_like_fragments_cover_inflections_and_like_score_counts_word_starts():
    assert like_fragments("Salesforce duplicates") == ["salesforc", "duplic"]
    assert like_fragments("the company") == ["compan"]  # "compani" is its stem: the shared part matches "company"
    assert like_fragments("UI") == ["ui"]
    assert like_score(["duplic"], "They see duplicated leads") == 2
    assert like_score(["ui"], "build it") == 1  # inside a word only
    assert matched_terms("Salesforce duplicates", "Salesforce created a duplicate.") == ["salesforce", "duplicates"]


def test_like_wildcards_in_a_fragment_are_escaped():
    assert _escape_like("50%_off\\") == "50\\%\\_off\\\\"


# ---- search() -------------------------------------------------------------------------------------------------
def test_a_result_is_the_verbatim_statement_with_its_note_and_fields(stored):
    found = search(stored, "SCIM provisioning", ranking="hybrid")
    top = found["results"][0]
    assert set(top) == {"statement_id", "note_id", "account", "date", "source", "text", "score", "similarity",
                        "matched_terms", "theme"}
    assert top["text"] == "IT requires SCIM provisioning through Okta before any rollout."
    assert (top["note_id"], top["account"], top["source"]) == ("n-2", "Globex", "interview")
    assert top["date"].startswith("2026-07-15") and top["matched_terms"] == ["scim", "provisioning"]
    assert isinstance(top["similarity"], float) and top["theme"] is None
    assert found["query"] == "SCIM provisioning" and found["ranking"] == "hybrid" and found["notices"] == []
    from service.notes import stats

    assert found["total_candidates"] == stats(stored)["statements"]  # the index's top 200 holds every statement


def test_default_ranking_is_the_benchmarks_choice(stored):
    assert search(stored, "exports")["ranking"] == RANKING == "dense"


def test_lexical_ranking_finds_only_statements_holding_the_words(stored):
    found = search(stored, "salesforce duplicates", ranking="lexical")
    assert {r["note_id"] for r in found["results"]} == {"n-1", "n-3"}
    assert all("salesforce" in r["matched_terms"] for r in found["results"])


def test_account_filter_takes_any_spelling_of_the_account(stored):
    found = search(stored, "salesforce duplicates", account="acme corporation", ranking="hybrid")
    assert found["results"] and {r["account"] for r in found["results"]} == {"Acme Corp"}
    assert {"n-1", "n-3"} <= {r["note_id"] for r in found["results"]}


def test_date_and_source_filters(stored):
    since = search(stored, "salesforce", since="2026-08-01")
    assert {r["note_id"] for r in since["results"]} == {"n-3", "n-4"}
    until = search(stored, "salesforce", until="2026-06-01")  # the whole day
    assert {r["note_id"] for r in until["results"]} == {"n-1"}
    ticket = search(stored, "salesforce", source="ticket", ranking="hybrid")
    assert {r["note_id"] for r in ticket["results"]} == {"n-4"}


def test_an_account_merged_into_another_is_found_by_either_name(stored):
    from service.accounts import merge

    merge(stored, "Globex", "Initech")
    for name in ("Globex", "initech inc"):
        found = search(stored, "SCIM provisioning", account=name, ranking="dense")
        assert {r["account"] for r in found["results"]} == {"Initech"}, name
        assert {"n-2", "n-4"} <= {r["note_id"] for r in found["results"]}, name


def test_an_unknown_account_is_an_empty_answer_with_a_hint(stored):
    found = search(stored, "salesforce", account="Globx")
    assert found["results"] == [] and found["total_candidates"] == 0
    assert "no account named 'Globx'" in found["notices"][0] and "Globex" in found["notices"][0]


def test_pages_of_results_do_not_overlap(stored):
    whole = [r["statement_id"] for r in search(stored, "salesforce", limit=4)["results"]]
    first = [r["statement_id"] for r in search(stored, "salesforce", limit=2)["results"]]
    second = [r["statement_id"] for r in search(stored, "salesforce", limit=2, offset=2)["results"]]
    assert first + second == whole and len(set(whole)) == 4
    assert search(stored, "salesforce", offset=100)["results"] == []


def test_an_empty_store_gives_an_empty_list(svc):
    for ranking in ("dense", "hybrid", "lexical"):
        found = search(svc, "SCIM", ranking=ranking)
        assert found["results"] == [] and found["total_candidates"] == 0


def test_a_vector_without_its_statement_in_sql_is_never_a_result(stored):
    from service.vectorstore import STATEMENTS

    vector = stored.embedder.embed(["SCIM provisioning through Okta"])
    stored.store.upsert(STATEMENTS, ["s999999"], vector, [{"note_id": 999999, "account": "Ghost", "source": "call",
                                                          "date": "2026-07-01", "ts": 1782864000}])
    found = search(stored, "SCIM provisioning through Okta", limit=100)
    assert 999999 not in {r["statement_id"] for r in found["results"]}
    assert "Ghost" not in {r["account"] for r in found["results"]}


def test_sql_in_the_query_is_only_text(stored):
    found = search(stored, "o'brien\"; DROP TABLE statements; -- %_", ranking="hybrid")
    assert isinstance(found["results"], list)
    assert search(stored, "SCIM", ranking="lexical")["results"]  # the table is still there


def test_the_statements_theme_in_the_latest_run_and_none_when_hidden(stored):
    from sqlalchemy import select

    from service.models import Statement, Theme, ThemeMembership, ThemeRun, ThemeSnapshot

    with stored.db.session() as session:
        sid = session.scalar(select(Statement.id).where(Statement.text.like("IT requires SCIM%")))
        run = ThemeRun(mode="full")
        session.add(run)
        session.flush()
        theme = Theme(created_run_id=run.id, last_run_id=run.id, label="SCIM provisioning")
        session.add(theme)
        session.flush()
        snap = ThemeSnapshot(run_id=run.id, theme_id=theme.id, label="SCIM provisioning", status="recurring",
                             mentions=3, accounts=2, trend="new")
        session.add_all([snap, ThemeMembership(run_id=run.id, statement_id=sid, theme_id=theme.id, similarity=0.9)])
        session.commit()
        theme_id = theme.id
    row = next(r for r in search(stored, "SCIM", ranking="hybrid")["results"] if r["statement_id"] == sid)
    assert row["theme"] == {"id": theme_id, "label": "SCIM provisioning"}
    with stored.db.session() as session:
        session.get(ThemeSnapshot, snap.id).status = "hidden"
        session.commit()
    row = next(r for r in search(stored, "SCIM", ranking="hybrid")["results"] if r["statement_id"] == sid)
    assert row["theme"] is None


@pytest.mark.parametrize("kwargs,field", [
    ({"query": ""}, "query"), ({"query": "   "}, "query"), ({"query": "x" * 501}, "query"),
    ({"query": "a\x00b"}, "query"), ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"offset": -1}, "offset"),
    ({"since": "soonish"}, "since"), ({"until": "2026-13-01"}, "until"),
    ({"since": "2026-09-01", "until": "2026-08-01"}, "since"), ({"source": "zoom"}, "source"),
    ({"ranking": "best"}, "ranking"), ({"account": "A" * 201}, "account"),
])
def test_bad_input_names_the_field(svc, kwargs, field):
    kwargs = {"query": "SCIM", **kwargs}
    with pytest.raises(SearchError) as caught:
        search(svc, kwargs.pop("query"), **kwargs)
    assert caught.value.field == field and str(caught.value).startswith(f"{field}: ")


def test_a_query_of_500_characters_is_allowed(stored):
    assert search(stored, ("SCIM " * 100).strip()[:500])["query"].startswith("SCIM")
