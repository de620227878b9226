"""Indexes for claim-next, found by the load benchmark: the reviewer's own live lease (without an index on
claims.reviewer_id every pending item was scanned), and the pending items in queue order (a partial index;
without it PostgreSQL walked the primary key past every decided item).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_claims_reviewer_live", "claims", ["reviewer_id", "expires_at"])
    pending = sa.text("status = 'pending'")
    op.create_index("ix_items_pending", "items", ["id"], postgresql_where=pending, sqlite_where=pending)


def downgrade() -> None:
    op.drop_index("ix_items_pending", table_name="items")
    op.drop_index("ix_claims_reviewer_live", table_name="claims")
