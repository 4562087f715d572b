"""The roadmap walked as a PM and a sales rep use it: "not the right item" rejections (page, API, CLI), the matcher
refitted after each, the audit log, and scores whose reasons show the numbers they were computed from."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from service.auth.audit import entries
from service.models import RoadmapRejection
from service.roadmap import decision, scoring, service
from service.roadmap.rejections import reject, rejected_texts, unreject

from ..integration.test_postgres import pg_url  # noqa: F401  (a fresh PostgreSQL database, or a skip)
from .test_confirm_item import ITEMS, _draft


def _cited(svc, question: str) -> list[str]:
    return [r.item_id for r in decision.decide(svc, [{"id": "q", "text": question}])[0].cited]


def _state(svc) -> tuple:
    with svc.db.session() as session:
        return service.state_key(session)


# ---- rejections ----------------------------------------------------------------------------------------------------
def test_a_rejection_taken_back_and_another_made_refits_the_matcher(svc):
    # SQLite gives the highest id out again: rejections counted by number and highest id looked unchanged, and the
    # matcher kept declining the item whose rejection was taken back, and citing the one just rejected
    service.import_items(svc, ITEMS)
    exp_q, sso_q, lin_q = "Background CSV exports of large tables?", "Okta login for everyone?", "Column lineage?"
    drafts = {q: _draft(svc, q) for q in (exp_q, sso_q, lin_q)}
    assert [drafts[q]["cited_item_ids"] for q in (exp_q, sso_q, lin_q)] == [["EXP"], ["SSO"], ["LIN"]]
    reject(svc, "EXP", draft_id=drafts[exp_q]["draft_id"])
    reject(svc, "SSO", draft_id=drafts[sso_q]["draft_id"])
    with svc.db.session() as session:
        second_id = session.scalar(select(func.max(RoadmapRejection.id)))
    assert "SSO" not in _cited(svc, sso_q)  # the matcher is fitted and cached with both rejections
    before = _state(svc)
    assert unreject(svc, "SSO", draft_id=drafts[sso_q]["draft_id"])
    reject(svc, "LIN", draft_id=drafts[lin_q]["draft_id"])
    with svc.db.session() as session:
        assert rejected_texts(session) == {"EXP": [exp_q], "LIN": [lin_q]}
    with svc.db.session() as session:  # as many rejections, the highest id the same: only the key's turns moved
        ids = session.scalars(select(RoadmapRejection.id).order_by(RoadmapRejection.id)).all()
    assert len(ids) == 2 and ids[-1] == second_id
    assert _state(svc) != before
    assert _cited(svc, sso_q) == ["SSO"]  # taken back: cited again
    assert "LIN" not in _cited(svc, lin_q)  # just rejected: declined


def test_the_api_rejects_only_an_item_the_draft_cites_or_was_linked_to(app, svc):
    # the page offers No only for the items a draft cites; the API let a rep decline any item for any question
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    assert d["cited_item_ids"] == ["SSO"]
    client = app.test_client(role="sales")
    refused = client.post("/api/v1/roadmap/items/LIN/rejections", json={"draft_id": d["draft_id"]})
    assert refused.status_code == 422 and refused.get_json()["error"]["details"]["field"] == "draft_id"
    assert "does not cite LIN" in refused.get_json()["error"]["message"]
    with svc.db.session() as session:
        assert rejected_texts(session) == {}
    assert entries(svc.db, action="roadmap_reject") == []
    service.link(svc, "LIN", draft_id=d["draft_id"], created_by="pm")  # a PM's link: No may take it back
    taken = client.post("/api/v1/roadmap/items/LIN/rejections", json={"draft_id": d["draft_id"]})
    assert taken.status_code == 201 and taken.get_json()["unlinked"] is True
    assert client.post("/api/v1/roadmap/items/SSO/rejections", json={"draft_id": d["draft_id"]}).status_code == 201


def test_yes_after_no_logs_the_rejection_it_takes_back(app, svc, run_cli):
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Background CSV exports of large tables?")
    client = app.test_client(role="sales")
    url = f"/ask/{d['draft_id']}/confirm"
    for answer in ("yes", "no", "yes"):
        assert client.post(url, data={"item_id": "EXP", "answer": answer}).status_code == 303
    actions = [e["action"] for e in reversed(entries(svc.db))]
    assert actions == ["roadmap_link", "roadmap_unlink", "roadmap_reject", "roadmap_unreject", "roadmap_link"]
    with svc.db.session() as session:
        assert rejected_texts(session) == {}

    # the API's link over a rejection says so in its audit entry (and in its answer)
    reject(svc, "EXP", draft_id=d["draft_id"])
    pm = app.test_client(role="pm")
    linked = pm.post("/api/v1/roadmap/items/EXP/links", json={"draft_id": d["draft_id"]})
    assert linked.status_code == 201 and linked.get_json()["unrejected"] is True
    assert entries(svc.db, action="roadmap_link")[0]["details"]["unrejected"] is True
    again = pm.post("/api/v1/roadmap/items/EXP/links", json={"draft_id": d["draft_id"]})
    assert again.get_json()["unrejected"] is False and "unrejected" not in entries(svc.db)[0]["details"]


def test_the_cli_link_over_a_rejection_logs_it(run_cli, cli_env):
    from service import create_app
    from service.config import Config

    def in_cli_home(do):
        app = create_app(Config())  # the CLI's home (cli_env), as another process would open it
        try:
            return do(app.extensions["feedback"])
        finally:
            app.extensions["feedback"].close()

    def rejected_draft(svc) -> int:
        service.import_items(svc, ITEMS)
        draft_id = _draft(svc, "Background CSV exports of large tables?")["draft_id"]
        assert reject(svc, "EXP", draft_id=draft_id)["created"] == 1
        return draft_id

    draft_id = in_cli_home(rejected_draft)
    done = run_cli("roadmap", "link", "EXP", "--draft", str(draft_id), "--json")
    assert done.exit_code == 0 and '"unrejected": true' in done.output
    (entry,) = in_cli_home(lambda svc: entries(svc.db, action="roadmap_link"))
    assert entry["details"]["unrejected"] is True


def test_two_no_clicks_at_once_rate_the_draft_once(app, svc):
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    clients = [app.test_client(role="sales") for _ in range(4)]
    codes = []

    def click(client):
        codes.append(client.post(f"/ask/{d['draft_id']}/confirm",
                                 data={"item_id": "SSO", "answer": "no"}).status_code)

    threads = [threading.Thread(target=click, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [303] * 4
    found = app.test_client().get(f"/api/v1/drafts/{d['draft_id']}").get_json()
    assert [f["comment"] for f in found["feedback"]] == ["not the right item: SSO"]
    assert len(entries(svc.db, action="roadmap_reject")) == 1


# ---- scores: the reason shows the numbers the score was computed from -------------------------------------------
SCORED = [
    {"id": "S-1", "title": "Small confidence", "status": "planned", "reach": 10, "impact": 1, "confidence": 0.005,
     "effort": 1},
    {"id": "S-2", "title": "Tiny", "status": "planned", "reach": 1, "impact": 0.25, "confidence": 0.1, "effort": 12},
    {"id": "S-3", "title": "Given huge", "status": "in_progress", "score": 1e300},
]


def test_small_scores_and_inputs_are_shown_as_computed():
    # two decimals showed confidence 0.005 as 0.01 (10 x 1 x 0.01 / 1 is not the 0.05 shown) and 0.0021 as 0
    by_id = {r["item_id"]: r for r in scoring.score_items(SCORED)}
    assert by_id["S-1"]["reason"].startswith("scores 0.05 (reach 10 x impact 1 x confidence 0.005 / effort 1 month)")
    assert by_id["S-2"]["reason"].startswith("scores 0.0021 (reach 1 x impact 0.25 x confidence 0.1 / effort 12 months)")
    assert scoring.fmt(0.5) == "0.5" and scoring.fmt(0.125) == "0.125" and scoring.fmt(1.3333) == "1.33"


def test_the_roadmap_page_shows_the_score_its_reason_gives(app, svc):
    service.import_items(svc, SCORED)
    page = app.test_client(role="viewer").get("/roadmap").get_data(as_text=True)
    assert "<strong>1e+300</strong>" in page and "1,000,000,000" not in page  # not 300 digits
    assert "<strong>0.0021</strong>" in page and "0.00<" not in page
    assert "scores 0.0021 (" in page


@pytest.mark.postgres
def test_on_postgresql_racing_rejections_store_one_and_the_key_moves(make_app, pg_url):
    app = make_app(DATABASE_URL=pg_url)
    svc = app.extensions["feedback"]
    service.import_items(svc, ITEMS)
    d = _draft(svc, "Okta login for everyone?")
    before = _state(svc)
    codes = []

    def post(client):
        codes.append(client.post("/api/v1/roadmap/items/SSO/rejections", json={"draft_id": d["draft_id"]}).status_code)

    threads = [threading.Thread(target=post, args=(app.test_client(role="sales"),)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 200, 200, 201]
    assert len(entries(svc.db, action="roadmap_reject")) == 1
    assert _state(svc) != before and "SSO" not in _cited(svc, "Okta login for everyone?")


def test_roadmap_show_says_an_archived_item_is_archived_on_its_first_line(run_cli, cli_env, tmp_path):
    import json as _json

    first = tmp_path / "first.json"
    first.write_text(_json.dumps([{"id": "A", "title": "Alpha", "status": "planned"},
                                  {"id": "B", "title": "Beta", "status": "planned"}]))
    later = tmp_path / "later.json"
    later.write_text(_json.dumps([{"id": "A", "title": "Alpha", "status": "planned"}]))
    assert run_cli("roadmap", "import", str(first)).exit_code == 0
    assert run_cli("roadmap", "import", str(later), "--sync").exit_code == 0
    shown = run_cli("roadmap", "show", "B").stdout.splitlines()[0]
    assert shown.endswith("(archived: no longer on the roadmap)")  # only the score line said so
    assert "archived" not in run_cli("roadmap", "show", "A").stdout.splitlines()[0]


def test_a_link_made_by_mistake_can_be_taken_back_by_api_and_cli(app, run_cli, cli_env, make_app):
    # there was no way to: a PM who linked the wrong note or theme kept it as evidence for good
    import json as _json

    from service.auth.audit import entries
    from service.ingest.store import ingest_notes
    from service.ingest.validate import NoteInput
    from service.roadmap import service as roadmap

    svc = app.extensions["feedback"]
    roadmap.import_items(svc, [{"id": "EXP", "title": "Background exports", "status": "planned"}])
    ingest_notes(svc, [NoteInput(text="SSO breaks on Okta every morning.", external_id="n-1", account="Acme")])
    roadmap.link(svc, "EXP", note_id="n-1")
    client = app.test_client()
    url = "/api/v1/roadmap/items/EXP/links"
    assert client.delete(url, json={"note_id": "n-1"}).status_code == 200
    assert roadmap.item_detail(svc, "EXP")["links"] == []
    assert client.delete(url, json={"note_id": "n-1"}).status_code == 404  # no such link any more
    assert client.delete(url, json={"note_id": "nope"}).status_code == 404
    assert client.delete(url, json={"note_id": "n-1", "theme_id": 1}).status_code == 422
    assert client.delete("/api/v1/roadmap/items/NOPE/links", json={"note_id": "n-1"}).status_code == 404
    assert [e["action"] for e in entries(svc.db, action="roadmap_unlink")] == ["roadmap_unlink"]

    cli_app = make_app(DATABASE_URL=f"sqlite:///{cli_env / 'feedback.db'}")
    cli_svc = cli_app.extensions["feedback"]
    roadmap.import_items(cli_svc, [{"id": "EXP", "title": "Background exports", "status": "planned"}])
    ingest_notes(cli_svc, [NoteInput(text="SSO breaks on Okta every morning.", external_id="n-1", account="Acme")])
    assert run_cli("roadmap", "link", "EXP", "--note", "n-1").exit_code == 0
    undone = run_cli("roadmap", "link", "EXP", "--note", "n-1", "--undo", "--json")
    assert undone.exit_code == 0 and _json.loads(undone.stdout)["deleted"] is True
    again = run_cli("roadmap", "link", "EXP", "--note", "n-1", "--undo")
    assert again.exit_code == 1 and "has no such link" in again.output
