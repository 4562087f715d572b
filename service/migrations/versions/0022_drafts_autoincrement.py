"""drafts never reuse a deleted draft's number

Revision ID: 0022_drafts_autoincrement
Revises: 0018_feedback_author
Create Date: 2026-12-01 06:00:00

A draft's number is its address (/ask/12, GET /api/v1/drafts/12), pasted into chats and tickets. Without
AUTOINCREMENT, SQLite handed the newest draft's number out again once that draft was deleted (DELETE
/api/v1/drafts/<id>, or an account's erasure), so an old link to an erased account's draft opened another account's
draft. How the table is rebuilt, its ratings, roadmap links and "told" marks kept: service/migrations/sqlite_rebuild.py.
"""
from service.migrations.sqlite_rebuild import rebuild

revision = "0022_drafts_autoincrement"
down_revision = "0018_feedback_author"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild("drafts", autoincrement=True)


def downgrade() -> None:
    rebuild("drafts", autoincrement=False)
