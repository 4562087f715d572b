"""Theme runs, themes with ids that outlive runs, memberships and lineage events."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class ThemeRun(Base):
    __tablename__ = "theme_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    mode: Mapped[str] = mapped_column(String(20))  # full | incremental
    since: Mapped[datetime | None]
    until: Mapped[datetime | None]
    filters: Mapped[dict] = mapped_column(default=dict)
    params: Mapped[dict] = mapped_column(default=dict)
    n_statements: Mapped[int] = mapped_column(default=0)
    n_assigned: Mapped[int] = mapped_column(default=0)
    labeller: Mapped[str] = mapped_column(String(40), default="offline")
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


class Theme(Base):
    """A theme's identity. Its per-run figures live in ThemeSnapshot."""

    __tablename__ = "themes"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_run_id: Mapped[int] = mapped_column(ForeignKey("theme_runs.id", ondelete="CASCADE"))
    last_run_id: Mapped[int] = mapped_column(ForeignKey("theme_runs.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(200))
    centroid: Mapped[list] = mapped_column(default=list)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))  # split from
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="SET NULL"))


class ThemeSnapshot(Base):
    __tablename__ = "theme_snapshots"
    __table_args__ = (UniqueConstraint("run_id", "theme_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("theme_runs.id", ondelete="CASCADE"), index=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    keywords: Mapped[list] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20))  # recurring | emerging
    mentions: Mapped[int]
    accounts: Mapped[int]
    account_names: Mapped[list] = mapped_column(default=list)
    sources: Mapped[dict] = mapped_column(default=dict)
    first_seen: Mapped[datetime | None]
    last_seen: Mapped[datetime | None]
    trend: Mapped[str] = mapped_column(String(20))  # new | growing | stable | fading
    trend_counts: Mapped[dict] = mapped_column(default=dict)
    timeline: Mapped[list] = mapped_column(default=list)  # mentions per week, for sparklines
    arr: Mapped[float | None] = mapped_column(Float)
    quotes: Mapped[list] = mapped_column(default=list)
    note_ids: Mapped[list] = mapped_column(default=list)
    label_source: Mapped[str] = mapped_column(String(20), default="offline")


class ThemeMembership(Base):
    __tablename__ = "theme_memberships"
    __table_args__ = (Index("ix_theme_memberships_run_statement", "run_id", "statement_id", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("theme_runs.id", ondelete="CASCADE"))
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)  # None: unassigned
    similarity: Mapped[float | None] = mapped_column(Float)


class ThemeEvent(Base):
    """Lineage: what happened to theme ids between two runs (new, continued, merged, split, retired)."""

    __tablename__ = "theme_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("theme_runs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    theme_id: Mapped[int] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"))
    other_ids: Mapped[list] = mapped_column(default=list)
    detail: Mapped[str | None] = mapped_column(Text)


class ThemeEdit(Base):
    """A PM's edit of the themes, replayed by every later run: rename (pins the label), merge, move, hide."""

    __tablename__ = "theme_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # rename | merge | move | hide | unhide
    theme_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"), index=True)
    target_id: Mapped[int | None] = mapped_column(ForeignKey("themes.id", ondelete="CASCADE"))  # merge into / move to
    statement_ids: Mapped[list] = mapped_column(default=list)  # move
    label: Mapped[str | None] = mapped_column(String(200))  # rename
