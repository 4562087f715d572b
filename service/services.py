"""The collaborators every stage gets passed: database, vector store, embedder and optional LLM client."""
from __future__ import annotations

import threading

from flask import current_app

from .config import Config
from .db import Database
from .embedding import get_embedder
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
                    self._embedder = get_embedder(self.config.EMBEDDING_MODEL)
        return self._embedder

    @property
    def store(self):
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = make_store(self.config)
        return self._store

    def drop_store(self) -> None:
        """Forget the vector store client; the next use opens it again (after its folder was rebuilt)."""
        with self._lock:
            self._store = None

    @property
    def llm(self):
        """An OpenAI-compatible client when configured, else None (every caller degrades cleanly)."""
        if self._llm is None and self.config.llm_configured:
            from . import llm

            self._llm = llm.make_client(self.config)
        return self._llm

    def close(self) -> None:
        self.db.dispose()


def services() -> Services:
    return current_app.extensions["feedback"]
