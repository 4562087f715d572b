"""Answer drafts for sales and the reps' feedback on them: every draft keeps what it was built from."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

AUDIENCES = ("customer", "internal")
RATINGS = ("up", "down", "1", "2", "3", "4", "5")


class Draft(Base):
    __tablename__ = "drafts"
    # AUTOINCREMENT on SQLite: a deleted draft's number, its address, is never another draft's (migration 0022)
    __table_args__ = (Index("ix_drafts_created_at", "created_at"), Index("ix_drafts_account", "account"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    request_id: Mapped[str | None] = mapped_column(String(200))  # the caller's id (e.g. a --file row id)
    question: Mapped[str] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(200))
    audience: Mapped[str] = mapped_column(String(20), default="customer")
    tone: Mapped[str | None] = mapped_column(String(40))
    verdict: Mapped[str] = mapped_column(String(40))
    item_ids: Mapped[list] = mapped_column(default=list)  # cited items, best first
    evidence: Mapped[list] = mapped_column(default=list)  # [{"note_id", "account", "quote"}]
    text: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(40))  # grounded-template | llm
    prompt_version: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    warnings: Mapped[list] = mapped_column(default=list)
    checks: Mapped[dict] = mapped_column(default=dict)  # the final check results, kept for audits
    extra: Mapped[dict] = mapped_column(default=dict)  # matcher scores, alternatives, demand

    feedback: Mapped[list["DraftFeedback"]] = relationship(
        back_populates="draft", cascade="all, delete-orphan", passive_deletes=True, order_by="DraftFeedback.id"
    )


class DraftFeedback(Base):
    """A rep's verdict on a draft: thumbs or 1-5, and what they actually sent (the best training signal)."""

    __tablename__ = "draft_feedback"
    __table_args__ = (CheckConstraint("rating IN ('up', 'down', '1', '2', '3', '4', '5')", name="rating"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    rating: Mapped[str] = mapped_column(String(4))
    edited_text: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(200))  # token:NAME, user:EMAIL or cli:LOGIN; None before 0018
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    draft: Mapped[Draft] = relationship(back_populates="feedback")


__all__ = ["AUDIENCES", "RATINGS", "Draft", "DraftFeedback"]
