"""Roadmap items (keyed by the user's own id, so re-imports upsert) and their links to notes and themes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .notes import Note

ROADMAP_STATUSES = ("shipped", "in_progress", "planned", "considering", "not_planned")
LINK_KINDS = ("note", "theme", "draft")


class RoadmapItem(Base):
    __tablename__ = "roadmap_items"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    release: Mapped[str | None] = mapped_column(String(100))
    goal: Mapped[str | None] = mapped_column(String(500))
    reach: Mapped[float | None] = mapped_column(Float)
    impact: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)  # stored as 0..1
    effort: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)  # a score given by the tool it came from
    tags: Mapped[list] = mapped_column(default=list)
    url: Mapped[str | None] = mapped_column(String(2000))
    workaround: Mapped[str | None] = mapped_column(Text)
    extra: Mapped[dict] = mapped_column(default=dict)  # columns we have no field for, kept verbatim
    archived: Mapped[bool] = mapped_column(default=False)  # missing from the latest import
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    links: Mapped[list["RoadmapLink"]] = relationship(
        back_populates="item", cascade="all, delete-orphan", passive_deletes=True, order_by="RoadmapLink.id"
    )


class RoadmapLink(Base):
    """A person saying "this note / theme / draft's question is about that item". theme_id and draft_id have no FK:
    themes are rebuilt by runs, and a deleted draft's link simply adds no evidence."""

    __tablename__ = "roadmap_links"
    __table_args__ = (
        CheckConstraint(
            "(kind = 'note' AND note_id IS NOT NULL AND theme_id IS NULL AND draft_id IS NULL)"
            " OR (kind = 'theme' AND theme_id IS NOT NULL AND note_id IS NULL AND draft_id IS NULL)"
            " OR (kind = 'draft' AND draft_id IS NOT NULL AND note_id IS NULL AND theme_id IS NULL)",
            name="one_target",
        ),
        # Partial unique indexes: a plain unique constraint would let NULL targets repeat.
        Index("uq_roadmap_links_item_note", "item_id", "note_id", unique=True,
              sqlite_where=text("note_id IS NOT NULL"), postgresql_where=text("note_id IS NOT NULL")),
        Index("uq_roadmap_links_item_theme", "item_id", "theme_id", unique=True,
              sqlite_where=text("theme_id IS NOT NULL"), postgresql_where=text("theme_id IS NOT NULL")),
        Index("uq_roadmap_links_item_draft", "item_id", "draft_id", unique=True,
              sqlite_where=text("draft_id IS NOT NULL"), postgresql_where=text("draft_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("roadmap_items.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    note_id: Mapped[int | None] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    theme_id: Mapped[int | None] = mapped_column(index=True)
    draft_id: Mapped[int | None] = mapped_column(index=True)  # a draft a rep confirmed ("the right item"); no FK
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))

    item: Mapped[RoadmapItem] = relationship(back_populates="links")
    note: Mapped[Note | None] = relationship()  # for the note's public id; notes know nothing of the roadmap


class RoadmapRejection(Base):
    """A person saying "this draft's question / this customer statement is NOT about that item" (a rep's "not the
    right item"). The matcher declines the item for requests that read as the rejected text (matcher.REJECTED_NEAR).
    draft_id has no FK, as on links: deleting a draft deletes its rejections in code (erase.forget_drafts)."""

    __tablename__ = "roadmap_rejections"
    __table_args__ = (
        CheckConstraint("(draft_id IS NULL) <> (statement_id IS NULL)", name="one_target"),
        Index("uq_roadmap_rejections_item_draft", "item_id", "draft_id", unique=True,
              sqlite_where=text("draft_id IS NOT NULL"), postgresql_where=text("draft_id IS NOT NULL")),
        Index("uq_roadmap_rejections_item_statement", "item_id", "statement_id", unique=True,
              sqlite_where=text("statement_id IS NOT NULL"), postgresql_where=text("statement_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(ForeignKey("roadmap_items.id", ondelete="CASCADE"), index=True)
    draft_id: Mapped[int | None] = mapped_column(index=True)
    statement_id: Mapped[int | None] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
