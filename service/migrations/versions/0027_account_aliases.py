"""a merged account's name stays an alias of the account it was merged into

Revision ID: 0027_account_aliases
Revises: 0026_account_keys
Create Date: 2026-12-02 14:00:00

`feedback accounts merge AWS "Amazon Web Services"` deleted the account "AWS": the next note written for "AWS" made
it again, and erasing "Amazon Web Services" left the name "AWS" in theme snapshots. The merged name is now kept as an
alias (its key looked up as the account's own), deleted with the account.
"""
import sqlalchemy as sa
from alembic import op

revision = "0027_account_aliases"
down_revision = "0026_account_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_account_aliases_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_aliases")),
        sa.UniqueConstraint("name", name=op.f("uq_account_aliases_name")),
    )
    op.create_index("ix_account_aliases_key", "account_aliases", ["key"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_account_aliases_key", table_name="account_aliases")
    op.drop_table("account_aliases")
