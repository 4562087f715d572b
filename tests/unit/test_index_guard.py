"""A killed writer's embedded index is read first in a child process (service.index_guard): a folder Chroma
cannot read, or that crashes the reader, becomes a clear IndexDamagedError until a rebuild replaces it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from service import index_guard
from service.index_guard import MARKER, WriteMarker, check_after_crash
from service.vectorstore import STATEMENTS, ChromaStore, IndexDamagedError


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # reaped: the pid names no process now
    return child.pid


def _filled(folder: Path) -> ChromaStore:
    store = ChromaStore.embedded(str(folder))
    vectors = np.eye(4, 8, dtype=np.float32)
    store.upsert(STATEMENTS, [f"s{i}" for i in range(4)], vectors, [{"account": "Acme"}] * 4)
    return store


def test_the_marker_exists_while_this_process_writes_and_not_after(tmp_path):
    store = _filled(tmp_path)
    marker = tmp_path / MARKER
    assert not marker.exists()
    seen = []
    real = store._collection

    def spying(collection):
        seen.append(marker.read_text() if marker.exists() else None)
        return real(collection)

    store._collection = spying
    store.delete(STATEMENTS, ["s0"])
    assert seen == [str(__import__("os").getpid())] and not marker.exists()
    store._collection = real
    store.close()


def test_nested_writers_keep_the_marker_until_the_last_one_ends_and_hold_keeps_it(tmp_path):
    marker = WriteMarker(str(tmp_path))
    with marker.writing():
        with marker.writing():
            pass
        assert Path(marker.path).exists()
    assert not Path(marker.path).exists()
    marker.hold = True
    with marker.writing():
        pass
    assert Path(marker.path).exists()


def test_no_marker_or_a_live_writer_is_not_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(index_guard.subprocess, "run", lambda *a, **k: pytest.fail("no child process expected"))
    assert check_after_crash(str(tmp_path), "feedback_statements") is None
    (tmp_path / MARKER).write_text(str(__import__("os").getpid()))  # a writer at work: this very process
    assert check_after_crash(str(tmp_path), "feedback_statements") is None
    assert (tmp_path / MARKER).exists()


def test_a_dead_writers_index_that_reads_fine_is_opened_and_the_marker_removed(tmp_path):
    _filled(tmp_path).close()
    (tmp_path / MARKER).write_text(str(_dead_pid()))
    store = ChromaStore.embedded(str(tmp_path))
    assert store.damaged is None and not (tmp_path / MARKER).exists()
    assert store.count(STATEMENTS) == 4
    store.close()


def test_a_dead_writers_index_that_crashes_the_reader_is_a_clear_error_until_a_rebuild(tmp_path, monkeypatch):
    _filled(tmp_path).close()
    (tmp_path / MARKER).write_text(str(_dead_pid()))
    # The child reads the index as the real check does, then dies as a damaged HNSW segment makes it die.
    monkeypatch.setattr(index_guard, "_PROBE", index_guard._PROBE + "\nimport os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    store = ChromaStore.embedded(str(tmp_path))
    assert store.damaged and "killed by signal 11" in store.damaged
    for read in (lambda: store.count(STATEMENTS), lambda: store.get(STATEMENTS),
                 lambda: store.query(STATEMENTS, np.ones((1, 8), dtype=np.float32), 1)):
        with pytest.raises(IndexDamagedError, match=r"killed while writing it.*feedback reindex"):
            read()
    store.upsert("statements_rebuild", ["s1"], np.ones((1, 8), dtype=np.float32), [{"account": "Acme"}])
    assert (tmp_path / MARKER).exists()  # still damaged: the next process must check again
    store.rename("statements_rebuild", STATEMENTS)  # what `feedback reindex` ends with
    assert store.damaged is None and not (tmp_path / MARKER).exists()
    assert store.ids(STATEMENTS) == ["s1"]
    store.close()


def test_a_killed_ingests_damaged_index_is_rebuilt_by_the_next_ingest(tmp_path, monkeypatch):
    from service import create_app
    from service.config import TestConfig
    from service.ingest.store import ingest
    from service.ingest.validate import NoteInput

    def open_services():
        return create_app(TestConfig(tmp_path / "home")).extensions["feedback"]

    svc = open_services()
    ingest(svc, [NoteInput(text=f"Exports time out for team {i}.", account="Acme") for i in range(3)], [],
           skip_invalid=False)
    folder = Path(svc.config.CHROMA_PATH)
    svc.close()
    (folder / MARKER).write_text(str(_dead_pid()))
    monkeypatch.setattr(index_guard, "_PROBE", "import sys; sys.exit('InternalError: Failed to apply logs')")
    svc = open_services()
    try:
        assert "Failed to apply logs" in svc.store.damaged
        ingest(svc, [NoteInput(text="SSO with Okta keeps failing.", account="Beta")], [], skip_invalid=False)
        assert svc.store.damaged is None and svc.store.count(STATEMENTS) == 4 and not (folder / MARKER).exists()
    finally:
        svc.close()


def test_a_chroma_failure_in_this_process_leaves_the_marker_for_the_next_one(tmp_path):
    from chromadb.errors import InternalError

    store = _filled(tmp_path)

    class Failing:
        def count(self):
            raise InternalError("Failed to apply logs to the hnsw segment writer")

    store._collections[STATEMENTS] = Failing()
    with pytest.raises(IndexDamagedError):
        store.count(STATEMENTS)
    assert (tmp_path / MARKER).read_text() == "damaged"  # no pid: the next process checks even while this one lives
    store.upsert("other", ["a"], np.ones((1, 8), dtype=np.float32), [{"account": "Acme"}])
    assert (tmp_path / MARKER).exists()  # writes elsewhere do not clear it
    store.reset(STATEMENTS)  # the collection a rebuild replaces
    store.upsert(STATEMENTS, ["s9"], np.ones((1, 8), dtype=np.float32), [{"account": "Acme"}])
    assert not (tmp_path / MARKER).exists() and store.count(STATEMENTS) == 1
    store.close()


def test_a_damaged_marker_is_checked_by_the_next_process_and_removed_when_the_index_reads(tmp_path, monkeypatch):
    _filled(tmp_path).close()
    (tmp_path / MARKER).write_text("damaged")
    calls = []
    real = index_guard.subprocess.run
    monkeypatch.setattr(index_guard.subprocess, "run", lambda *a, **k: calls.append(1) or real(*a, **k))
    store = ChromaStore.embedded(str(tmp_path))
    assert calls == [1] and store.damaged is None and not (tmp_path / MARKER).exists()
    assert store.count(STATEMENTS) == 4
    store.close()
