"""theme edits: a PM's rename, merge, move and hide, replayed by every later theme run

Revision ID: 0014_theme_edits
Revises: 0002_themes
Create Date: 2026-11-29 23:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_theme_edits'
down_revision = '0002_themes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('theme_edits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=True),
    sa.Column('target_id', sa.Integer(), nullable=True),
    sa.Column('statement_ids', sa.JSON(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['theme_id'], ['themes.id'], name=op.f('fk_theme_edits_theme_id_themes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['themes.id'], name=op.f('fk_theme_edits_target_id_themes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_theme_edits'))
    )
    with op.batch_alter_table('theme_edits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_theme_edits_theme_id'), ['theme_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('theme_edits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_theme_edits_theme_id'))
    op.drop_table('theme_edits')
