"""API tokens may expire

Revision ID: 0025_token_expiry
Revises: 0015_auth
Create Date: 2026-12-01 06:10:00

`feedback tokens create --expires-in DAYS`: a token for a CI job or a contractor need not work until someone
remembers to revoke it. Existing tokens get no expiry (NULL): they work until revoked, as before.
"""
import sqlalchemy as sa
from alembic import op

revision = "0025_token_expiry"
down_revision = "0015_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("expires_at")
