"""per-caller daily LLM call counters

Revision ID: 0015b_llm_usage
Revises: 0015_auth
Create Date: 2026-11-30 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = "0015b_llm_usage"
down_revision = "0015_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_usage",
        sa.Column("caller", sa.String(length=80), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("caller", "day", name=op.f("pk_llm_usage")),
    )


def downgrade() -> None:
    op.drop_table("llm_usage")
