"""Server-side sessions, drafts, disabled reviewers and the username skeleton (confusable names refused).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from translation_review.usernames import skeleton

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reviewers") as batch:
        batch.add_column(sa.Column("disabled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("skeleton", sa.String(64), nullable=True))
    reviewers = sa.table("reviewers", sa.column("id", sa.Integer), sa.column("username", sa.String),
                         sa.column("skeleton", sa.String))
    conn = op.get_bind()
    taken: set[str] = set()
    for reviewer_id, username in conn.execute(sa.select(reviewers.c.id, reviewers.c.username)
                                              .order_by(reviewers.c.id)).all():
        # Names from before the rule may share a skeleton: the later one gets its id appended (it keeps its
        # login; a new name like either is still refused through the first).
        key = skeleton(username)
        key = key if key not in taken else f"{key}#{reviewer_id}"
        taken.add(key)
        conn.execute(reviewers.update().where(reviewers.c.id == reviewer_id).values(skeleton=key[:64]))
    with op.batch_alter_table("reviewers") as batch:
        batch.alter_column("skeleton", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_reviewers_skeleton", ["skeleton"])
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_sessions_reviewer_id", "sessions", ["reviewer_id"])
    op.create_table(
        "drafts",
        sa.Column("item_id", sa.String(255), sa.ForeignKey("items.item_id", ondelete="CASCADE"), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("reviewers.id"), primary_key=True),
        sa.Column("item_version", sa.Integer, nullable=False),
        sa.Column("translation", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drafts")
    op.drop_index("ix_sessions_reviewer_id", table_name="sessions")
    op.drop_table("sessions")
    with op.batch_alter_table("reviewers") as batch:
        batch.drop_constraint("uq_reviewers_skeleton", type_="unique")
        batch.drop_column("skeleton")
        batch.drop_column("disabled_at")
