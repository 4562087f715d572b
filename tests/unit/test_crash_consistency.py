"""Crash consistency: kill -9 an ingest at random points (a real subprocess), ingest again: 0 orphan vectors and
0 wrong vectors (each vector's id, text and account match SQL). A killed reindex leaves the old index in place."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
KILLS = 10


def _env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEEDBACK_", "OPENAI_"))}
    env.update(FEEDBACK_HOME=str(home), FEEDBACK_EMBEDDING_MODEL="hashing")
    return env


def _notes(path: Path, n: int, account: str, seed: int) -> None:
    rng = random.Random(seed)
    words = "export csv slow timeout sso okta scim billing invoice dashboard chart alert webhook".split()
    path.write_text("\n".join(json.dumps({"account": f"{account} {i % 7}", "text": " ".join(
        rng.choice(words) for _ in range(12)) + f". Case {seed}-{i}. " + " ".join(rng.choice(words) for _ in range(9))
        + "."}) for i in range(n)))


def _check(home: Path) -> tuple[int, int]:
    """(orphan vectors, wrong vectors) of the store under home, against SQL."""
    from service import create_app
    from service.config import TestConfig
    from service.embedding import get_embedder
    from service.models import Account, Note, Statement
    from service.vectorstore import STATEMENTS
    from sqlalchemy import select

    app = create_app(TestConfig(home, DATABASE_URL=f"sqlite:///{home / 'feedback.db'}",
                                CHROMA_PATH=str(home / "chroma")))
    svc = app.extensions["feedback"]
    try:
        with svc.db.session() as session:
            rows = {f"s{st.id}": (st.text, name or "") for st, name in session.execute(
                select(Statement, Account.name).join(Note, Statement.note_id == Note.id)
                .outerjoin(Account, Note.account_id == Account.id))}
        ids, vectors, metas = svc.store.get(STATEMENTS)
        orphans = sum(1 for i in ids if i not in rows)
        known = [(i, v, m) for i, v, m in zip(ids, vectors, metas) if i in rows]
        expected = get_embedder("hashing").embed([rows[i][0] for i, _, _ in known]) if known else np.zeros((0, 1))
        wrong = sum(1 for (i, v, m), e in zip(known, expected)
                    if float(np.dot(v, e)) < 0.999 or m.get("account") != rows[i][1])
        missing = len(rows) - len(known)
        return orphans, wrong + missing
    finally:
        svc.store.close()
        svc.close()


@pytest.mark.slow
def test_kill_9_during_ingest_leaves_no_orphan_or_wrong_vector(tmp_path):
    home = tmp_path / "home"
    env = _env(home)
    feedback = [str(Path(sys.executable).parent / "feedback")]
    base = tmp_path / "base.jsonl"
    _notes(base, 200, "Base", 0)
    subprocess.run(feedback + ["ingest", str(base), "-q"], env=env, cwd=ROOT, check=True, capture_output=True)
    rng = random.Random(15)
    mid_write = 0  # kills that landed while vectors were being written (the intent file is left behind)
    with_orphans = 0  # kills after which the index held vectors of no statement
    # At least KILLS kills; more (up to 3x) only while none has yet landed mid-write and left orphans, since a
    # loaded machine can shift every kill outside the window and the test would then prove nothing.
    kills = 0
    for k in range(KILLS * 3):
        if k >= KILLS and mid_write and with_orphans:
            break
        kills += 1
        batch = tmp_path / f"batch{k}.jsonl"
        _notes(batch, 1500, f"Kill{k}", k + 1)
        proc = subprocess.Popen(feedback + ["ingest", str(batch), "-q"], env=env, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if k % 3 == 2:  # a random point anywhere in the run
            time.sleep(rng.uniform(0.5, 5.0))
        else:  # a random point while vectors are written, the window that leaves orphans
            deadline = time.monotonic() + 120
            while not (home / "ingest.intent").exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        mid_write += (home / "ingest.intent").exists()
        orphans_left = _check(home)[0]  # what this kill left for the next ingest to repair
        with_orphans += orphans_left > 0
    assert with_orphans >= 1, "no kill left orphan vectors: nothing was repaired"
    last = tmp_path / "last.jsonl"
    _notes(last, 300, "Last", 99)
    done = subprocess.run(feedback + ["ingest", str(last), "-q"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert _check(home) == (0, 0)
    print(f"kill -9 x{kills}: {mid_write} while writing vectors, {with_orphans} left orphan vectors; "
          "after the next ingest 0 orphan and 0 wrong vectors")
    assert mid_write >= 1, "no kill landed while vectors were written: the test proved nothing"


def test_a_failed_reindex_leaves_the_old_index(svc, monkeypatch):
    from service.ingest.store import ingest, reindex
    from service.ingest.validate import NoteInput
    from service.vectorstore import STATEMENTS

    ingest(svc, [NoteInput(text=f"Exports time out for team {i}.", account="Acme") for i in range(5)], [],
           skip_invalid=False)
    before = svc.store.count(STATEMENTS)

    def boom(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(svc.embedder, "embed", boom)
    with pytest.raises(RuntimeError):
        reindex(svc)
    monkeypatch.undo()
    assert svc.store.count(STATEMENTS) == before > 0
    assert reindex(svc) == before and svc.store.count(STATEMENTS) == before


def test_orphans_and_missing_vectors_are_repaired_by_the_next_ingest(svc):
    from service.ingest.store import ingest
    from service.ingest.validate import NoteInput
    from service.vectorstore import STATEMENTS

    ingest(svc, [NoteInput(text=f"SSO with Okta is slow for team {i}.", account="Acme") for i in range(4)], [],
           skip_invalid=False)
    ids, vectors, metas = svc.store.get(STATEMENTS)
    svc.store.upsert(STATEMENTS, ["s9999"], vectors[:1], metas[:1])  # an orphan a killed ingest left behind
    svc.store.delete(STATEMENTS, ids[:1])  # and a statement whose vector is gone
    (Path(svc.config.FEEDBACK_HOME) / "ingest.intent").write_text("12345")  # the killed ingest's intent
    ingest(svc, [NoteInput(text="A new note about billing.", account="Beta")], [], skip_invalid=False)
    after = set(svc.store.ids(STATEMENTS))
    assert "s9999" not in after and ids[0] in after
    assert len(after) == svc.store.count(STATEMENTS) == 5


def test_an_index_that_refuses_writes_after_a_crash_is_rebuilt_from_sql(svc, monkeypatch, caplog):
    """chroma-core/chroma#7678: after a kill -9 a segment may refuse every further write; the next ingest rebuilds
    the index from SQL instead of failing, and nothing stored is lost."""
    from service.ingest.store import INTENT_FILE, ingest
    from service.ingest.validate import NoteInput
    from service.vectorstore import STATEMENTS

    ingest(svc, [NoteInput(text=f"Exports time out for team {i}.", account="Acme") for i in range(5)], [],
           skip_invalid=False)
    orphan = svc.embedder.embed(["a statement whose ingest was killed"])
    svc.store.upsert(STATEMENTS, ["s999"], orphan, [{"note_id": 999, "account": "Gone"}])
    (Path(svc.config.FEEDBACK_HOME) / INTENT_FILE).write_text("12345")  # the killed ingest's intent
    wedged = {"calls": 0}
    real_delete = svc.store.delete

    def refuse_once(collection, ids):
        if collection == STATEMENTS and not wedged["calls"]:
            wedged["calls"] += 1
            raise RuntimeError("Failed to apply logs to the hnsw segment writer")
        return real_delete(collection, ids)

    monkeypatch.setattr(svc.store, "delete", refuse_once)
    with caplog.at_level("WARNING", logger="service.ingest.store"):
        report = ingest(svc, [NoteInput(text="SSO with Okta keeps failing.", account="Beta")], [], skip_invalid=False)
    assert wedged["calls"] == 1 and report.statements == 1
    assert "rebuilding it from SQL" in caplog.text
    ids = set(svc.store.ids(STATEMENTS))
    assert "s999" not in ids and len(ids) == 6  # the orphan is gone, the five old and the new statement are there
    assert not (Path(svc.config.FEEDBACK_HOME) / INTENT_FILE).exists()
