"""drafts for sales and feedback on them

Revision ID: 0004_drafts
Revises: 0001_notes
Create Date: 2026-11-27 20:00:00

A branch beside themes and roadmap on purpose: the app upgrades to "heads", and drafts keep item ids
and note ids as plain values (a draft must survive a roadmap re-import or a deleted note unchanged).
"""
from alembic import op
import sqlalchemy as sa


revision = "0004_drafts"
down_revision = "0001_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("account", sa.String(length=200), nullable=True),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("tone", sa.String(length=40), nullable=True),
        sa.Column("verdict", sa.String(length=40), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=40), nullable=False),
        sa.Column("prompt_version", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drafts")),
    )
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.create_index("ix_drafts_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_drafts_account", ["account"], unique=False)

    op.create_table(
        "draft_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=4), nullable=False),
        sa.Column("edited_text", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("rating IN ('up', 'down', '1', '2', '3', '4', '5')", name=op.f("ck_draft_feedback_rating")),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name=op.f("fk_draft_feedback_draft_id_drafts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draft_feedback")),
    )
    with op.batch_alter_table("draft_feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_draft_feedback_draft_id"), ["draft_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("draft_feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_draft_feedback_draft_id"))
    op.drop_table("draft_feedback")
    with op.batch_alter_table("drafts", schema=None) as batch_op:
        batch_op.drop_index("ix_drafts_account")
        batch_op.drop_index("ix_drafts_created_at")
    op.drop_table("drafts")
