"""The product path for theme benchmarks: notes go through ingest and `run_themes`, exactly as with
`feedback notes ingest` + `feedback themes run`, in a throw-away data folder.

Only the embedding is cached (by text, under eval/out/cache), so a benchmark re-run does not re-encode
thousands of utterances; the vectors are the packaged model's either way.
"""
from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"


class CachedEmbedder:
    """The packaged embedder behind a per-text vector cache (same vectors, fewer encodes)."""

    def __init__(self, base=None):
        from service.embedding import get_embedder

        self.base = base or get_embedder()
        self.name, self.dim = self.base.name, self.base.dim
        self._memo: dict[str, np.ndarray] = {}

    def preload(self, texts: list[str], tag: str) -> None:
        texts = sorted(set(texts) - set(self._memo))
        if not texts:
            return
        key = hashlib.sha256("\n".join([self.name, *texts]).encode()).hexdigest()[:16]
        path = OUT / "cache" / f"{tag}-{key}.npy"
        if path.exists():
            vectors = np.load(path)
        else:
            vectors = self.base.embed(texts)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, vectors)
        self._memo.update(zip(texts, vectors))

    def embed(self, texts):
        texts = list(texts)
        missing = sorted({t for t in texts if t not in self._memo})
        if missing:
            self._memo.update(zip(missing, self.base.embed(missing)))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts]).astype(np.float32)


@dataclass
class ProductRun:
    """One `run_themes` result plus, per note external id, its statements' texts and theme ids."""

    result: dict
    statements: dict[str, list[tuple[str, int | None]]] = field(default_factory=dict)  # note id -> [(text, theme)]
    labels: dict[int, str] = field(default_factory=dict)


class ProductPath:
    """A data folder with an app built by `create_app`, the same factory as the CLI and the web service."""

    def __init__(self, embedder=None, home: Path | None = None):
        from service import create_app
        from service.config import TestConfig

        self._tmp = None
        if home is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bench-themes-")
            home = Path(self._tmp.name)
        self.embedder = embedder or CachedEmbedder()
        self.app = create_app(TestConfig(home, EMBEDDING_MODEL=None), embedder=self.embedder)
        self.svc = self.app.extensions["feedback"]

    def ingest(self, rows: list[dict]) -> None:
        """rows: {id, text, account?, source?, date?} as in a JSONL note file."""
        from service.ingest.store import ingest_notes
        from service.ingest.validate import NoteInput

        base = datetime(2026, 1, 1, tzinfo=timezone.utc)
        notes = []
        for i, r in enumerate(rows):
            when = datetime.fromisoformat(r["date"]) if r.get("date") else base + timedelta(hours=i)
            notes.append(NoteInput(text=r["text"], external_id=str(r["id"]), account=r.get("account"),
                                   source=r.get("source", "other"), occurred_at=when))
        ingest_notes(self.svc, notes)

    def run(self, **options) -> ProductRun:
        from sqlalchemy import select

        from service.models import Note, Statement, ThemeMembership
        from service.themes.run import RunOptions, run_themes

        options.setdefault("use_llm", False)
        result = run_themes(self.svc, RunOptions(**options))
        out = ProductRun(result, labels={t["id"]: t["label"] for t in result["themes"]})
        with self.svc.db.session() as s:
            theme_of = dict(s.execute(select(ThemeMembership.statement_id, ThemeMembership.theme_id)
                                      .where(ThemeMembership.run_id == result["run_id"])).all())
            rows = s.execute(select(Note.external_id, Statement.id, Statement.text)
                             .join(Statement, Statement.note_id == Note.id).order_by(Statement.id)).all()
        for ext, sid, text in rows:
            out.statements.setdefault(ext, []).append((text, theme_of.get(sid)))
        return out

    def close(self) -> None:
        self.svc.close()
        if self._tmp is not None:
            self._tmp.cleanup()
