"""signing out ends every copy of a user's session

Revision ID: 0020_session_generation
Revises: 0015_auth
Create Date: 2026-12-02 10:00:00

Sessions are signed cookies and the server keeps no copy of them, so a cookie copied before sign-out used to keep
working. users.session_generation is stored in the session at sign-in and checked on each request; sign-out,
disabling a user and `feedback users sign-out` raise it, which ends every session that carries the old number.
Existing users start at 0, the number a session stored before this revision (which has none) counts as.

users is the parent of sign_in_codes (ON DELETE CASCADE). Alembic's batch mode rebuilds a SQLite table it cannot
ALTER, and with foreign keys on, dropping the old users table would first delete every sign-in code. So the batches
never rebuild: SQLite adds the column in place, and drops it in place on the way down (SQLite 3.35 or newer).
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_session_generation"
down_revision = "0015_auth"
branch_labels = None
depends_on = None

SQLITE_DROP_COLUMN = (3, 35, 0)


def upgrade() -> None:
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and not op.get_context().as_sql:  # offline (--sql) there is no SQLite to ask
        found = bind.exec_driver_sql("SELECT sqlite_version()").scalar()
        if tuple(int(part) for part in found.split(".")[:3]) < SQLITE_DROP_COLUMN:
            raise RuntimeError(
                "downgrading 0020_session_generation drops users.session_generation in place, which needs SQLite "
                f"3.35 or newer (this Python has SQLite {found}); rebuilding users instead would delete every "
                "sign-in code through its foreign key")
    with op.batch_alter_table("users", recreate="never") as batch:
        batch.drop_column("session_generation")
