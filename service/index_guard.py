"""An embedded index a killed writer left unreadable must not take the next process down with it.

A kill -9 while Chroma writes its embedded folder can leave a segment Chroma cannot replay: reads and writes then
fail with "Failed to apply logs to the hnsw segment writer" (chroma-core/chroma#7678), or the reading process dies
of a segmentation fault, which no `except` catches (7 of 11 folders damaged on purpose here, by killing a
writer again and again). So:

- while this process writes to the folder, a marker file in it holds its pid (`WriteMarker`);
- a process that opens a folder whose marker names a writer that is gone reads the index once in a child process
  first (`check_after_crash`). If the child reads it, the marker goes; if the child fails or crashes, the store
  answers IndexDamagedError for that collection until a rebuild (`feedback reindex`, or the next ingest) replaces
  it, and the marker stays so the next process checks again.

Only the embedded folder needs this: a `chroma run` server owns its files, and a killed client cannot damage them.
Nothing here runs while no writer has died: the check costs one `os.path.exists` per process.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from contextlib import contextmanager

MARKER = "feedback-writing.pid"
PROBE_SECONDS = 300  # a 100,000-vector index loads in a few seconds; a hung child is damage too

# Read the collection as a search does: count, one vector back, one query (which loads the HNSW segment).
_PROBE = r"""
import sys
import chromadb
from chromadb.config import Settings
from chromadb.errors import NotFoundError

client = chromadb.PersistentClient(path=sys.argv[1], settings=Settings(anonymized_telemetry=False))
try:
    col = client.get_collection(sys.argv[2])
except NotFoundError:
    sys.exit(0)
if col.count():
    got = col.get(limit=1, include=["embeddings"])
    col.query(query_embeddings=[[float(x) for x in got["embeddings"][0]]], n_results=1)
"""


class WriteMarker:
    """`with marker.writing():` around every write; the file exists while any thread of this process writes, and
    stays while `hold` is set (the index is known damaged: the next process must check it too)."""

    def __init__(self, folder: str):
        self.path = os.path.join(folder, MARKER)
        self.hold = False
        self._writers = 0
        self._lock = threading.Lock()

    @contextmanager
    def writing(self):
        with self._lock:
            if self._writers == 0:
                with open(self.path, "w") as handle:
                    handle.write(str(os.getpid()))
            self._writers += 1
        try:
            yield
        finally:
            with self._lock:
                self._writers -= 1
                if self._writers == 0 and not self.hold:
                    try:
                        os.remove(self.path)
                    except FileNotFoundError:
                        pass


    def keep(self) -> None:
        """Chroma failed on this folder: leave the marker until a rebuild, so that the next process reads the folder
        in a child before it opens it. It names no pid: this process is alive, but it is not writing."""
        with self._lock:
            self.hold = True
            with open(self.path, "w") as handle:
                handle.write("damaged")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def check_after_crash(folder: str, collection: str) -> str | None:
    """None when no writer died while writing `folder` (or the index reads fine, and the marker is removed);
    else what failed, for the error message."""
    path = os.path.join(folder, MARKER)
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return None
    pid = int(text) if text.isdigit() else 0  # 0: "damaged", left by a process Chroma failed in (`keep`)
    if _alive(pid):  # a writer at work (or this very process), not a crash
        return None
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    try:
        child = subprocess.run([sys.executable, "-c", _PROBE, folder, collection], capture_output=True, text=True,
                               timeout=PROBE_SECONDS, env=env)
    except subprocess.TimeoutExpired:
        return f"{_who(pid)}, and a test read did not finish in {PROBE_SECONDS} s"
    if child.returncode == 0:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        return None
    if child.returncode < 0:
        how = f"the reading process was killed by signal {-child.returncode}"
    else:
        lines = [line for line in child.stderr.strip().splitlines() if line.strip()]
        how = lines[-1][:300] if lines else f"exit code {child.returncode}"
    return f"{_who(pid)}, and reading it now fails: {how}"


def _who(pid: int) -> str:
    return f"process {pid} was killed while writing it" if pid else "Chroma failed on it before"
