"""The collaborators every stage gets passed: database, vector store, embedder and optional LLM client."""
from __future__ import annotations

import threading
from contextlib import contextmanager

from flask import current_app

from .config import Config
from .db import Database
from .embedding import embedder_name, get_embedder
from .vectorstore import make_store


class Services:
    def __init__(self, config: Config, *, embedder=None, store=None, llm=None):
        self.config = config
        self.db = Database(config.DATABASE_URL)
        self._embedder = embedder
        self._store = store
        self._llm = llm
        self._lock = threading.Lock()

    @property
    def embedder(self):
        """Loaded on first use, so commands that never embed start fast."""
        if self._embedder is None:
            with self._lock:
                if self._embedder is None:
                    embedder = get_embedder(self.config.EMBEDDING_MODEL, self.config.EMBEDDER, self.config.MODEL_CACHE)
                    if self.config.EMBEDDING_MODEL != "hashing":  # the fake is faster than any cache
                        from pathlib import Path

                        from .embed_cache import CachedEmbedder

                        embedder = CachedEmbedder(embedder, Path(self.config.FEEDBACK_HOME) / "embedding-cache.sqlite3")
                    self._embedder = embedder
        return self._embedder

    @property
    def embedder_name(self) -> str:
        """Known without loading the model: the vector index records it and refuses vectors of another."""
        if self._embedder is not None:
            return self._embedder.name
        return embedder_name(self.config.EMBEDDING_MODEL, self.config.EMBEDDER)

    @property
    def store(self):
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = make_store(self.config, self.embedder_name)
        return self._store

    @contextmanager
    def store_closed(self):
        """Close the vector store and keep it closed for the block, while the caller replaces its folder: a thread
        asking for the store meanwhile waits, instead of opening the folder halfway through the swap (its client
        would keep the old folder's Chroma system alive in this process, see `vectorstore.open_in_this_process`).
        The next use after the block opens the store again. Not reentrant: the block must not use `store`."""
        with self._lock:
            store, self._store = self._store, None
            if store is not None:
                store.close()
            yield

    @property
    def llm(self):
        """An OpenAI-compatible client when configured, else None (every caller degrades cleanly)."""
        if self._llm is None and self.config.llm_configured:
            from . import llm

            from .limits import LLMBudget

            self._llm = llm.make_client(self.config, budget=LLMBudget(self.db, getattr(self.config, "LLM_DAILY_BUDGET", None)))
        return self._llm

    def close(self) -> None:
        """Release the vector store (if opened) and the database connections. Chroma shares one system per folder
        among a process's clients and releases it with the last: a client left open would keep reading the files
        of a folder that `accounts erase` or a reindex has since replaced."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
        self.db.dispose()


def services() -> Services:
    return current_app.extensions["feedback"]
