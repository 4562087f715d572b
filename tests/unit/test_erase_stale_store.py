"""After an erasure the process that erased (a web server, or the CLI runner of the tests) keeps using the fresh
vector folder the child built: it must only read those index files, never write them anew with bytes of its own
memory, which held the erased text. And the folder is never swapped while another Chroma client of the process
still has it open.

Why the first matters: an embedded Chroma collection writes its HNSW files only every 1,000 changes. A folder
built with fewer left the index in Chroma's log, and the first process to read it rebuilt the index in its own
memory and wrote the files, unused capacity included: heap bytes of that process. After `accounts erase`, the
next command run in the tests' process wrote metadata of the erased notes into data_level0.bin that way."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from service.erase import compact, erase_account
from service.vectorstore import STATEMENTS, ChromaStore, VectorStoreError

MARKER = "Zqxmarkerwv"
ACCOUNT = f"Globex {MARKER}"
NOTES = [{"id": f"m{i}", "account": ACCOUNT, "author": f"Pat {MARKER}",
          "text": f"CSV export times out for {MARKER} on large table {i}."} for i in range(3)]
NOTES += [{"id": "o1", "account": "Initech", "text": "Exports to CSV time out after ten minutes on large tables."},
          {"id": "o2", "account": "Hooli", "text": "Single sign-on setup with Okta is slow and confusing."},
          {"id": "o3", "account": "Umbrella", "text": "We need SCIM provisioning for Okta users."}]
# A modification time no write made now can give a file (2001-09-09): a file that still has it was not written.
STAMP_NS = 1_000_000_000 * 10**9


def _index_files(chroma: Path) -> list[Path]:
    """The files of the folder's HNSW segments (one folder per segment, beside chroma.sqlite3)."""
    return sorted(p for p in chroma.glob("*/*") if p.is_file())


def _stamp(files: list[Path]) -> dict[Path, bytes]:
    for path in files:
        os.utime(path, ns=(STAMP_NS, STAMP_NS))
    return {path: path.read_bytes() for path in files}


def _assert_untouched(chroma: Path, written: dict[Path, bytes]) -> None:
    assert _index_files(chroma) == sorted(written)  # no segment files added or removed
    assert {p: p.stat().st_mtime_ns for p in written} == dict.fromkeys(written, STAMP_NS), "an index file was written"
    assert {p: p.read_bytes() for p in written} == written


def _marker_in(chroma: Path) -> list[str]:
    return [str(p.relative_to(chroma)) for p in chroma.rglob("*") if p.is_file() and MARKER.encode() in p.read_bytes()]


def test_a_web_process_that_erased_reads_the_fresh_index_without_writing_it(client, svc):
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    assert client.get("/api/v1/stats").status_code == 200  # the web process has the folder open before the erasure
    assert client.delete(f"/api/v1/accounts/{ACCOUNT}").status_code == 200
    chroma = Path(svc.config.CHROMA_PATH)
    files = _index_files(chroma)
    assert any(p.name == "data_level0.bin" for p in files), "the fresh folder holds an HNSW index"
    written = _stamp(files)
    # it keeps serving: counts, a nearest-neighbour search, a full read
    stats = client.get("/api/v1/stats").get_json()
    assert stats["notes"] == 3 and stats["vectors"] == stats["statements"] > 0
    ids, vectors, metas = svc.store.get(STATEMENTS)
    assert {m["account"] for m in metas} == {"Initech", "Hooli", "Umbrella"}
    assert ids[0] in [hit[0] for hit in svc.store.query(STATEMENTS, vectors[:1], 3)[0]]
    svc.close()  # as at shutdown: nothing is written then either
    _assert_untouched(chroma, written)
    assert _marker_in(chroma) == []


def test_commands_after_an_erasure_read_the_fresh_index_without_writing_it(run_cli, cli_env):
    notes = cli_env.parent / "notes.jsonl"
    notes.write_text("\n".join(json.dumps(n) for n in NOTES))
    assert run_cli("ingest", str(notes), "-q").exit_code == 0
    assert run_cli("accounts", "erase", ACCOUNT, "--yes").exit_code == 0
    chroma = cli_env / "chroma"
    written = _stamp(_index_files(chroma))
    assert written
    done = run_cli("stats", "--json")  # in this process, which ingested the erased notes
    assert done.exit_code == 0, done.output
    stats = json.loads(done.stdout)
    assert stats["notes"] == 3 and stats["vectors"] == stats["statements"] > 0
    done = run_cli("themes", "run", "--all", "--min-mentions", "2")  # reads every vector back
    assert done.exit_code == 0, done.output
    _assert_untouched(chroma, written)


def test_the_folder_is_not_swapped_while_another_client_of_the_process_has_it_open(client, svc):
    """A second client on the folder keeps Chroma's system for it alive in this process; swapped under it, the
    service's next client got that system back: bound to the replaced files, failing every write."""
    assert client.post("/api/v1/notes", json=NOTES).status_code == 201
    chroma = Path(svc.config.CHROMA_PATH)
    other = ChromaStore.embedded(str(chroma), svc.config.CHROMA_COLLECTION_PREFIX, embedder_name=svc.embedder_name)
    try:
        assert other.count(STATEMENTS) == svc.store.count(STATEMENTS)
        with pytest.raises(VectorStoreError, match="still has it open"):
            erase_account(svc, ACCOUNT)
        assert not chroma.with_name("chroma.rebuild").exists() and not chroma.with_name("chroma.retired").exists()
        assert other.count(STATEMENTS) == svc.store.count(STATEMENTS)  # the same folder, the rows already erased
    finally:
        other.close()
    assert compact(svc)["vectors"].startswith("rebuilt")  # once it is closed
    ids, vectors, _ = svc.store.get(STATEMENTS)
    svc.store.upsert(STATEMENTS, ["s-after"], vectors[:1], [{"account": "Initech"}])  # the fresh folder takes writes
    assert svc.store.count(STATEMENTS) == len(ids) + 1
    assert _marker_in(chroma) == []
