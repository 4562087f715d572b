"""index notes.updated_at

Revision ID: 0006_notes_updated_at
Revises: 0001_notes
Create Date: 2026-11-27 22:05:00

Caches of derived data (roadmap scores, the fitted matcher, the name registry) ask "did any note change?" on every
draft; with this index max(updated_at) is a lookup instead of a scan of every note's text.
"""
from alembic import op


revision = "0006_notes_updated_at"
down_revision = "0001_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.create_index("ix_notes_updated_at", ["updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("notes", schema=None) as batch_op:
        batch_op.drop_index("ix_notes_updated_at")
