"""A disk cache of vectors for small embedder calls, shared by every process of one installation.

Why: each CLI process refits the roadmap matcher, which embeds every item's views and evidence again (most of
a cold `feedback match`). Those texts rarely change, so their vectors are kept in FEEDBACK_HOME keyed by the
embedder's name and the text. Large calls (ingest, reindex) bypass it: their vectors live in the index already.
"""
from __future__ import annotations

import hashlib
import sqlite3
import threading
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Sequence

import numpy as np

MAX_CALL = 1024  # texts per call worth caching; ingest chunks are larger and go straight to the model
MAX_ROWS = 50_000  # about 80 MB at 384 dimensions; the oldest rows go first


class CachedEmbedder:
    """Wraps an embedder; same name, dim and vectors (a miss is embedded by the inner one in the same call)."""

    def __init__(self, inner, path: Path):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.path = Path(path)
        self._lock = threading.Lock()

    def __getattr__(self, attr):  # model_path, variant, batch_size... of the inner embedder
        return getattr(self.inner, attr)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts or len(texts) > MAX_CALL:
            return self.inner.embed(texts)
        keys = [hashlib.sha256(f"{self.name}\0{t}".encode()).digest()[:16] for t in texts]
        found = self._get(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if missing:
            fresh = self.inner.embed([texts[i] for i in missing])
            for row, i in enumerate(missing):
                found[keys[i]] = fresh[row]
            self._put({keys[i]: fresh[row] for row, i in enumerate(missing)})
        for i, key in enumerate(keys):
            out[i] = found[key]
        return out

    @contextmanager
    def _connect(self):
        """The cache's connection, committed and closed after use. The cache lives in the installation's home and
        never creates it: a home that is gone (a test's or the eval's temporary one, cleaned up while its embedder
        is still in use) is a cache miss, not a folder made again and left behind."""
        if not self.path.parent.is_dir():
            raise sqlite3.OperationalError(f"no folder {self.path.parent}")
        with closing(sqlite3.connect(self.path, timeout=1.0)) as conn, conn:
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL)")
            yield conn

    def _get(self, keys: list[bytes]) -> dict[bytes, np.ndarray]:
        try:
            with self._lock, self._connect() as conn:
                rows = []
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    rows += conn.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                                         part).fetchall()
        except sqlite3.Error:
            return {}  # a cache that cannot be read is a cache miss, never an error
        return {k: np.frombuffer(v, dtype=np.float32) for k, v in rows if len(v) == 4 * self.dim}

    def _put(self, vectors: dict[bytes, np.ndarray]) -> None:
        try:
            with self._lock, self._connect() as conn:
                conn.executemany("INSERT OR REPLACE INTO vectors (key, vec) VALUES (?, ?)",
                                 [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in vectors.items()])
                over = conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] - MAX_ROWS
                if over > 0:
                    conn.execute("DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY rowid LIMIT ?)",
                                 (over,))
        except sqlite3.Error:
            pass  # e.g. a read-only home: embedding still works, only slower next time
