"""The schema, as SQLAlchemy Core tables: the single source the migrations and queries share.

Portable DDL only (no PostgreSQL-only types): the same tables run on SQLite, PostgreSQL and
the PostgreSQL-compatible distributed engines. `account_id` is on every owned row so that
every admin query can be scoped by account without a join.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

pools = Table(
    "pools",
    metadata,
    Column("pool_id", String(64), primary_key=True),
    Column("account_id", String(16), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("version", Integer, nullable=False),
    # Everything else configured on the pool (providers, roles, mappings, tags, tag maps) as
    # one JSON document: it is always read and written whole, never queried inside.
    Column("config", Text, nullable=False),
    Index("ix_pools_account_region_order", "account_id", "region", "created_at", "pool_id"),
)

identities = Table(
    "identities",
    metadata,
    Column("identity_id", String(64), primary_key=True),
    Column("pool_id", String(64), nullable=False),
    Column("account_id", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("modified_at", Float, nullable=False),
    Column("authenticated", Boolean, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Index("ix_identities_pool_order", "pool_id", "created_at", "identity_id"),
)

links = Table(
    "links",
    metadata,
    Column("pool_id", String(64), primary_key=True),
    Column("provider", String(256), primary_key=True),
    Column("subject", Text, primary_key=True),
    Column("identity_id", String(64), nullable=False),
    Column("developer", Boolean, nullable=False),
    # One public login per provider per identity: `slot` is the provider for logins and a
    # unique per-user value for developer ids, so one unique constraint says both.
    Column("slot", String(320), nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("identity_id", "slot", name="uq_links_identity_slot"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(128), primary_key=True),
    Column("created_at", Float, nullable=False),
    # 1 for the active key, NULL for retired ones: the unique constraint lets exactly one
    # replica create the first key when several start at once.
    Column("active_guard", Integer, nullable=True, unique=True),
    Column("private_key", LargeBinary, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("retired_at", Float, nullable=True),
    Column("expires_at", Float, nullable=True),
)

events = Table(
    "events",
    metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", String(16), nullable=False),
    Column("pool_id", String(64), nullable=False),
    Column("identity_id", String(64), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_events_pool", "account_id", "pool_id", "event_id"),
)
