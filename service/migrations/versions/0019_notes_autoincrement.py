"""notes never reuse a deleted note's number

Revision ID: 0019_notes_autoincrement
Revises: 0006_notes_updated_at
Create Date: 2026-12-01 10:00:00

Without AUTOINCREMENT, SQLite hands the newest note's number out again once that note is deleted; its public id
(the number, when it had no external id) in drafts, reports, audit entries and older theme snapshots then names an
unrelated note. How the table is rebuilt, its statements and roadmap links kept: service/migrations/sqlite_rebuild.py.
"""
from service.migrations.sqlite_rebuild import rebuild

revision = "0019_notes_autoincrement"
down_revision = "0006_notes_updated_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("notes", autoincrement=True)


def downgrade() -> None:
    rebuild("notes", autoincrement=False)
