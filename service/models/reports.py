"""Stored nightly reports: one row per (period, start, end), so re-running a period replaces its report."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

PERIODS = ("1d", "7d", "30d")
# A report asked for now (CLI, API, page) covers the themes pages' window unless told otherwise; the nightly job
# (`feedback schedule`) reports on the last day.
DEFAULT_PERIOD = "30d"
NIGHTLY_PERIOD = "1d"
DELIVERY_STATUSES = ("not_sent", "queued", "sent", "failed")


class Report(Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("period", "period_start", "period_end"),
        Index("ix_reports_created_at", "created_at"),
        {"sqlite_autoincrement": True},  # a deleted report's number, its address, is never reused (migration 0023)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    period: Mapped[str] = mapped_column(String(8))  # 1d | 7d | 30d
    period_start: Mapped[date] = mapped_column(Date)  # inclusive, midnight UTC
    period_end: Mapped[date] = mapped_column(Date)  # exclusive: a nightly run on day D covers up to D 00:00
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    theme_run_id: Mapped[int | None]  # no FK: theme runs may be pruned, the report stays readable
    data: Mapped[dict] = mapped_column(default=dict)  # the structured report; html and markdown render it
    html: Mapped[str] = mapped_column(Text, default="")
    markdown: Mapped[str] = mapped_column(Text, default="")
    delivered_at: Mapped[datetime | None]
    delivery_status: Mapped[str] = mapped_column(String(20), default="not_sent")
    delivery_error: Mapped[str | None] = mapped_column(Text)
    delivery_attempts: Mapped[int] = mapped_column(default=0)


__all__ = ["PERIODS", "DELIVERY_STATUSES", "Report"]
