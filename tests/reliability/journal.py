"""A write load with a client-side journal of what the server acknowledged.

The crash and outage tests share it: run the load, break something (SIGKILL the server, stop
PostgreSQL), and afterwards `verify` that every write that got a 2xx is still there and
consistent. Writes whose answer never arrived, or was an error, may land either way.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from tests.reliability.conftest import DEV, FB, GOOGLE
from tests.reliability.support import acall, call, ok

ACCOUNT = "999900000020"

# (operation, response or None on a transport error, seconds the call took)
Observer = Callable[[str, httpx.Response | None, float], None]


@dataclass
class Journal:
    """What the server acknowledged (2xx)."""

    pools: dict[str, str] = field(default_factory=dict)  # pool id -> name
    logins: dict[str, str] = field(default_factory=dict)  # facebook subject -> identity
    links: dict[str, str] = field(default_factory=dict)  # google subject -> identity
    developers: dict[str, str] = field(default_factory=dict)  # developer user -> identity
    guests: list[str] = field(default_factory=list)  # guest identities (group commit)
    failures: int = 0

    @property
    def size(self) -> int:
        return (
            len(self.pools)
            + len(self.logins)
            + len(self.links)
            + len(self.developers)
            + len(self.guests)
        )


def create_load_pool(url: str) -> str:
    with httpx.Client(base_url=url, timeout=20) as client:
        created = call(
            client,
            "CreateIdentityPool",
            {
                "IdentityPoolName": "journaled",
                "AllowUnauthenticatedIdentities": True,
                "SupportedLoginProviders": {FB: "app", GOOGLE: "client"},
                "DeveloperProviderName": DEV,
            },
            access_key=ACCOUNT,
        )
        return str(ok(created)["IdentityPoolId"])


async def _one_write(
    client: httpx.AsyncClient, pool_id: str, journal: Journal, prefix: str, n: int
) -> tuple[str, httpx.Response] | None:
    kind = n % 5
    if kind == 4:
        # A new guest: created by group commit, acknowledged only after its COMMIT.
        response = await acall(client, "GetId", {"IdentityPoolId": pool_id})
        if response.status_code == 200:
            journal.guests.append(response.json()["IdentityId"])
        return "GetId", response
    if kind == 0:
        subject = f"{prefix}fb{n}"
        response = await acall(
            client, "GetId", {"IdentityPoolId": pool_id, "Logins": {FB: subject}}
        )
        if response.status_code == 200:
            journal.logins[subject] = response.json()["IdentityId"]
        return "GetId", response
    if kind == 1:
        # Link a second login to an identity acknowledged earlier.
        if not journal.logins:
            return None
        subject, identity = list(journal.logins.items())[n % len(journal.logins)]
        logins = {FB: subject, GOOGLE: f"{subject}-g"}
        response = await acall(client, "GetId", {"IdentityPoolId": pool_id, "Logins": logins})
        if response.status_code == 200:
            assert response.json()["IdentityId"] == identity, subject
            journal.links[f"{subject}-g"] = identity
        return "GetId", response
    if kind == 2:
        user = f"{prefix}dev{n}"
        response = await acall(
            client,
            "GetOpenIdTokenForDeveloperIdentity",
            {"IdentityPoolId": pool_id, "Logins": {DEV: user}},
            access_key=ACCOUNT,
        )
        if response.status_code == 200:
            journal.developers[user] = response.json()["IdentityId"]
        return "GetOpenIdTokenForDeveloperIdentity", response
    name = f"{prefix}pool{n}"
    response = await acall(
        client,
        "CreateIdentityPool",
        {"IdentityPoolName": name, "AllowUnauthenticatedIdentities": False},
        access_key=ACCOUNT,
    )
    if response.status_code == 200:
        journal.pools[response.json()["IdentityPoolId"]] = name
    return "CreateIdentityPool", response


async def write_load(
    url: str,
    pool_id: str,
    journal: Journal,
    stop: asyncio.Event,
    *,
    prefix: str,
    workers: int = 12,
    observe: Observer | None = None,
    timeout: float = 30.0,
) -> None:
    """New logins, links, developer ids and pools from `workers` clients until `stop` is set."""
    counter = itertools.count()

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=timeout) as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    answered = await _one_write(client, pool_id, journal, prefix, next(counter))
                except httpx.TransportError:
                    journal.failures += 1
                    if observe is not None:
                        observe("-", None, time.monotonic() - started)
                    await asyncio.sleep(0.01)
                    continue
                if answered is not None and observe is not None:
                    observe(answered[0], answered[1], time.monotonic() - started)

    await asyncio.gather(*(worker() for _ in range(workers)))


def verify(url: str, pool_id: str, journal: Journal) -> None:
    """Every acknowledged write is present and answers the same as when it was acknowledged."""
    with httpx.Client(base_url=url, timeout=20) as client:
        for created, name in journal.pools.items():
            described = call(
                client, "DescribeIdentityPool", {"IdentityPoolId": created}, access_key=ACCOUNT
            )
            assert ok(described)["IdentityPoolName"] == name
        for subject, identity in journal.logins.items():
            again = call(client, "GetId", {"IdentityPoolId": pool_id, "Logins": {FB: subject}})
            assert ok(again)["IdentityId"] == identity, subject
        for subject, identity in journal.links.items():
            again = call(client, "GetId", {"IdentityPoolId": pool_id, "Logins": {GOOGLE: subject}})
            assert ok(again)["IdentityId"] == identity, subject
            described = call(
                client, "DescribeIdentity", {"IdentityId": identity}, access_key=ACCOUNT
            )
            assert sorted(ok(described)["Logins"]) == [GOOGLE, FB]
        for user, identity in journal.developers.items():
            found = call(
                client,
                "LookupDeveloperIdentity",
                {"IdentityPoolId": pool_id, "DeveloperUserIdentifier": user},
                access_key=ACCOUNT,
            )
            assert ok(found)["IdentityId"] == identity, user
        for identity in journal.guests:
            described = call(
                client, "DescribeIdentity", {"IdentityId": identity}, access_key=ACCOUNT
            )
            assert ok(described)["IdentityId"] == identity
