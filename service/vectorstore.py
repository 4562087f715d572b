"""The vector index: Chroma, embedded (one process per folder) or a `chroma run` server.

SQL is the source of truth; everything here can be rebuilt from it (see service.ingest.store.reindex).
We always pass our own vectors: Chroma's default embedding function would download a model.
"""
from __future__ import annotations

import functools
import os
from contextlib import contextmanager
from typing import Iterable, Protocol, Sequence
from urllib.parse import urlparse

import httpx
import numpy as np

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

STATEMENTS = "statements"


class VectorStoreError(RuntimeError):
    """The vector store is unreachable or refused an operation."""


class ServerUnreachable(httpx.ConnectError, VectorStoreError):
    """The Chroma server does not answer (down since this process started, or stopped since). A connection error to
    it (the API's 503 with Retry-After and one log line, a job's retry), and a VectorStoreError (the CLI's line),
    whose message names the server and the setting: a job's error and the worker's log say what to start."""

    def __init__(self, url: str, why: str):
        super().__init__(f"no Chroma server answers at {url} ({why}); start `chroma run` or fix FEEDBACK_CHROMA_URL",
                         request=httpx.Request("GET", f"{url}/api/v2/heartbeat"))


class IndexMismatchError(VectorStoreError):
    """The index was built by another embedder: its vectors and ours live in different spaces."""


class IndexDamagedError(VectorStoreError):
    """Chroma cannot read or write the collection: a process killed while writing it can leave a segment it cannot
    replay ("Failed to apply logs to the hnsw segment writer"). SQL holds everything: a rebuild repairs it."""


def _damaged(location: str, why: object) -> IndexDamagedError:
    return IndexDamagedError(f"the vector index at {location} is damaged ({why}); rebuild it from the database with "
                             "`feedback reindex` (the next ingest also rebuilds it)")


def _damage_is_an_error(method):
    """Chroma's InternalError (a damaged segment) as IndexDamagedError, which names the index and the remedy; the
    API answers it with a 503 and the CLI with one line, instead of a 500 and a traceback."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        from chromadb.errors import InternalError

        try:
            return method(self, *args, **kwargs)
        except InternalError as exc:
            if self._marker is not None:  # the next process reads this folder in a child first
                self._marker.keep()
            raise _damaged(self.location, exc) from exc
    return guarded


def _server_named(method):
    """A network error talking to the Chroma server (chromadb's HTTP client raises httpx's errors as they come) as
    ServerUnreachable naming the server: a job's error was "ConnectError: [Errno 111] Connection refused", which
    says neither what refused nor what to do."""
    @functools.wraps(method)
    def named(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ServerUnreachable:
            raise
        except httpx.TransportError as exc:
            if not isinstance(self._client, _ServerClient):
                raise
            raise ServerUnreachable(self.location, f"{type(exc).__name__}: {_first_line(exc)}") from exc
    return named


def _reopen_if_replaced(method):
    """A collection another process replaced (a `feedback reindex` builds aside and renames the new one in, which
    deletes the old) is gone under this process's cached handle: Chroma answers NotFoundError for its id. Drop the
    handle, get the collection by name again and try once more, instead of failing every call until a restart.
    A cheaper id check per call would cost a round trip each time; this costs one only after a swap."""
    @functools.wraps(method)
    def reopened(self, collection, *args, **kwargs):
        from chromadb.errors import NotFoundError

        cached = self._collections.get(collection)
        try:
            return method(self, collection, *args, **kwargs)
        except NotFoundError:
            if cached is None:  # not a stale handle: nothing to refresh
                raise
            if self._collections.get(collection) is cached:
                del self._collections[collection]
            return method(self, collection, *args, **kwargs)
    return reopened


def _writes(method):
    """A write to an embedded folder happens inside its write marker (see service.index_guard)."""
    @functools.wraps(method)
    def marked(self, *args, **kwargs):
        if self._marker is None:
            return method(self, *args, **kwargs)
        with self._marker.writing():
            return method(self, *args, **kwargs)
    return marked


# Indexes from before the embedder was recorded were all built by the packaged model on torch.
LEGACY_EMBEDDER = "all-MiniLM-L6-v2"


class VectorStore(Protocol):
    def upsert(self, collection: str, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None: ...
    def add(self, collection: str, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[dict]) -> None: ...
    def delete(self, collection: str, ids: Sequence[str]) -> None: ...
    def count(self, collection: str) -> int: ...
    def get(self, collection: str, ids: Sequence[str] | None = None, metadatas: bool = True) -> tuple[list[str], np.ndarray, list[dict]]: ...
    def query(self, collection: str, vectors: np.ndarray, k: int, where: dict | None = None) -> list[list[tuple[str, float, dict]]]: ...
    def reset(self, collection: str) -> None: ...


class ChromaStore:
    """One Chroma client per app; collection names are prefixed so several installs can share a server."""

    def __init__(self, client, prefix: str = "feedback", dim: int | None = None, embedder_name: str | None = None,
                 location: str = "the Chroma store", marker=None, damaged: str | None = None):
        self._client = client
        self.location = location  # the folder or server, for messages
        self._marker = marker  # embedded folders: a WriteMarker (service.index_guard)
        self.damaged = damaged  # why the statement collection cannot be read, until a rebuild replaces it
        if damaged and marker is not None:
            marker.hold = True
        self.embedder_name = embedder_name  # recorded on each collection; a different one is refused
        self._prefix = prefix
        self._collections: dict[str, object] = {}
        self._max_batch = None
        self.dim = dim

    @classmethod
    def embedded(cls, path: str, prefix: str = "feedback", embedder_name: str | None = None) -> "ChromaStore":
        import chromadb
        from chromadb.config import Settings

        from .index_guard import WriteMarker, check_after_crash

        os.makedirs(path, exist_ok=True)
        # Before this process opens the folder: a writer that died mid-write may have left it unreadable, and
        # reading it here could crash this process (see service.index_guard).
        damaged = check_after_crash(path, f"{prefix}_{STATEMENTS}"[:512])
        client = chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))
        return cls(client, prefix, embedder_name=embedder_name, location=path, marker=WriteMarker(path),
                   damaged=damaged)

    @classmethod
    def server(cls, url: str, prefix: str = "feedback", embedder_name: str | None = None) -> "ChromaStore":
        """A store on a `chroma run` server. Nothing is sent yet: a server that is down when the process starts is
        an unreachable store (503 naming it, /healthz says so) until it answers, not a process that cannot start."""
        try:
            parsed = urlparse(url)
            port = parsed.port
        except ValueError:  # a port that is not a number from 0 to 65535
            parsed, port = None, None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise VectorStoreError(f"FEEDBACK_CHROMA_URL must look like http://host:port, got {url!r}")
        client = _ServerClient(url, parsed.hostname, port or (443 if parsed.scheme == "https" else 8000),
                               parsed.scheme == "https")
        return cls(client, prefix, embedder_name=embedder_name, location=url)

    def _name(self, collection: str) -> str:
        name = f"{self._prefix}_{collection}"
        # Chroma wants 3-512 characters from [a-zA-Z0-9._-], starting and ending alphanumeric.
        return name[:512]

    def _collection(self, collection: str):
        if self.damaged and collection == STATEMENTS:  # never opened: reading it may crash the process
            raise _damaged(self.location, self.damaged)
        if collection not in self._collections:
            metadata = {"embedder": self.embedder_name} if self.embedder_name else None
            col = self._client.get_or_create_collection(
                self._name(collection), embedding_function=None, configuration={"hnsw": {"space": "cosine"}},
                metadata=metadata,
            )
            self._check_embedder(col)
            self._collections[collection] = col
        return self._collections[collection]

    def _check_embedder(self, col) -> None:
        """Never mix vector spaces: an empty collection adopts our embedder, a filled one must match it."""
        if not self.embedder_name:
            return
        built = (col.metadata or {}).get("embedder")
        if built == self.embedder_name:
            return
        if col.count() == 0:
            col.modify(metadata={**(col.metadata or {}), "embedder": self.embedder_name})
            return
        built = built or LEGACY_EMBEDDER
        if built != self.embedder_name:
            raise IndexMismatchError(
                f"the vector index {col.name!r} was built with the {built!r} embedder, but this process embeds with "
                f"{self.embedder_name!r}; run `feedback reindex` to rebuild it from the database (or set "
                "FEEDBACK_EMBEDDING_MODEL and FEEDBACK_EMBEDDER back to what built it)"
            )
        col.modify(metadata={**(col.metadata or {}), "embedder": built})

    def _batches(self, n: int) -> Iterable[slice]:
        if self._max_batch is None:
            try:
                self._max_batch = int(self._client.get_max_batch_size())
            except Exception:
                self._max_batch = 5000
        step = max(1, min(self._max_batch, 5000))
        for start in range(0, n, step):
            yield slice(start, min(n, start + step))

    @_server_named
    @_damage_is_an_error
    @_writes
    @_reopen_if_replaced
    def upsert(self, collection, ids, vectors, metadatas) -> None:
        if not len(ids):
            return
        col = self._collection(collection)
        vectors = np.asarray(vectors, dtype=np.float32)
        for part in self._batches(len(ids)):
            col.upsert(ids=list(ids[part]), embeddings=vectors[part], metadatas=list(metadatas[part]))

    @_server_named
    @_damage_is_an_error
    @_writes
    @_reopen_if_replaced
    def add(self, collection, ids, vectors, metadatas) -> None:
        """Insert ids that are new to the collection: about twice as fast as upsert in Chroma 1.x."""
        if not len(ids):
            return
        col = self._collection(collection)
        vectors = np.asarray(vectors, dtype=np.float32)
        for part in self._batches(len(ids)):
            col.add(ids=list(ids[part]), embeddings=vectors[part], metadatas=list(metadatas[part]))

    @_server_named
    @_damage_is_an_error
    @_writes
    @_reopen_if_replaced
    def delete(self, collection, ids) -> None:
        if not len(ids):
            return
        col = self._collection(collection)
        for part in self._batches(len(ids)):
            col.delete(ids=list(ids[part]))

    @_server_named
    @_damage_is_an_error
    @_reopen_if_replaced
    def count(self, collection) -> int:
        return int(self._collection(collection).count())

    @_server_named
    @_damage_is_an_error
    @_reopen_if_replaced
    def get(self, collection, ids=None, metadatas=True):
        """(ids, vectors, metadatas) of the given ids (those found, in no promised order) or of every record.
        `metadatas=False` leaves them out (an empty list): a theme run reads 100,000 vectors and no metadata.
        The vectors are written into one array as they come, never held twice."""
        col = self._collection(collection)
        include = ["embeddings", "metadatas"] if metadatas else ["embeddings"]
        out_ids: list[str] = []
        out_meta: list[dict] = []
        if ids is not None:
            ids = list(ids)
            pages = (col.get(ids=ids[part], include=include) for part in self._batches(len(ids)))
            size = len(ids)
        else:
            size, step = col.count(), 5000
            pages = (col.get(include=include, limit=step, offset=offset) for offset in range(0, size, step))
        vecs = None
        for res in pages:
            got = len(res["ids"])
            if got:
                rows = np.asarray(res["embeddings"], dtype=np.float32).reshape(got, -1)
                if vecs is None:
                    vecs = np.empty((max(size, got), rows.shape[1]), dtype=np.float32)
                vecs[len(out_ids):len(out_ids) + got] = rows
            out_ids += res["ids"]
            if metadatas:
                out_meta += res["metadatas"]
        if vecs is None:
            return out_ids, np.zeros((0, self.dim or 0), dtype=np.float32), out_meta
        return out_ids, vecs[:len(out_ids)], out_meta

    @_server_named
    @_damage_is_an_error
    @_reopen_if_replaced
    def query(self, collection, vectors, k, where=None):
        col = self._collection(collection)
        vectors = np.asarray(vectors, dtype=np.float32)
        # Chroma 1.x returns what it has when k exceeds the collection; count() first costs ~15 ms at 100k vectors.
        try:
            res = col.query(query_embeddings=vectors, n_results=k, where=where or None,
                            include=["distances", "metadatas"])
        except Exception:  # an older server that insists on k <= count
            n = col.count()
            if n == 0:
                return [[] for _ in range(len(vectors))]
            res = col.query(query_embeddings=vectors, n_results=min(k, n), where=where or None,
                            include=["distances", "metadatas"])
        out = []
        for ids, dists, metas in zip(res["ids"], res["distances"], res["metadatas"]):
            out.append([(i, 1.0 - float(d), m) for i, d, m in zip(ids, dists, metas)])
        return out

    @_writes
    def reset(self, collection) -> None:
        """Delete the collection (by name: a damaged one is never read)."""
        try:
            self._client.delete_collection(self._name(collection))
        except Exception:
            pass  # nothing to delete: a fresh store
        self._collections.pop(collection, None)
        if collection == STATEMENTS:  # a damaged collection is gone with it; the marker may go too
            self.damaged = None
            if self._marker is not None:
                self._marker.hold = False

    @_server_named
    @_damage_is_an_error
    @_reopen_if_replaced
    def ids(self, collection) -> list[str]:
        """Every id in the collection, without vectors (cheap: the orphan check reads only these)."""
        col = self._collection(collection)
        out: list[str] = []
        total, step = col.count(), 5000
        for offset in range(0, total, step):
            out += col.get(include=[], limit=step, offset=offset)["ids"]
        return out

    @_server_named
    @_damage_is_an_error
    @_writes
    def rename(self, collection: str, new: str) -> None:
        """Give a collection another name (replacing any collection of that name): reindex builds aside, then swaps."""
        self.reset(new)
        self._collection(collection).modify(name=self._name(new))
        self._collections.pop(collection, None)
        self._collections.pop(new, None)

    @contextmanager
    def persisting_each_write(self, collection: str):
        """Inside the block, every write to the collection leaves its HNSW files complete on disk.

        An embedded Chroma collection writes its HNSW files only every `sync_threshold` changes (1,000 by
        default); below that the index lives in Chroma's log, and whichever process next reads the collection
        rebuilds it in its own memory and writes the files itself, capacity not yet used included: bytes of that
        process's heap, which can be text it once held. The erasure's child builds the fresh folder with this, so
        the processes that read the folder afterwards load its files instead of rewriting them."""
        col = self._collection(collection)
        threshold = (col.configuration.get("hnsw") or {}).get("sync_threshold") or 1000  # Chroma's default
        col.modify(configuration={"hnsw": {"sync_threshold": 1}})
        try:
            yield
        finally:  # back to the collection's own setting: persisting every ingest would be slow
            col.modify(configuration={"hnsw": {"sync_threshold": threshold}})

    @_server_named
    def collection_names(self) -> list[str]:
        """Our collections (the prefix removed), e.g. ["statements"]."""
        start = f"{self._prefix}_"
        names = [getattr(c, "name", c) for c in self._client.list_collections()]
        return [n[len(start):] for n in names if n.startswith(start)]

    def close(self) -> None:
        """Release the files (embedded mode): the erasure swaps the folder underneath."""
        self._collections.clear()
        close = getattr(self._client, "close", None)
        if close is not None:
            close()

    def heartbeat(self) -> bool:
        try:
            self._client.heartbeat()
            return True
        except Exception:
            return False


class _ServerClient:
    """chromadb.HttpClient, made at its first use: its constructor already asks the server for the tenant, so a
    server that is down would fail the process's store for good. Until the server answers, every use raises
    VectorStoreError naming it (503 in the API, retried by jobs) and the next use tries again."""

    def __init__(self, url: str, host: str, port: int, ssl: bool):
        import threading

        self.url, self._args = url, {"host": host, "port": port, "ssl": ssl}
        self._client = None
        self._lock = threading.Lock()

    def _connected(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import chromadb
                    from chromadb.config import Settings

                    try:
                        self._client = chromadb.HttpClient(**self._args, settings=Settings(anonymized_telemetry=False))
                    except Exception as exc:  # chromadb raises a plain ValueError when the server is down
                        raise ServerUnreachable(self.url, _first_line(exc)) from exc
        return self._client

    def __getattr__(self, name):
        return getattr(self._connected(), name)

    def close(self) -> None:
        if self._client is not None:
            close = getattr(self._client, "close", None)
            if close is not None:
                close()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def open_in_this_process(path: str) -> bool:
    """Does a Chroma client of this process still hold the embedded folder `path` open?

    Chroma keeps one system per folder for all of a process's clients and stops it with the last client's close().
    While any client is open, that system keeps the folder's SQLite file and index in use, and a client opened on
    the same path later gets that system back, even after the folder was replaced underneath (it then reads the
    replaced folder and fails every write with "attempt to write a readonly database")."""
    from chromadb.api.shared_system_client import SharedSystemClient

    target = os.path.realpath(path)
    for system in list(SharedSystemClient._identifier_to_system.values()):
        settings = system.settings
        if settings.is_persistent and settings.persist_directory \
                and os.path.realpath(settings.persist_directory) == target:
            return True
    return False


def make_store(config, embedder_name: str | None = None) -> ChromaStore:
    if config.CHROMA_URL:
        return ChromaStore.server(config.CHROMA_URL, config.CHROMA_COLLECTION_PREFIX, embedder_name)
    return ChromaStore.embedded(config.CHROMA_PATH, config.CHROMA_COLLECTION_PREFIX, embedder_name)
