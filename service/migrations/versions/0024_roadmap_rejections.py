"""roadmap rejections: "not the right item"

Revision ID: 0024_roadmap_rejections
Revises: 0013_draft_links
Create Date: 2026-12-01 06:10:00

A rep who answers "is this the right item?" with no on a draft, or a PM who says a quote on the follow-ups page is not
about the item, rejects the pair; the matcher then declines that item for requests that read as the rejected text.
Before, "no" only removed a link and left a comment on the draft: the next identical question cited the item again.
"""
import sqlalchemy as sa
from alembic import op

revision = "0024_roadmap_rejections"
down_revision = "0013_draft_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roadmap_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("statement_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("(draft_id IS NULL) <> (statement_id IS NULL)",
                           name=op.f("ck_roadmap_rejections_one_target")),
        sa.ForeignKeyConstraint(["item_id"], ["roadmap_items.id"], name=op.f("fk_roadmap_rejections_item_id_roadmap_items"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["statement_id"], ["statements.id"],
                                name=op.f("fk_roadmap_rejections_statement_id_statements"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadmap_rejections")),
    )
    op.create_index(op.f("ix_roadmap_rejections_item_id"), "roadmap_rejections", ["item_id"])
    op.create_index(op.f("ix_roadmap_rejections_draft_id"), "roadmap_rejections", ["draft_id"])
    op.create_index(op.f("ix_roadmap_rejections_statement_id"), "roadmap_rejections", ["statement_id"])
    op.create_index("uq_roadmap_rejections_item_draft", "roadmap_rejections", ["item_id", "draft_id"], unique=True,
                    sqlite_where=sa.text("draft_id IS NOT NULL"), postgresql_where=sa.text("draft_id IS NOT NULL"))
    op.create_index("uq_roadmap_rejections_item_statement", "roadmap_rejections", ["item_id", "statement_id"],
                    unique=True, sqlite_where=sa.text("statement_id IS NOT NULL"),
                    postgresql_where=sa.text("statement_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_table("roadmap_rejections")
