"""The theme-level small-talk check: trained on the dev half of the small-talk set only, deterministic."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from service.themes import context
from service.themes.select import PROTOTYPES

SMALL_TALK = Path(__file__).resolve().parents[2] / "eval" / "datasets" / "small_talk.jsonl"


def _rows():
    return [json.loads(line) for line in SMALL_TALK.read_text().splitlines() if line.strip()]


def test_the_small_talk_set_is_big_varied_and_split():
    rows = _rows()
    texts = [r["text"] for r in rows]
    assert len(set(texts)) == len(texts) >= 100
    assert {r["split"] for r in rows} == {"dev", "test"}
    assert min(sum(r["split"] == s for r in rows) for s in ("dev", "test")) >= 50


def test_the_check_learns_from_the_dev_half_only():
    rows = _rows()
    assert list(context.CONTEXT_LINES) == [r["text"] for r in rows if r["split"] == "dev"]
    held_out = {r["text"] for r in rows if r["split"] == "test"}
    assert not held_out & (set(context.CONTEXT_LINES) | set(context.REQUEST_LINES))


class Split:  # context lines on one axis, product lines on the other: a model that can tell them apart
    name, dim = "split-test", 2

    def embed(self, texts):
        ctx = set(context.CONTEXT_LINES) | set(PROTOTYPES["other"])
        return np.array([[1.0, 0.0] if t in ctx else [0.0, 1.0] for t in texts], dtype=np.float32)


def test_a_cluster_is_context_when_most_of_it_reads_as_context(monkeypatch):
    monkeypatch.setattr(context, "_cache", {})
    vectors = np.array([[1, 0], [1, 0], [0.9, 0.1], [0, 1], [0, 1], [0.1, 0.9], [1, 0]], dtype=np.float32)
    labels = np.array([0, 0, 0, 1, 1, 1, -1])
    assert context.context_clusters(vectors, labels, Split()) == [0]
    assert context.context_clusters(vectors, np.full(7, -1), Split()) == []
    first = context.context_probability(vectors, Split())
    assert np.array_equal(first, context.context_probability(vectors, Split()))  # cached and deterministic



def test_context_probability_in_chunks_equals_one_pass(monkeypatch):
    monkeypatch.setattr(context, "_cache", {})
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(23, 2)).astype(np.float32)
    whole = context.context_probability(vectors, Split())
    monkeypatch.setattr(context, "_CHUNK", 5)  # 23 rows: four full chunks and a ragged one
    chunked = context.context_probability(vectors, Split())
    assert chunked.shape == (23,) and np.allclose(chunked, whole, rtol=0, atol=1e-12)
    assert context.context_probability(np.zeros((0, 2), dtype=np.float32), Split()).shape == (0,)

def test_pasted_context_needs_both_repetition_and_context(monkeypatch):
    monkeypatch.setattr(context, "_cache", {})
    texts = ["Pinging legal.", "pinging  legal.", "Pinging legal.", "Exports fail.", "Exports fail.", "Exports fail.",
             "Lunch is booked."]
    vectors = np.array([[1, 0]] * 3 + [[0, 1]] * 3 + [[1, 0]], dtype=np.float32)
    # the pasted context line goes; the repeated pain and the one-off context line stay for the other checks
    assert context.pasted_context(texts, vectors, Split()) == [0, 1, 2]


def test_copy_clusters_name_the_sentence_that_fills_more_than_half():
    texts = ["Renewal risk if this drags on.", "renewal risk if this drags on.", "Renewal risk if this drags on.",
             "Exports time out.", "CSV exports fail.", "Exports are slow.", "Export jobs die."]
    labels = np.array([0, 0, 0, 0, 1, 1, 1])
    assert context.copy_clusters(texts, labels) == {0: "renewal risk if this drags on."}
    assert context.copy_clusters(texts, np.array([0, 0, 0, 0, 0, 0, -1])) == {}  # 3 of 6: not more than half


def test_a_header_filled_in_with_each_account_is_one_template():
    assert context.without_account("Onsite visit at Saffron Hotels.", "Saffron Hotels") == "Onsite visit at <account>."
    assert context.without_account("onsite visit at SAFFRON HOTELS.", "Saffron Hotels") == "onsite visit at <account>."
    # only the note's own account, only whole words; no account, no change
    assert context.without_account("Saffron Hotels asked like Acme did.", "Acme") == "Saffron Hotels asked like <account> did."
    assert context.without_account("Acmeville exports fail.", "Acme") == "Acmeville exports fail."
    assert context.without_account("Exports fail.", None) == "Exports fail."
    assert context.without_account("Exports fail.", "  ") == "Exports fail."
    notes = [("Onsite visit at Saffron Hotels.", "Saffron Hotels"), ("Onsite visit at Rheintal Pharma.", "Rheintal Pharma"),
             ("Onsite visit at Acme.", "Acme"), ("Exports time out for Acme.", "Acme")]
    texts = [context.without_account(t, a) for t, a in notes]
    assert context.copy_clusters(texts, np.zeros(4, dtype=np.int64)) == {0: "onsite visit at <account>."}
    assert context.copy_clusters([t for t, _ in notes], np.zeros(4, dtype=np.int64)) == {}  # unmasked: 4 sentences


def test_a_run_whose_every_cluster_is_context_says_so_instead_of_failing(svc, monkeypatch):
    import pytest

    from service.ingest.store import ingest_notes
    from service.themes import stages
    from service.themes.run import RunOptions, ThemeRunError, run_themes

    from .test_theme_determinism import TOPICS, _notes

    ingest_notes(svc, _notes(TOPICS))
    monkeypatch.setattr(stages, "decide", lambda scores: ["pain"] * len(scores))
    monkeypatch.setattr(stages, "context_clusters", lambda vectors, labels, embedder: sorted(set(labels.tolist()) - {-1}))
    with pytest.raises(ThemeRunError, match="small talk or account context"):
        run_themes(svc, RunOptions(use_llm=False))


def test_kinds_are_stored_in_chunks_without_dirtying_the_statements(svc, monkeypatch):
    from sqlalchemy import select

    from service.ingest.store import ingest_notes
    from service.models import Statement
    from service.themes import run

    from .test_theme_determinism import TOPICS, _notes

    ingest_notes(svc, _notes(TOPICS))
    monkeypatch.setattr(run, "WRITE_CHUNK", 3)  # several UPDATEs per kind
    with svc.db.session() as s:
        statements = list(s.scalars(select(Statement).order_by(Statement.id)))
        kinds = ["pain" if i % 3 else "other" for i in range(len(statements))]
        run._set_kinds(statements, kinds)
        assert [st.kind for st in statements] == kinds and not s.dirty
        s.commit()
    with svc.db.session() as s:
        assert list(s.scalars(select(Statement.kind).order_by(Statement.id))) == kinds


class Styled:  # context lines on axis 0, product lines on axis 1; axis 2 is a corpus' own way of asking
    name, dim = "styled-test", 3

    def embed(self, texts):
        ctx = set(context.CONTEXT_LINES) | set(PROTOTYPES["other"])
        return np.array([[1.0, 0.0, 0.0] if t in ctx else [0.0, 1.0, 0.0] for t in texts], dtype=np.float32)


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def _around(centre, n, seed):  # n statements near one direction, as a corpus holds many of each kind
    rng = np.random.default_rng(seed)
    return _unit(np.asarray(centre, dtype=np.float32) + rng.normal(scale=0.03, size=(n, 3)))


def test_the_pool_model_reads_the_corpus_own_requests_as_product(monkeypatch):
    monkeypatch.setattr(context, "_cache", {})
    # statements in the corpus' own style (axis 2), leaning to the context side: the fixed model alone reads them
    # as context; fitted with them, the model reads a new one in that style as product and chatter as context
    pains = _around([0.6, 0.0, 0.8], 60, seed=0)
    unseen = _unit([[0.61, 0.01, 0.79], [1.0, 0.0, 0.05]])
    assert (context.context_probability(unseen, Styled()) > 0.5).all()
    model = context.pool_model(pains, np.arange(60), Styled())
    assert (context.probability(model, unseen) > 0.5).tolist() == [False, True]
    again = context.pool_model(pains, np.arange(60), Styled())
    assert np.array_equal(context.probability(again, unseen), context.probability(model, unseen))  # deterministic
    assert context.pool_model(pains, np.zeros(0, dtype=int), Styled()) is context._model(Styled())


def test_the_pool_sample_is_bounded_and_drawn_by_key(monkeypatch):
    monkeypatch.setattr(context, "_cache", {})
    monkeypatch.setattr(context, "POOL_SAMPLE", 4)
    rng = np.random.default_rng(1)
    vectors = _unit(rng.normal(size=(12, 3)))
    seen = []
    monkeypatch.setattr(context, "_fit", lambda x, y: seen.append(len(x) - len(context._lines(Styled())[0])) or "m")
    assert context.pool_model(vectors, np.arange(12), Styled()) == "m" and seen == [4]


def test_a_theme_of_the_corpus_requests_is_not_context_but_small_talk_still_is(monkeypatch):
    monkeypatch.setattr(context, "_cache", {})
    requests_a, requests_b = _around([0.6, 0.0, 0.8], 30, seed=1), _around([0.62, 0.05, 0.78], 30, seed=2)
    chatter = _around([1.0, 0.0, 0.02], 30, seed=3)
    vectors = np.vstack([requests_a, requests_b, chatter])
    labels = np.repeat([0, 1, 2], 30)
    # the fixed model alone reads both request themes as context
    assert (context.context_probability(vectors[:60], Styled()) > 0.5).mean() > context.CONTEXT_SHARE
    assert context.context_clusters(vectors, labels, Styled()) == [2]


def test_the_check_samples_the_same_statements_as_the_pool_model(monkeypatch):
    monkeypatch.setattr(context, "_cache", {})
    monkeypatch.setattr(context, "POOL_SAMPLE", 7)
    vectors = np.vstack([_around([0.6, 0.0, 0.8], 20, seed=5), _around([1.0, 0.0, 0.02], 12, seed=6)])
    labels = np.repeat([0, 1], [20, 12])
    context._model(Styled())  # the fixed model, fitted before counting
    fitted, fit = [], context._fit
    monkeypatch.setattr(context, "_fit", lambda x, y: fitted.append(x.copy()) or fit(x, y))
    context.context_clusters(vectors, labels, Styled())  # the fixed model flags both clusters here
    context.pool_model(vectors, np.flatnonzero(labels != 0), Styled())
    context.pool_model(vectors, np.flatnonzero(labels != 1), Styled())
    lines = len(context._lines(Styled())[0])
    assert len(fitted) == 4 and all(len(x) == lines + 7 for x in fitted)
    assert np.array_equal(fitted[0], fitted[2]) and np.array_equal(fitted[1], fitted[3])
