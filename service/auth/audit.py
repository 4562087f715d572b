"""The audit log: who did what, when. Written by the API/pages guard and by CLI commands that change data."""
from __future__ import annotations

import getpass

from sqlalchemy import select

from ..models import AuditEntry


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def record(db, actor: str, action: str, target: str | None = None, details: dict | None = None) -> None:
    with db.transaction() as session:
        session.add(AuditEntry(actor=actor[:400], action=action[:100], target=target, details=details or {}))


def entries(db, *, limit: int = 100, action: str | None = None) -> list[dict]:
    with db.session() as session:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if action:
            query = query.where(AuditEntry.action == action)
        return [{"id": e.id, "at": e.at.isoformat(timespec="seconds") + "Z", "actor": e.actor, "action": e.action,
                 "target": e.target, "details": e.details} for e in session.scalars(query)]
