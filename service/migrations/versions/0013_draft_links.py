"""roadmap links from confirmed drafts

Revision ID: 0013_draft_links
Revises: 0003_roadmap
Create Date: 2026-11-29 23:59:00

A rep who answers "is this the right item?" with yes on a draft links the draft to the item; its question becomes
evidence for the item, as a linked note's statements do. drafts.id has no FK here (a draft may be deleted; its link
then simply adds no evidence), so this revision does not depend on the drafts tables.
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_draft_links"
down_revision = "0003_roadmap"
branch_labels = None
depends_on = None

OLD = ("(kind = 'note' AND note_id IS NOT NULL AND theme_id IS NULL)"
       " OR (kind = 'theme' AND theme_id IS NOT NULL AND note_id IS NULL)")
NEW = ("(kind = 'note' AND note_id IS NOT NULL AND theme_id IS NULL AND draft_id IS NULL)"
       " OR (kind = 'theme' AND theme_id IS NOT NULL AND note_id IS NULL AND draft_id IS NULL)"
       " OR (kind = 'draft' AND draft_id IS NOT NULL AND note_id IS NULL AND theme_id IS NULL)")


def upgrade() -> None:
    with op.batch_alter_table("roadmap_links", recreate="always") as batch_op:
        batch_op.add_column(sa.Column("draft_id", sa.Integer(), nullable=True))
        batch_op.drop_constraint(op.f("ck_roadmap_links_one_target"), type_="check")
        batch_op.create_check_constraint(op.f("ck_roadmap_links_one_target"), NEW)
        batch_op.create_index(op.f("ix_roadmap_links_draft_id"), ["draft_id"], unique=False)
    op.create_index("uq_roadmap_links_item_draft", "roadmap_links", ["item_id", "draft_id"], unique=True,
                    sqlite_where=sa.text("draft_id IS NOT NULL"), postgresql_where=sa.text("draft_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_roadmap_links_item_draft", table_name="roadmap_links")
    op.execute("DELETE FROM roadmap_links WHERE kind = 'draft'")
    with op.batch_alter_table("roadmap_links", recreate="always") as batch_op:
        batch_op.drop_index(op.f("ix_roadmap_links_draft_id"))
        batch_op.drop_constraint(op.f("ck_roadmap_links_one_target"), type_="check")
        batch_op.create_check_constraint(op.f("ck_roadmap_links_one_target"), OLD)
        batch_op.drop_column("draft_id")
