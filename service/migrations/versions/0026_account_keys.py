"""one customer, one account: accounts are known by a key

Revision ID: 0026_account_keys
Revises: 0001_notes
Create Date: 2026-12-02 13:30:00

"Acme Corp", "ACME corp." and "Acme Corporation" were three accounts: one customer counted three times in a theme's
distinct accounts, listed three times in follow-ups, its brief split in three. Each account now has a key (its name
without legal form, case, accents and punctuation: `service.accounts.account_key`). Accounts already stored under
one key are merged into the oldest (its spelling is the one shown): their notes move to it, and drafts and "told"
marks that named a merged spelling name the kept one. Theme snapshots and a draft's stored evidence keep the
spelling they were made with (they are records of that time). The vector index's copy of a moved note's account
is refreshed by `feedback reindex`; until then a draft finds that note's statements through SQL (its account's
latest statements), not through the index's account filter.
"""
import logging
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

from service.accounts import account_key

log = logging.getLogger("alembic.runtime.migration")  # printed with the upgrade's other lines

revision = "0026_account_keys"
down_revision = "0001_notes"  # a branch of its own: it needs only the accounts and notes tables
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("key", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    tables = set(sa.inspect(bind).get_table_names())
    accounts = bind.execute(sa.text("SELECT id, name FROM accounts ORDER BY id")).all()
    kept: dict[str, tuple[int, str]] = {}
    for account_id, name in accounts:
        key = account_key(name)
        if key not in kept:
            kept[key] = (account_id, name)
            bind.execute(sa.text("UPDATE accounts SET key = :key WHERE id = :id"), {"key": key, "id": account_id})
            continue
        into, into_name = kept[key]
        log.info("merging the account %r into %r: one key, %r", name, into_name, key)
        # updated_at: a running process's caches (follow-ups, scores) see the notes as changed
        bind.execute(sa.text("UPDATE notes SET account_id = :into, updated_at = :now WHERE account_id = :id"),
                     {"into": into, "id": account_id, "now": datetime.now(timezone.utc).replace(tzinfo=None)})
        if "drafts" in tables:
            bind.execute(sa.text("UPDATE drafts SET account = :into WHERE account = :name"), {"into": into_name, "name": name})
        if "followup_told" in tables:
            # (item, account, status) is unique: a mark the kept spelling already has makes the other one redundant
            bind.execute(sa.text(
                "DELETE FROM followup_told WHERE account = :name AND EXISTS (SELECT 1 FROM followup_told AS t "
                "WHERE t.account = :into AND t.item_id = followup_told.item_id AND t.status = followup_told.status)"),
                {"into": into_name, "name": name})
            bind.execute(sa.text("UPDATE followup_told SET account = :into WHERE account = :name"),
                         {"into": into_name, "name": name})
        bind.execute(sa.text("DELETE FROM accounts WHERE id = :id"), {"id": account_id})
    op.create_index("uq_accounts_key", "accounts", ["key"], unique=True)


def downgrade() -> None:
    # Merged accounts stay merged: their notes cannot be told apart again.
    # A plain DROP COLUMN (SQLite 3.35+), not a batch copy: dropping the accounts table would empty its notes' account.
    op.drop_index("uq_accounts_key", table_name="accounts")
    op.drop_column("accounts", "key")
