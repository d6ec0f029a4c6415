"""Initial schema: pools, identities, links, signing keys, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pools",
        sa.Column("pool_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(16), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_pools_account_region_order", "pools", ["account_id", "region", "created_at", "pool_id"]
    )
    op.create_table(
        "identities",
        sa.Column("identity_id", sa.String(64), primary_key=True),
        sa.Column("pool_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("modified_at", sa.Float, nullable=False),
        sa.Column("authenticated", sa.Boolean, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_identities_pool_order", "identities", ["pool_id", "created_at", "identity_id"]
    )
    op.create_table(
        "links",
        sa.Column("pool_id", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(256), primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("identity_id", sa.String(64), nullable=False),
        sa.Column("developer", sa.Boolean, nullable=False),
        sa.Column("slot", sa.String(320), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.UniqueConstraint("identity_id", "slot", name="uq_links_identity_slot"),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(128), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("active_guard", sa.Integer, nullable=True, unique=True),
        sa.Column("private_key", sa.LargeBinary, nullable=False),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("retired_at", sa.Float, nullable=True),
        sa.Column("expires_at", sa.Float, nullable=True),
    )
    op.create_table(
        "events",
        sa.Column("event_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(16), nullable=False),
        sa.Column("pool_id", sa.String(64), nullable=False),
        sa.Column("identity_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("at", sa.Float, nullable=False),
    )
    op.create_index("ix_events_pool", "events", ["account_id", "pool_id", "event_id"])


def downgrade() -> None:
    for table in ("events", "signing_keys", "links", "identities", "pools"):
        op.drop_table(table)
