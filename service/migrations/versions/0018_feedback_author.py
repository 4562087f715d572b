"""who rated a draft

Revision ID: 0018_feedback_author
Revises: 0004_drafts
Create Date: 2026-11-30 21:00:00

A rep's rating or edited version of a draft records who sent it (the token or signed-in user, or the CLI's login
name), as theme edits and told marks do: a confirmed answer becomes evidence, and evidence names its source. Rows
stored before have none.
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_feedback_author"
down_revision = "0004_drafts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("draft_feedback") as batch:
        batch.add_column(sa.Column("author", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("draft_feedback") as batch:
        batch.drop_column("author")
