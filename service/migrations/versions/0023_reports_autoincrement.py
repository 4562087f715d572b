"""reports never reuse a deleted report's number

Revision ID: 0023_reports_autoincrement
Revises: 0005_reports
Create Date: 2026-12-01 06:00:00

A report's number is its address (/reports/7, GET /api/v1/reports/7), sent in the nightly webhook and kept in
inboxes. Without AUTOINCREMENT, SQLite handed the newest report's number out again once that report was deleted, so
an old link opened a later report of another period. How the table is rebuilt: service/migrations/sqlite_rebuild.py.
"""
from service.migrations.sqlite_rebuild import rebuild

revision = "0023_reports_autoincrement"
down_revision = "0005_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("reports", autoincrement=True)


def downgrade() -> None:
    rebuild("reports", autoincrement=False)
