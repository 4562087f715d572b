"""Several processes are safe by construction: embedded Chroma serves one long-running process only.

Two processes on one embedded Chroma folder each keep their own in-memory index, so one serves stale results
(measured: 13 of 36 drafts missed a note ingested a moment before). A web server process and `feedback worker`
each hold an exclusive lock on the folder; a second one refuses to start and says what to do instead.
One-shot CLI commands take no lock (they run, write and exit).
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path


class SharedStoreError(RuntimeError):
    """Another long-running process already serves this embedded Chroma folder."""


_held: dict[str, object] = {}


def advice(role: str) -> str:
    return (f"{role} cannot share the embedded Chroma store with another server or worker process. For several "
            "processes run the Chroma server (`chroma run --path DIR --host 127.0.0.1 --port 8000`) and set "
            "FEEDBACK_CHROMA_URL=http://127.0.0.1:8000 (PostgreSQL via FEEDBACK_DATABASE_URL is the documented "
            "database for that profile), or stop the other process.")


def hold_embedded_store(config, role: str) -> None:
    """Take this process's exclusive lock on the embedded store (no-op with FEEDBACK_CHROMA_URL)."""
    from filelock import FileLock, Timeout

    if getattr(config, "CHROMA_URL", None):
        return
    folder = Path(config.CHROMA_PATH)
    folder.mkdir(parents=True, exist_ok=True)
    path = str(folder / ".serving.lock")
    if path in _held:
        return
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        holder = _read(folder / ".serving.pid")
        raise SharedStoreError(f"the embedded Chroma store at {folder} is already served by {holder}. "
                               + advice(role)) from None
    (folder / ".serving.pid").write_text(f"{role} (pid {os.getpid()})")
    _held[path] = lock


def _read(path: Path) -> str:
    try:
        return path.read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def embedded_store_to_myself(config):
    """For work that rewrites the embedded Chroma folder (compaction swaps in a fresh one): yields None when this
    process may, holding the serving lock meanwhile so that no server or worker starts on it, else who serves it
    (the folder swapped under a running web server left it failing every ingest: "attempt to write a readonly
    database"). With FEEDBACK_CHROMA_URL the server's files are its own: None."""
    from filelock import FileLock, Timeout

    folder = Path(config.CHROMA_PATH) if not getattr(config, "CHROMA_URL", None) else None
    path = str(folder / ".serving.lock") if folder else None
    if folder is None or path in _held or not folder.is_dir():  # no folder, or this process serves it
        yield None
        return
    lock = FileLock(path, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        yield _read(folder / ".serving.pid")
        return
    try:
        yield None
    finally:
        lock.release()
