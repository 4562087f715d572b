"""roadmap status history and follow-up marks

Revision ID: 0017_status_history
Revises: 0003_roadmap
Create Date: 2026-11-30 02:00:00

Every import or edit of the roadmap records each item's status and release changes (with time and source), and a
rep can mark an account as told about an item's status. Neither table has a foreign key: an item's history outlives
the item, and a told mark outlives the draft it names.
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_status_history"
down_revision = "0003_roadmap"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roadmap_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("old_status", sa.String(length=20), nullable=True),
        sa.Column("new_status", sa.String(length=20), nullable=True),
        sa.Column("old_release", sa.String(length=100), nullable=True),
        sa.Column("new_release", sa.String(length=100), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadmap_status_changes")),
    )
    op.create_index("ix_roadmap_status_changes_item", "roadmap_status_changes", ["item_id", "changed_at"])
    op.create_index("ix_roadmap_status_changes_changed_at", "roadmap_status_changes", ["changed_at"])
    op.create_table(
        "followup_told",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("told_at", sa.DateTime(), nullable=False),
        sa.Column("told_by", sa.String(length=200), nullable=True),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_followup_told")),
    )
    op.create_index("uq_followup_told_item_account_status", "followup_told", ["item_id", "account", "status"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_followup_told_item_account_status", table_name="followup_told")
    op.drop_table("followup_told")
    op.drop_index("ix_roadmap_status_changes_changed_at", table_name="roadmap_status_changes")
    op.drop_index("ix_roadmap_status_changes_item", table_name="roadmap_status_changes")
    op.drop_table("roadmap_status_changes")
