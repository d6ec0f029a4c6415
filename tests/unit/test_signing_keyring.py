"""Keyring: first-key creation (race-safe), encryption at rest, JWKS format, rotation, reload."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from idpool.domain.ports import StoredKey
from idpool.signing.crypto_box import KeySecretMismatch
from idpool.signing.keyring import Keyring, minimum_overlap
from idpool.signing.memory_store import MemoryKeyStore

SECRET = "correct horse battery staple"
B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def b64url_int(value: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)), "big")


def rfc7638_thumbprint(jwk: dict[str, Any]) -> str:
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).decode().rstrip("=")
    )


def test_first_start_creates_one_encrypted_key_with_a_thumbprint_kid() -> None:
    store, clock = MemoryKeyStore(), FakeClock()
    keyring = run(Keyring.open(store, SECRET, clock, "eu-west-1"))
    assert len(store.keys) == 1
    stored = store.keys[0]
    assert stored.retired_at is None and stored.kid == keyring.active.kid
    assert keyring.active.kid == "eu-west-1-" + rfc7638_thumbprint(dict(stored.public_jwk))
    der = keyring.active.private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert der not in stored.private_key_encrypted
    assert der[64:96] not in stored.private_key_encrypted


def test_jwks_is_rfc7517_with_cognito_members() -> None:
    keyring = run(Keyring.open(MemoryKeyStore(), SECRET, FakeClock(), "us-east-1"))
    jwks = keyring.jwks()
    (jwk,) = jwks["keys"]
    assert set(jwk) == {"kty", "e", "use", "kid", "alg", "n"}
    assert (jwk["kty"], jwk["e"], jwk["use"], jwk["alg"]) == ("RSA", "AQAB", "sig", "RS512")
    assert B64URL.match(jwk["n"]) and B64URL.match(jwk["e"])
    numbers = keyring.active.private_key.public_key().public_numbers()
    assert b64url_int(jwk["n"]) == numbers.n
    # No leading zero octet (the quirk of AWS's own JWKS): 2048 bits are exactly 256 bytes.
    assert len(base64.urlsafe_b64decode(jwk["n"] + "==")) == 256
    json.dumps(jwks)  # plain JSON data


def test_reopening_uses_the_stored_key() -> None:
    store, clock = MemoryKeyStore(), FakeClock()
    first = run(Keyring.open(store, SECRET, clock, "us-east-1"))
    again = run(Keyring.open(store, SECRET, clock, "us-east-1"))
    assert again.active.kid == first.active.kid
    assert again.active.private_key.private_numbers() == first.active.private_key.private_numbers()
    assert len(store.keys) == 1


def test_wrong_secret_refuses_to_open() -> None:
    store = MemoryKeyStore()
    run(Keyring.open(store, SECRET, FakeClock(), "us-east-1"))
    with pytest.raises(KeySecretMismatch, match="key secret changed"):
        run(Keyring.open(store, "another secret", FakeClock(), "us-east-1"))


def test_empty_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="secret"):
        run(Keyring.open(MemoryKeyStore(), "", FakeClock(), "us-east-1"))


def test_replicas_starting_together_end_with_one_active_key() -> None:
    store, clock = MemoryKeyStore(), FakeClock()

    async def start_three() -> list[Keyring]:
        return list(
            await asyncio.gather(*(Keyring.open(store, SECRET, clock, "us-east-1") for _ in "abc"))
        )

    keyrings = run(start_three())
    assert len(store.keys) == 1
    assert {k.active.kid for k in keyrings} == {store.keys[0].kid}


def test_rotation_keeps_the_old_key_published_until_its_tokens_expired() -> None:
    store, clock = MemoryKeyStore(), FakeClock()
    keyring = run(Keyring.open(store, SECRET, clock, "us-east-1"))
    old = keyring.active.kid
    clock.now += 10
    new = run(keyring.rotate())
    assert new != old and keyring.active.kid == new
    assert [k["kid"] for k in keyring.jwks()["keys"]] == [new, old]
    retired = next(k for k in store.keys if k.kid == old)
    assert retired.retired_at == clock.now
    assert retired.expires_at == clock.now + minimum_overlap(60.0)
    assert minimum_overlap(60.0) >= 86400 + 60

    clock.now += 86400  # every token the old key signed has expired, but not the leeway
    assert keyring.public_key(old) is not None
    clock.now += minimum_overlap(60.0) - 86400
    assert [k["kid"] for k in keyring.jwks()["keys"]] == [new]
    assert keyring.public_key(old) is None
    assert [k.kid for k in run(store.load_keys(clock.now))] == [new]


def test_rotation_refuses_a_too_short_overlap() -> None:
    keyring = run(Keyring.open(MemoryKeyStore(), SECRET, FakeClock(), "us-east-1"))
    with pytest.raises(ValueError, match="published at least"):
        run(keyring.rotate(overlap_seconds=3600))
    longer = run(keyring.rotate(overlap_seconds=7 * 86400))
    assert keyring.active.kid == longer


def test_other_replica_picks_up_a_rotation_on_reload() -> None:
    store, clock = MemoryKeyStore(), FakeClock()
    a = run(Keyring.open(store, SECRET, clock, "us-east-1", reload_seconds=30))
    b = run(Keyring.open(store, SECRET, clock, "us-east-1", reload_seconds=30))
    old = a.active.kid
    new = run(a.rotate())

    # Before the reload period b still signs with the old key (which stays published).
    assert run(b.signing_key()).kid == old
    # A token under the new kid makes b look in the store at once.
    assert run(b.find_public_key(new)) is not None
    assert b.active.kid == new

    c = run(Keyring.open(store, SECRET, clock, "us-east-1", reload_seconds=30))
    run(a.rotate())
    clock.now += 31
    assert run(c.signing_key()).kid == a.active.kid


def test_unknown_kids_reload_at_most_once_a_second() -> None:
    store, clock = MemoryKeyStore(), FakeClock()
    keyring = run(Keyring.open(store, SECRET, clock, "us-east-1"))
    loads = store.loads
    for _ in range(20):
        assert run(keyring.find_public_key("forged")) is None
    assert store.loads == loads + 1
    clock.now += 1
    run(keyring.find_public_key("forged"))
    assert store.loads == loads + 2


class FlakyStore(MemoryKeyStore):
    fail = False

    async def load_keys(self, now: float) -> list[StoredKey]:
        if self.fail:
            raise ConnectionError("database is down")
        return await super().load_keys(now)


def test_a_failing_reload_keeps_the_cached_keys() -> None:
    store, clock = FlakyStore(), FakeClock()
    keyring = run(Keyring.open(store, SECRET, clock, "us-east-1"))
    kid = keyring.active.kid
    store.fail = True
    clock.now += 3600
    assert run(keyring.signing_key()).kid == kid
    with pytest.raises(ConnectionError):
        run(keyring.refresh())


class CountingStore(MemoryKeyStore):
    inserts = 0

    async def insert_key_if_no_active(self, key: StoredKey) -> bool:
        self.inserts += 1
        return await super().insert_key_if_no_active(key)


def test_the_race_really_happens_and_losers_adopt_the_winner() -> None:
    store, clock = CountingStore(), FakeClock()

    async def start_two() -> tuple[Keyring, Keyring]:
        a, b = await asyncio.gather(
            *(Keyring.open(store, SECRET, clock, "us-east-1") for _ in "ab")
        )
        return a, b

    a, b = run(start_two())
    assert store.inserts == 2  # both generated a key; the uniqueness guard kept one
    assert a.active.kid == b.active.kid == store.keys[0].kid
    assert a.active.private_key.private_numbers() == b.active.private_key.private_numbers()


def test_on_the_sql_key_store(tmp_path: Any) -> None:
    """The same rules hold on the real SQLite store (the lead's SqlKeyStore)."""
    from idpool.storage.dialects import make_source
    from idpool.storage.keys import SqlKeyStore
    from idpool.storage.migrate import upgrade
    from idpool.storage.sql import SqlStore

    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    upgrade(url)
    clock = FakeClock()

    async def scenario() -> None:
        sql = SqlStore(make_source(url))
        try:
            store = SqlKeyStore(sql)
            a, b = await asyncio.gather(
                *(Keyring.open(store, SECRET, clock, "us-east-1") for _ in "ab")
            )
            assert a.active.kid == b.active.kid
            assert len(await store.load_keys(clock.now)) == 1
            old = a.active.kid
            clock.now += 5
            new = await a.rotate()
            assert [k["kid"] for k in a.jwks()["keys"]] == [new, old]
            with pytest.raises(KeySecretMismatch):
                await Keyring.open(store, "wrong", clock, "us-east-1")
            reopened = await Keyring.open(store, SECRET, clock, "us-east-1")
            assert reopened.active.kid == new
            clock.now += minimum_overlap(60.0) + 1
            await reopened.refresh()
            assert [k["kid"] for k in reopened.jwks()["keys"]] == [new]
        finally:
            await sql.close()

    run(scenario())
