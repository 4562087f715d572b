"""Per-caller daily counters (the LLM call budget): one row per caller and UTC day."""
from __future__ import annotations

from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class LLMUsage(Base):
    __tablename__ = "llm_usage"

    caller: Mapped[str] = mapped_column(String(80), primary_key=True)  # "token:ID" or "user:ID", never a secret
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # UTC
    calls: Mapped[int] = mapped_column(default=0)


__all__ = ["LLMUsage"]
