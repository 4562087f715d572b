from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict: JSON, list: JSON}


# The largest row id: id columns are INTEGER, which PostgreSQL stores in 4 bytes. A larger number names no row, and
# asking for it there is a DataError (a 500), where SQLite just finds nothing.
MAX_ROW_ID = 2**31 - 1


def row_number(value) -> int | None:
    """A row id written as digits (a path, a form, a public note id) as an int, or None when it cannot name a row."""
    text = str(value).strip() if value is not None and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= MAX_ROW_ID else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
