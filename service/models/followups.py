"""Roadmap status history and follow-up marks: what moved, when and from where, and which accounts were told."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

CHANGE_KINDS = ("created", "changed", "archived", "restored", "deleted")


class RoadmapStatusChange(Base):
    """One change of an item's status or release (or its appearance, archiving, deletion), with time and source.

    item_id has no FK: the history of a pruned item is kept."""

    __tablename__ = "roadmap_status_changes"
    __table_args__ = (Index("ix_roadmap_status_changes_item", "item_id", "changed_at"),
                      Index("ix_roadmap_status_changes_changed_at", "changed_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    old_status: Mapped[str | None] = mapped_column(String(20))
    new_status: Mapped[str | None] = mapped_column(String(20))
    old_release: Mapped[str | None] = mapped_column(String(100))
    new_release: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str | None] = mapped_column(String(500))  # the file name, "api", ...


class FollowupTold(Base):
    """A rep saying "this account has been told" about an item at a status: shown, and left out next time."""

    __tablename__ = "followup_told"
    __table_args__ = (Index("uq_followup_told_item_account_status", "item_id", "account", "status", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[str] = mapped_column(String(200))
    account: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))  # the item's status they were told about
    told_at: Mapped[datetime] = mapped_column(default=utcnow)
    told_by: Mapped[str | None] = mapped_column(String(200))
    draft_id: Mapped[int | None] = mapped_column()  # the draft stored as sent; no FK (drafts may be deleted)
    note: Mapped[str | None] = mapped_column(Text)


__all__ = ["CHANGE_KINDS", "FollowupTold", "RoadmapStatusChange"]
