"""service.search: the pure ranking functions (also the bench's), and search() over a small ingested store."""
from __future__ import annotations

import numpy as np
import pytest

from service.search import (FLOOR_Z, MAX_LIKE_WORDS, MIN_FLOOR_SAMPLE, RANKING, RRF_K, SearchError, _escape_like,
                            content_words, dense_ranking, fuse, is_related, lexical_ranking, like_fragments, like_score,
                            matched_terms, relevance_floor, rrf, sample_positions, search)

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


# Enough other statements for a relevance floor (MIN_FLOOR_SAMPLE), none about SCIM, Salesforce or blockchains
TOPICS = ("onboarding", "invoices", "latency", "mobile", "calendar", "reporting", "permissions", "billing", "search",
          "webhooks", "dashboards", "exports", "imports", "templates", "notifications", "tagging", "comments",
          "archiving", "auditing", "translations", "printing", "scheduling", "forecasting", "budgets", "contracts",
          "renewals", "discounts", "quotas", "territories", "commissions", "playbooks", "sequences", "dialer",
          "voicemail", "transcripts", "coaching")
FILLER = [{"id": f"f-{n}", "account": f"Filler {n % 5}", "source": "call", "date": "2026-05-01",
           "text": f"Their {topic} work came up while we walked through the quarter."}
          for n, topic in enumerate(TOPICS)]


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


@pytest.fixture
def many(svc):
    """NOTES and FILLER: more statements than MIN_FLOOR_SAMPLE, so searches have a relevance floor."""
    assert ingest_notes(svc, NOTES + FILLER).created == len(NOTES) + len(FILLER)
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
                        "related", "matched_terms", "theme"}
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


# ---- odd input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("query", ["?!", "...", "— – -", "¿¡ ;:"])
def test_a_query_without_a_letter_or_digit_is_refused(stored, query):
    # "?!" was embedded and its 200 "nearest" statements shown as results
    with pytest.raises(SearchError) as caught:
        search(stored, query)
    assert caught.value.field == "query" and "letter or digit" in caught.value.reason


def test_a_query_in_another_script_is_searched(stored):
    for query in ("цена", "価格", "Ελλάδα 2026"):  # the embedder reads them; how well is the floor's to say
        assert search(stored, query)["query"] == query


@pytest.mark.parametrize("query,why", [("the and", "stop words"), ("цена", "letters a-z"), ("of 価格", "letters a-z")])
def test_lexical_ranking_says_when_the_query_has_no_word_to_look_for(stored, query, why):
    # "the and" answered an empty list and the CLI then said "none stored, or none pass the filters"
    lexical = search(stored, query, ranking="lexical")
    assert lexical["results"] == [] and any(why in n for n in lexical["notices"]), lexical["notices"]
    hybrid = search(stored, query, ranking="hybrid")
    assert hybrid["results"] and any("by meaning only" in n for n in hybrid["notices"]), hybrid["notices"]
    assert search(stored, query, ranking="dense")["notices"] == []  # dense never looks for words


def test_a_word_with_letters_outside_a_to_z_is_not_cut_into_fragments():
    # "Müller" was read as "m" and "ller": LIKE '%ller%' made "seller" and "controller" candidates
    assert content_words("Müller seller") == ["seller"]
    assert like_fragments("Müller") == [] and like_fragments("Ångström café export") == ["export"]
    assert matched_terms("Müller", "Herr Müller called") == []
    assert content_words("o'brien SCIM-2 order_status") == ["brien", "scim", "order", "status"]  # as before


def test_a_long_query_looks_for_its_first_words_only_and_says_so(stored):
    # every LIKE word costs a scan: 67 words took 6 s of SQL over 100,000 statements
    query = "salesforce " + " ".join(f"word{n}x" for n in range(40))
    assert len(like_fragments(query)) == MAX_LIKE_WORDS and like_fragments(query)[0] == "salesforc"
    found = search(stored, query, ranking="lexical")
    assert {r["note_id"] for r in found["results"]} == {"n-1", "n-3"}
    assert any(f"first {MAX_LIKE_WORDS} words" in n for n in found["notices"]), found["notices"]
    assert not any("first" in n for n in search(stored, "salesforce duplicates", ranking="lexical")["notices"])


def test_dense_ranking_runs_no_lexical_sql(stored):
    from sqlalchemy import event

    seen: list[str] = []
    engine = stored.db.engine

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        search(stored, "salesforce duplicates", ranking="dense")
        dense = list(seen)
        seen.clear()
        search(stored, "salesforce duplicates", ranking="hybrid")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert not any(" LIKE " in s.upper() for s in dense)
    assert any(" LIKE " in s.upper() for s in seen)  # the probe sees it where it runs


def test_an_account_filter_matching_no_statement_and_an_offset_past_the_end(stored):
    found = search(stored, "salesforce", account="Globex", since="2026-08-01")
    assert found["results"] == [] and found["total_candidates"] == 0 and found["notices"] == []
    past = search(stored, "salesforce", offset=50)
    assert past["results"] == [] and past["total_candidates"] == 6


# ---- deleted and erased notes, themes of the latest run --------------------------------------------------------
def test_deleted_and_erased_notes_never_appear(stored):
    from service.erase import erase_account
    from service.notes import delete_note_by_id

    delete_note_by_id(stored, "n-2")
    erase_account(stored, "Initech")
    for ranking in ("dense", "hybrid", "lexical"):
        for query in ("SCIM provisioning", "exports CSV time out", "dashboard"):
            found = search(stored, query, ranking=ranking, limit=100)
            assert not {r["note_id"] for r in found["results"]} & {"n-2", "n-4"}, (ranking, query)
            assert found["total_candidates"] == len(found["results"])


def _theme_run(svc, members: dict[str, list[int]], status: str = "recurring") -> dict[str, int]:
    from service.models import Theme, ThemeMembership, ThemeRun, ThemeSnapshot

    with svc.db.session() as session:
        run = ThemeRun(mode="full")
        session.add(run)
        session.flush()
        ids = {}
        for label, statement_ids in members.items():
            theme = Theme(created_run_id=run.id, last_run_id=run.id, label=label)
            session.add(theme)
            session.flush()
            session.add(ThemeSnapshot(run_id=run.id, theme_id=theme.id, label=label, status=status, mentions=3,
                                      accounts=2, trend="new"))
            session.add_all([ThemeMembership(run_id=run.id, statement_id=sid, theme_id=theme.id, similarity=0.9)
                             for sid in statement_ids])
            ids[label] = theme.id
        session.commit()
    return ids


def test_a_theme_shown_is_the_statements_theme_in_the_latest_run_only(stored):
    from sqlalchemy import select

    from service.models import Statement

    with stored.db.session() as session:
        scim = session.scalar(select(Statement.id).where(Statement.text.like("IT requires SCIM%")))
        dash = session.scalar(select(Statement.id).where(Statement.text.like("The dashboard%")))
    _theme_run(stored, {"Old SCIM label": [scim], "Slow dashboards": [dash]})
    new = _theme_run(stored, {"SCIM before rollout": [scim]})
    rows = {r["statement_id"]: r for r in search(stored, "SCIM dashboard", ranking="hybrid")["results"]}
    assert rows[scim]["theme"] == {"id": new["SCIM before rollout"], "label": "SCIM before rollout"}
    assert rows[dash]["theme"] is None  # in a theme of an older run only


# ---- the relevance floor ----------------------------------------------------------------------------------------
def test_sample_positions_are_evenly_spread_and_all_of_a_small_store():
    assert list(sample_positions(5, 10)) == [0, 1, 2, 3, 4]
    assert list(sample_positions(100, 5)) == [0, 25, 50, 74, 99]
    assert len(sample_positions(10_000)) == 1000 and len(sample_positions(0)) == 0


def test_relevance_floor_is_a_modified_z_score_over_the_sample():
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(200, 8)).astype(np.float32)
    query = rng.normal(size=8).astype(np.float32)
    sims = (sample / np.linalg.norm(sample, axis=1, keepdims=True)) @ (query / np.linalg.norm(query))
    median = np.median(sims)
    expected = median + FLOOR_Z * np.median(np.abs(sims - median)) / 0.6745
    assert relevance_floor(query, sample) == pytest.approx(expected, abs=1e-5)
    assert relevance_floor(query, sample[:MIN_FLOOR_SAMPLE - 1]) is None  # too few statements to say what is typical


def test_relevance_floor_without_spread():
    query = np.array([1, 0], dtype=np.float32)
    same = np.tile(np.array([0, 1], dtype=np.float32), (40, 1))  # every statement as close as the others
    assert relevance_floor(query, same) == pytest.approx(0.0)
    assert is_related(0.0, 0.0) is False  # as close as everything else is not related
    # the MAD is 0 when most cosines are equal: the mean absolute deviation stands in (0.7979: normal's ratio)
    mostly = np.vstack([same[:38], [[1, 0], [0.6, 0.8]]]).astype(np.float32)
    mean_ad = (1.0 + 0.6) / 40
    assert relevance_floor(query, mostly) == pytest.approx(FLOOR_Z * mean_ad / 0.7979)
    assert is_related(None, 0.1) is None and is_related(0.5, None) is None and is_related(0.5, 0.1) is True


def test_results_below_the_floor_are_marked_weakly_related(many):
    found = search(many, "SCIM provisioning", limit=100)
    assert isinstance(found["floor"], float)
    related = [r for r in found["results"] if r["related"]]
    assert [r["note_id"] for r in related] == ["n-2"] and found["total_related"] == 1
    assert all(r["related"] is False and r["similarity"] <= found["floor"] for r in found["results"][1:])
    assert found["total_candidates"] == len(found["results"])  # nothing hidden: weakly related are still listed


def test_a_query_nothing_is_about_has_no_related_statement(many):
    found = search(many, "blockchain", limit=100)
    assert found["total_related"] == 0 and found["results"]
    assert {r["related"] for r in found["results"]} == {False}


def test_the_floor_is_the_whole_stores_whatever_the_filters(many):
    whole = search(many, "salesforce duplicates", limit=100)
    acme = search(many, "salesforce duplicates", account="Acme Corp", limit=100)
    assert acme["floor"] == whole["floor"] and acme["total_related"] == 1
    assert ({r["statement_id"]: r["related"] for r in acme["results"]}
            == {r["statement_id"]: r["related"] for r in whole["results"] if r["account"] == "Acme Corp"})
    assert [r["note_id"] for r in acme["results"] if r["related"]] == ["n-3"]


def test_no_floor_for_a_small_store(stored):
    found = search(stored, "SCIM")
    assert found["floor"] is None and found["total_related"] is None  # 6 statements: too few to tell what is typical
    assert {r["related"] for r in found["results"]} == {None}


def test_no_floor_for_lexical_ranking(many):
    lexical = search(many, "SCIM", ranking="lexical")
    assert lexical["floor"] is None and {r["related"] for r in lexical["results"]} == {None}
    hybrid = search(many, "SCIM", ranking="hybrid")
    assert hybrid["floor"] is not None and hybrid["total_related"] == 1


def test_the_floors_sample_follows_the_store(many):
    from service.notes import delete_note_by_id

    before = search(many, "SCIM provisioning")
    delete_note_by_id(many, "n-2")
    after = search(many, "SCIM provisioning")
    assert after["total_related"] == 0 and after["floor"] != before["floor"]
    ingest_notes(many, [dict(NOTES[1], id="n-2b")])
    assert search(many, "SCIM provisioning")["total_related"] == 1
