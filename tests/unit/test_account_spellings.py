"""One customer, one account: "Acme Corp", "ACME corp." and "Acme Corporation" are the same account everywhere a
name is written (ingest, filters, briefs, "told" marks, drafts), and an old database's spellings are merged by the
migration (service/accounts.py, migration 0026)."""
from __future__ import annotations

import json

from alembic import command
from sqlalchemy import inspect, select, text

from service.accounts import account_key, canonical
from service.db import Database
from service.ingest.store import ingest
from service.ingest.validate import NoteInput
from service.models import Account, Note
from service.notes import list_notes

from .test_followups import seeded  # noqa: F401  (RM-104 shipped, Velo Commerce asked for it)
from .test_qa_migrations_walk import NOW, OLD_STATES, make_old


def test_spellings_of_one_company_share_a_key_and_other_companies_do_not():
    same = ["Acme Corp", "ACME corp.", "Acme Corporation", "Acme, Inc.", "  acme   inc ", "Acmé Corp"]
    assert {account_key(n) for n in same} == {"acme"}
    assert account_key("Nordlicht Energie GmbH") == account_key("nordlicht energie") == "nordlicht energie"
    assert account_key("Harbor & Pine Outfitters") == account_key("Harbor and Pine Outfitters")
    different = ["Acme", "Acme Logistics", "Acme Freight", "Harbor & Pine", "Pine Harbor"]
    assert len({account_key(n) for n in different}) == len(different)
    assert account_key("Inc") == "inc" and account_key("???") == "???"  # never an empty key


def test_ingest_files_every_spelling_under_the_first_and_says_so(svc):
    first = ingest(svc, [NoteInput(text="Exports time out on big reports.", account="Acme Corp")], [],
                   skip_invalid=False)
    assert first.accounts_filed == {}
    later = ingest(svc, [NoteInput(text="SSO through Okta is a must.", account="ACME corp."),
                         NoteInput(text="Audit log for admins, please.", account="Acme Corporation"),
                         NoteInput(text="Slack alerts would help.", account="Bluefin Ltd"),
                         NoteInput(text="Bluefin wants Teams alerts.", account="BLUEFIN")], [], skip_invalid=False)
    assert later.created == 4
    assert later.accounts_filed == {"ACME corp.": "Acme Corp", "Acme Corporation": "Acme Corp",
                                    "BLUEFIN": "Bluefin Ltd"}
    assert later.as_dict()["accounts_filed"][0] == {"written": "ACME corp.", "account": "Acme Corp"}
    with svc.db.session() as session:
        assert sorted(session.scalars(select(Account.name))) == ["Acme Corp", "Bluefin Ltd"]
        acme = session.scalar(select(Account).where(Account.name == "Acme Corp"))
        assert len(session.scalars(select(Note).where(Note.account_id == acme.id)).all()) == 3
        assert canonical(session, "acme inc") == "Acme Corp" and canonical(session, "Other Co") == "Other Co"
        notes, total = list_notes(session, account="ACME CORPORATION")
        assert total == 3


def test_the_same_text_under_two_spellings_is_one_note(svc):
    report = ingest(svc, [NoteInput(text="Exports time out.", account="Acme Corp"),
                          NoteInput(text="exports time out", account="acme corporation")], [], skip_invalid=False)
    assert (report.created, report.unchanged) == (1, 1)


def test_the_cli_names_the_account_a_spelling_was_filed_under(run_cli, tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a1", "text": "Exports time out.", "account": "Acme Corp"},
        {"id": "a2", "text": "SSO please.", "account": "ACME corp."}]) + "\n")
    result = run_cli("ingest", str(path))
    assert result.exit_code == 0, result.output
    assert "account 'ACME corp.' filed under 'Acme Corp'" in result.output
    listed = run_cli("notes", "list", "--account", "acme inc", "--json")
    assert listed.exit_code == 0, listed.output
    assert sorted(n["id"] for n in json.loads(listed.output)["items"]) == ["a1", "a2"]


def test_the_api_reports_the_filed_spelling(client):
    from ..conftest import api_token

    headers = {"Authorization": f"Bearer {api_token(client.application)}"}
    assert client.post("/api/v1/notes", json={"text": "Exports time out.", "account": "Acme Corp"},
                       headers=headers).status_code == 201
    response = client.post("/api/v1/notes", json={"text": "SSO please.", "account": "acme corp"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["accounts_filed"] == [{"written": "acme corp", "account": "Acme Corp"}]


def test_an_old_database_merges_spellings_into_the_oldest_account(tmp_path):
    assert merge_walk(f"sqlite:///{tmp_path / 'old.db'}") == [(2, "Acme Corp"), (7, "Beta")]


def merge_walk(url: str) -> list[tuple]:
    """An install of 0021's time holding three spellings of one account, upgraded, then taken one step down (also
    run on PostgreSQL: tests/integration/test_qa_migrations_pg.py)."""
    db = make_old(url, OLD_STATES["at-0021"])
    with db.engine.begin() as conn:
        def x(sql, **kw):
            conn.execute(text(sql), {"n": NOW, **kw})

        x("INSERT INTO accounts (id, name, created_at) VALUES (2, 'Acme Corp', :n), (5, 'ACME corp.', :n), "
          "(7, 'Beta', :n), (9, 'Acme Corporation', :n)")
        for i, account in ((1, 2), (2, 5), (3, 9), (4, 7)):
            x("INSERT INTO notes (id, external_id, text, account_id, source, occurred_at, meta, content_hash, "
              "norm_hash, ingested_at, updated_at) VALUES (:i, :e, 'x', :a, 'call', :n, '{}', :h, :h, :n, :n)",
              i=i, e=f"n{i}", a=account, h=f"{i:064d}")
        for i, account in ((1, "ACME corp."), (2, "Beta"), (3, None)):
            x("INSERT INTO drafts (id, created_at, question, account, audience, verdict, item_ids, evidence, text, "
              "mode, warnings, checks, extra) VALUES (:i, :n, 'q', :a, 'sales', 'planned', '[]', '[]', 't', "
              "'grounded-template', '[]', '{}', '{}')", i=i, a=account)
        # the kept spelling holds a mark already; the merged one holds it too (redundant) and one of its own
        for i, (item, account) in enumerate((("EXP", "Acme Corp"), ("EXP", "ACME corp."), ("SSO", "Acme Corporation")),
                                            start=1):
            x("INSERT INTO followup_told (id, item_id, account, status, told_at) VALUES (:i, :t, :a, 'shipped', :n)",
              i=i, t=item, a=account)
    db.upgrade()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT id, name, key FROM accounts ORDER BY id")).all() == [
            (2, "Acme Corp", "acme"), (7, "Beta", "beta")]
        assert conn.execute(text("SELECT id, account_id FROM notes ORDER BY id")).all() == [(1, 2), (2, 2), (3, 2),
                                                                                            (4, 7)]
        assert conn.execute(text("SELECT id, account FROM drafts ORDER BY id")).all() == [
            (1, "Acme Corp"), (2, "Beta"), (3, None)]
        assert sorted(conn.execute(text("SELECT item_id, account FROM followup_told")).all()) == [
            ("EXP", "Acme Corp"), ("SSO", "Acme Corp")]
        if db.engine.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    command.downgrade(db.alembic_config(), "0027_account_aliases@-2")  # the accounts branch only: no key, rows kept
    with db.engine.connect() as conn:
        assert "key" not in {c["name"] for c in inspect(db.engine).get_columns("accounts")}
        assert {"drafts", "followup_told", "users"} <= set(inspect(db.engine).get_table_names())  # other branches stay
        assert conn.execute(text("SELECT id, name FROM accounts ORDER BY id")).all() == [(2, "Acme Corp"), (7, "Beta")]
        assert conn.scalar(text("SELECT count(*) FROM notes WHERE account_id = 2")) == 3
        kept = [tuple(r) for r in conn.execute(text("SELECT id, name FROM accounts ORDER BY id"))]
    db.dispose()
    return kept


def test_a_new_database_keys_accounts_made_without_the_ingest(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    db.upgrade()
    with db.session() as session:
        session.add(Account(name="Velo Commerce Inc."))
        session.commit()
        assert session.scalar(select(Account.key)) == "velo commerce"
    db.dispose()


def test_a_mark_a_brief_and_a_draft_find_the_stored_account_by_another_spelling(seeded):  # noqa: F811
    told = seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "VELO COMMERCE inc."})
    assert told.status_code in (200, 201), told.get_json()
    assert told.get_json()["account"] == "Velo Commerce"
    listed = seeded.get("/api/v1/roadmap/items/RM-104/followups?drafts=false").get_json()
    assert "Velo Commerce" not in [a["account"] for a in listed["accounts"]]
    assert [t["account"] for t in listed["told"]] == ["Velo Commerce"]
    brief = seeded.get("/api/v1/accounts/brief", query_string={"account": "velo commerce"})
    assert brief.status_code == 200, brief.get_json()
    assert brief.get_json()["account"] == "Velo Commerce" and brief.get_json()["notes"] >= 1
    drafted = seeded.post("/api/v1/drafts", json={"question": "Do you support SCIM?", "account": "Velo Commerce, Inc."})
    assert drafted.status_code in (200, 201), drafted.get_json()
    assert drafted.get_json()["account"] == "Velo Commerce"
    mine = seeded.get("/api/v1/drafts", query_string={"account": "velo commerce"}).get_json()
    assert drafted.get_json()["draft_id"] in [d.get("draft_id", d.get("id")) for d in mine["items"]]
    undone = seeded.delete("/api/v1/roadmap/items/RM-104/followups/told", json={"account": "velo commerce"})
    assert undone.status_code == 200 and undone.get_json()["account"] == "Velo Commerce"


def test_an_erasure_wants_the_exact_name_and_suggests_the_stored_one(run_cli, tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text(json.dumps({"id": "a1", "text": "Exports time out.", "account": "Acme Corp"}) + "\n")
    assert run_cli("ingest", str(path)).exit_code == 0
    for extra in ((), ("--background",)):
        near = run_cli("accounts", "erase", "acme corporation", "--yes", *extra)
        assert near.exit_code == 1 and "no account named 'acme corporation'; did you mean 'Acme Corp'?" in near.output
    far = run_cli("accounts", "erase", "Nobody at all", "--yes")
    assert far.exit_code == 1 and "did you mean" not in far.output
    assert json.loads(run_cli("notes", "list", "--json").output)["total"] == 1  # nothing was erased


def test_merging_two_accounts_moves_notes_marks_and_the_index_copy(app, svc, seeded):  # noqa: F811
    from service.vectorstore import STATEMENTS

    listed = seeded.get("/api/v1/roadmap/items/RM-104/followups?drafts=false").get_json()["accounts"]
    (a, a_notes), (b, b_notes) = [(r["account"], set(r["note_ids"])) for r in listed[:2]]
    assert seeded.post("/api/v1/roadmap/items/RM-104/followups/told", json={"account": a}).status_code == 201
    assert app.test_client(role="sales").post("/api/v1/accounts/merge",
                                              json={"from": a, "into": b}).status_code == 403
    merged = app.test_client(role="pm").post("/api/v1/accounts/merge", json={"from": a.upper(), "into": b})
    assert merged.status_code == 200, merged.get_json()
    body = merged.get_json()
    assert (body["merged"], body["into"], body["told_marks"]) == (a, b, 1) and body["notes"] >= len(a_notes)
    after = seeded.get("/api/v1/roadmap/items/RM-104/followups?drafts=false").get_json()
    assert [t["account"] for t in after["told"]] == [b]  # the mark moved with the notes
    assert a not in [r["account"] for r in after["accounts"]] + [t["account"] for t in after["told"]]
    by_old_name = seeded.get("/api/v1/accounts/brief", query_string={"account": a})  # the merged name is an alias
    assert by_old_name.status_code == 200 and by_old_name.get_json()["account"] == b
    brief = seeded.get("/api/v1/accounts/brief", query_string={"account": b}).get_json()
    quoted = {q["note_id"] for p in brief["pains"] for q in p["quotes"]}
    assert quoted & a_notes and quoted & b_notes
    with svc.db.session() as session:
        moved = session.execute(text("SELECT s.id FROM statements s JOIN notes n ON n.id = s.note_id "
                                     "JOIN accounts c ON c.id = n.account_id WHERE c.name = :b"), {"b": b}).scalars().all()
    _, _, metas = svc.store.get(STATEMENTS, [f"s{i}" for i in moved])
    assert metas and {m["account"] for m in metas} == {b}
    log = seeded.get("/api/v1/audit?action=account_merge").get_json()["entries"]
    assert len(log) == 1 and a not in json.dumps(log) and b not in json.dumps(log)


def test_a_merge_with_bad_names_changes_nothing(app, seeded, run_cli):  # noqa: F811
    pm = app.test_client(role="pm")
    before = seeded.get("/api/v1/stats").get_json()
    same = pm.post("/api/v1/accounts/merge", json={"from": "Velo Commerce", "into": "VELO COMMERCE inc"})
    assert same.status_code == 422 and "same account" in same.get_json()["error"]["message"]
    nobody = pm.post("/api/v1/accounts/merge", json={"from": "Nobody Ltd", "into": "Velo Commerce"})
    assert nobody.status_code == 404 and "from: no account named 'Nobody Ltd'" in nobody.get_json()["error"]["message"]
    assert pm.post("/api/v1/accounts/merge", json={"from": "Velo Commerce"}).status_code == 422
    assert pm.post("/api/v1/accounts/merge", json={"from": " ", "into": "Velo Commerce"}).status_code == 422
    assert seeded.get("/api/v1/stats").get_json() == before


def test_the_cli_merges_two_names_of_one_customer(run_cli, tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a1", "text": "Exports time out.", "account": "AWS"},
        {"id": "a2", "text": "SSO please.", "account": "Amazon Web Services"}]) + "\n")
    assert run_cli("ingest", str(path)).exit_code == 0
    done = run_cli("accounts", "merge", "aws", "Amazon Web Services")
    assert done.exit_code == 0, done.output
    assert "merged 'AWS' into 'Amazon Web Services': 1 note(s), 0 draft(s), 0 told mark(s) moved" in done.output
    assert [a["name"] for a in json.loads(run_cli("accounts", "list", "--json").output)] == ["Amazon Web Services"]
    again = run_cli("accounts", "merge", "AWS", "Amazon Web Services")  # "AWS" is now an alias of the kept one
    assert again.exit_code == 2 and "same account ('Amazon Web Services')" in again.output
    later = run_cli("ingest", "-", input=json.dumps({"text": "Billing is confusing.", "account": "AWS"}) + "\n")
    assert "account 'AWS' filed under 'Amazon Web Services'" in later.output
    assert [a["name"] for a in json.loads(run_cli("accounts", "list", "--json").output)] == ["Amazon Web Services"]
    itself = run_cli("accounts", "merge", "Amazon Web Services", "amazon web services")
    assert itself.exit_code == 2 and "same account" in itself.output
    assert run_cli("accounts", "merge", "", "Amazon Web Services").exit_code == 2
    log = json.loads(run_cli("audit", "--action", "account_merge", "--json").output)["entries"]
    assert len(log) == 1 and "AWS" not in json.dumps(log) and "Amazon" not in json.dumps(log)


def test_a_mistyped_name_is_answered_with_the_account_it_probably_means(seeded, run_cli):  # noqa: F811
    typo = seeded.get("/api/v1/accounts/brief", query_string={"account": "Velo Comerce"})
    assert typo.status_code == 404
    assert typo.get_json()["error"]["message"] == "no account named 'Velo Comerce'; did you mean 'Velo Commerce'?"
    far = seeded.get("/api/v1/accounts/brief", query_string={"account": "Nobody at all"}).get_json()
    assert "did you mean" not in far["error"]["message"]
    wrong = seeded.post("/api/v1/accounts/merge", json={"from": "Velo Comerce", "into": "Acme Logistics"})
    assert wrong.status_code == 404 and "did you mean 'Velo Commerce'?" in wrong.get_json()["error"]["message"]


def test_an_account_row_without_a_key_is_still_found_by_its_exact_name(svc):
    ingest(svc, [NoteInput(text="Exports time out.", account="Acme Corp")], [], skip_invalid=False)
    with svc.db.session() as session:
        session.execute(text("UPDATE accounts SET key = NULL"))  # as a row written by SQL, not the ORM, would be
        session.commit()
        assert canonical(session, "Acme Corp") == "Acme Corp"
        assert list_notes(session, account="Acme Corp")[1] == 1
