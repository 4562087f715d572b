"""Accounts, notes and their statements: the source of truth every other stage reads."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

SOURCE_KINDS = ("call", "interview", "email", "ticket", "other")


def _key_of_name(context) -> str:
    from ..accounts import account_key

    return account_key(context.get_current_parameters()["name"])


class Account(Base):
    __tablename__ = "accounts"
    # A unique index, not a constraint: adding one to SQLite would rebuild the table its notes point to.
    __table_args__ = (Index("uq_accounts_key", "key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The name without legal form, case, accents and punctuation (`service.accounts.account_key`): "ACME corp." and
    # "Acme Corporation" are one account, shown by its first spelling.
    key: Mapped[str | None] = mapped_column(String(200), default=_key_of_name)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    notes: Mapped[list["Note"]] = relationship(back_populates="account")


class AccountAlias(Base):
    """A name merged into an account by a person (`feedback accounts merge`): notes written under it later file under
    the account, and erasing the account erases this name too."""
    __tablename__ = "account_aliases"
    __table_args__ = (Index("ix_account_aliases_key", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Note(Base):
    __tablename__ = "notes"
    # AUTOINCREMENT: a deleted note's number is never handed out again in SQLite, so its public id (when it had no
    # external id) in drafts, reports, audit entries and older theme snapshots never comes to name another note.
    __table_args__ = (
        UniqueConstraint("external_id"),
        Index("ix_notes_account_norm", "account_id", "norm_hash"),
        Index("ix_notes_occurred_at", "occurred_at"),
        Index("ix_notes_updated_at", "updated_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(20), default="other")
    author: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime | None]
    meta: Mapped[dict] = mapped_column(default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    norm_hash: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    account: Mapped[Account | None] = relationship(back_populates="notes")
    statements: Mapped[list["Statement"]] = relationship(
        back_populates="note", cascade="all, delete-orphan", passive_deletes=True, order_by="Statement.ordinal"
    )

    @property
    def public_id(self) -> str:
        """The id users see: the external id given at ingest, else the internal one."""
        return self.external_id or str(self.id)

    @property
    def effective_at(self) -> datetime:
        return self.occurred_at or self.ingested_at


class Statement(Base):
    """A sentence-level slice of a note: note.text[start:end] == text, always."""

    __tablename__ = "statements"
    # AUTOINCREMENT: a deleted statement's id (and so its vector id) is never handed out again in SQLite.
    __table_args__ = (Index("ix_statements_note", "note_id", "ordinal"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    start: Mapped[int]
    end: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    speaker: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(20))  # pain | praise | other, set by the themes stage

    note: Mapped[Note] = relationship(back_populates="statements")
