"""a write lock for theme edits

Revision ID: 0021_theme_edit_lock
Revises: 0015_auth
Create Date: 2026-12-01 03:30:00

Two theme edits made at once (a merge of 7 into 27 and of 27 into 7, from two browsers) each checked the edits
stored so far, found no conflict, and both were stored: each theme then pointed at the other. Edits now take the
"themes" write lock (service/locks.py) before they check, so the second sees the first and is refused (409).
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_theme_edit_lock"
down_revision = "0015_auth"
branch_labels = None
depends_on = None

LOCKS = sa.table("write_locks", sa.column("name", sa.String), sa.column("turns", sa.Integer))


def upgrade() -> None:
    op.bulk_insert(LOCKS, [{"name": "themes", "turns": 0}])


def downgrade() -> None:
    op.execute(LOCKS.delete().where(LOCKS.c.name == "themes"))
