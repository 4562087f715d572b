"""roadmap items and their links to notes and themes

Revision ID: 0003_roadmap
Revises: 0001_notes
Create Date: 2026-11-27 19:00:00

A branch beside 0002_themes on purpose: the app upgrades to "heads", and roadmap_links.theme_id
has no foreign key, so this revision does not depend on the themes tables.
"""
from alembic import op
import sqlalchemy as sa


revision = "0003_roadmap"
down_revision = "0001_notes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "roadmap_items",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("release", sa.String(length=100), nullable=True),
        sa.Column("goal", sa.String(length=500), nullable=True),
        sa.Column("reach", sa.Float(), nullable=True),
        sa.Column("impact", sa.Float(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("effort", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=True),
        sa.Column("workaround", sa.Text(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadmap_items")),
    )
    op.create_index(op.f("ix_roadmap_items_status"), "roadmap_items", ["status"], unique=False)
    op.create_table(
        "roadmap_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=True),
        sa.Column("theme_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(kind = 'note' AND note_id IS NOT NULL AND theme_id IS NULL)"
            " OR (kind = 'theme' AND theme_id IS NOT NULL AND note_id IS NULL)",
            name=op.f("ck_roadmap_links_one_target"),
        ),
        sa.ForeignKeyConstraint(["item_id"], ["roadmap_items.id"],
                                name=op.f("fk_roadmap_links_item_id_roadmap_items"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["note_id"], ["notes.id"], name=op.f("fk_roadmap_links_note_id_notes"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roadmap_links")),
    )
    op.create_index(op.f("ix_roadmap_links_note_id"), "roadmap_links", ["note_id"], unique=False)
    op.create_index(op.f("ix_roadmap_links_theme_id"), "roadmap_links", ["theme_id"], unique=False)
    # Partial unique indexes (SQLite and PostgreSQL both support WHERE): NULL targets must not collide.
    op.create_index("uq_roadmap_links_item_note", "roadmap_links", ["item_id", "note_id"], unique=True,
                    sqlite_where=sa.text("note_id IS NOT NULL"), postgresql_where=sa.text("note_id IS NOT NULL"))
    op.create_index("uq_roadmap_links_item_theme", "roadmap_links", ["item_id", "theme_id"], unique=True,
                    sqlite_where=sa.text("theme_id IS NOT NULL"), postgresql_where=sa.text("theme_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_roadmap_links_item_theme", table_name="roadmap_links")
    op.drop_index("uq_roadmap_links_item_note", table_name="roadmap_links")
    op.drop_index(op.f("ix_roadmap_links_theme_id"), table_name="roadmap_links")
    op.drop_index(op.f("ix_roadmap_links_note_id"), table_name="roadmap_links")
    op.drop_table("roadmap_links")
    op.drop_index(op.f("ix_roadmap_items_status"), table_name="roadmap_items")
    op.drop_table("roadmap_items")
