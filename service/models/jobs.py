"""Background jobs: the SQL row is the one record of a job's state, whichever queue runs it (RQ or in-process)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

JOB_STATUSES = ("queued", "running", "done", "failed")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_created_at", "created_at"), Index("ix_jobs_status", "status"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # ingest | themes | report | deliver | reindex
    status: Mapped[str] = mapped_column(String(12), default="queued")
    # The same key is never enqueued twice while its job is queued, running or done (a retried request, or the
    # nightly report from several schedulers): the unique index is the lock.
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    payload: Mapped[dict] = mapped_column(default=dict)
    result: Mapped[dict | None]
    error: Mapped[str | None] = mapped_column(Text)
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=0)
    backend: Mapped[str] = mapped_column(String(12), default="local")  # rq | local
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


__all__ = ["JOB_STATUSES", "Job"]
