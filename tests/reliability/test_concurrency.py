"""Races through HTTP: one server, and two `idpool serve` processes sharing one database.

The store contract suite proves the service race-free in one process; these tests prove the same
through the whole stack and across processes, where only the database can arbitrate: one new
login asked for 64 times at once is one identity, and a storm of link/merge/unlink/delete calls on
the same identities leaves a link graph that is consistent (checked with SQL, then through the
API).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.reliability.conftest import DEV, FB, GOOGLE
from tests.reliability.support import (
    ServerProcess,
    acall,
    assert_aws_answer,
    call,
    link_violations,
    migrate,
    ok,
    query,
)

if TYPE_CHECKING:
    from tests.support.live import LiveServer

ACCOUNT = "999900000010"


def new_pool(url: str) -> str:
    with httpx.Client(base_url=url, timeout=20) as client:
        created = call(
            client,
            "CreateIdentityPool",
            {
                "IdentityPoolName": "race",
                "AllowUnauthenticatedIdentities": True,
                "SupportedLoginProviders": {FB: "app", GOOGLE: "client"},
                "DeveloperProviderName": DEV,
            },
            access_key=ACCOUNT,
        )
        return str(ok(created)["IdentityPoolId"])


async def get_id_storm(urls: list[str], pool_id: str, login: str, n: int = 64) -> list[str]:
    """n GetId calls for one login, released together and spread over the replicas."""
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    clients = [httpx.AsyncClient(base_url=u, timeout=30, limits=limits) for u in urls]
    try:
        # Open the connections first so the calls really arrive together.
        await asyncio.gather(*(c.get("/health") for c in clients))
        responses = await asyncio.gather(
            *(
                acall(
                    clients[i % len(clients)],
                    "GetId",
                    {"IdentityPoolId": pool_id, "Logins": {FB: login}},
                )
                for i in range(n)
            )
        )
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return [ok(r)["IdentityId"] for r in responses]


def identities_of(url: str, pool_id: str) -> list[str]:
    with httpx.Client(base_url=url, timeout=20) as client:
        listed = ok(
            call(
                client,
                "ListIdentities",
                {"IdentityPoolId": pool_id, "MaxResults": 60},
                access_key=ACCOUNT,
            )
        )
    return [i["IdentityId"] for i in listed["Identities"]]


def test_64_concurrent_get_id_one_server(server: LiveServer) -> None:
    pool_id = new_pool(server.url)
    ids = asyncio.run(get_id_storm([server.url], pool_id, "racer"))
    assert len(set(ids)) == 1
    assert identities_of(server.url, pool_id) == ids[:1]


@dataclass
class Replicas:
    database_url: str
    servers: list[ServerProcess]

    @property
    def urls(self) -> list[str]:
        return [s.url for s in self.servers]


@pytest.fixture
def replicas(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Two `idpool serve` processes on a database of their own (PostgreSQL schema or SQLite file).

    One database per test, not per module: a storm that broke the link graph must fail alone,
    never hand its broken rows to the next seed (the checks are also scoped to each pool).
    """
    workdir = tmp_path_factory.mktemp("replicas")
    if backend == "postgresql":
        from tests.support.postgres import postgres_schema

        with postgres_schema() as url:
            migrate(url, workdir)
            yield from _two_servers(url, workdir)
    else:
        yield from _two_servers(f"sqlite:///{workdir / 'shared.sqlite3'}", workdir)


@pytest.fixture
def workers(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """One `idpool serve --workers 2`: two processes behind one port (the kernel spreads the
    connections), on a database of its own."""
    workdir = tmp_path_factory.mktemp("workers")
    if backend == "postgresql":
        from tests.support.postgres import postgres_schema

        with postgres_schema() as url:
            migrate(url, workdir)
            yield from _one_server(url, workdir, "--workers", "2")
    else:
        yield from _one_server(
            f"sqlite:///{workdir / 'workers.sqlite3'}", workdir, "--workers", "2"
        )


def _one_server(url: str, workdir: Path, *extra: str) -> Iterator[Replicas]:
    server = ServerProcess(url, workdir, name="workers", extra=extra).start()
    try:
        yield Replicas(url, [server, server])
    finally:
        server.stop()


def _two_servers(url: str, workdir: Path) -> Iterator[Replicas]:
    servers: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            # One after the other: the first one applies the SQLite migrations.
            servers.append(ServerProcess(url, workdir, name=name).start())
        yield Replicas(url, servers)
    finally:
        for server in servers:
            server.stop()


def test_64_concurrent_get_id_two_processes(replicas: Replicas) -> None:
    _one_identity_from_64_racers(replicas)


def test_64_concurrent_get_id_two_workers(workers: Replicas) -> None:
    _one_identity_from_64_racers(workers)


def _one_identity_from_64_racers(replicas: Replicas) -> None:
    pool_id = new_pool(replicas.urls[0])
    ids = asyncio.run(get_id_storm(replicas.urls, pool_id, "racer-2"))
    assert len(set(ids)) == 1
    assert identities_of(replicas.urls[1], pool_id) == ids[:1]
    rows = query(
        replicas.database_url,
        "SELECT identity_id FROM links WHERE pool_id = :p AND subject = 'racer-2'",
        p=pool_id,
    )
    assert rows == [(ids[0],)]


USERS = 6


@dataclass
class Storm:
    """A seeded random mix of the calls that move logins between identities."""

    pool_id: str
    rng: random.Random
    known: list[str] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)

    def login(self) -> tuple[str, str]:
        user = self.rng.randrange(USERS)
        return self.rng.choice([(FB, f"fb-{user}"), (GOOGLE, f"g-{user}")])

    def logins(self) -> dict[str, str]:
        chosen = dict(self.login() for _ in range(self.rng.randint(1, 2)))
        return chosen

    def some_identity(self) -> str:
        return (
            self.rng.choice(self.known)
            if self.known
            else "us-east-1:" + "0" * 8 + "-0000-4000-8000-" + "0" * 12
        )

    def next_call(self) -> tuple[str, dict[str, Any]]:
        dev = f"dev-{self.rng.randrange(USERS)}"
        pick = self.rng.randrange(9)
        pool = self.pool_id
        if pick == 0:
            return "GetId", {"IdentityPoolId": pool, "Logins": self.logins()}
        if pick == 1:
            return "GetOpenIdToken", {"IdentityId": self.some_identity(), "Logins": self.logins()}
        if pick == 2:
            login = self.login()
            return "UnlinkIdentity", {
                "IdentityId": self.some_identity(),
                "Logins": dict([login]),
                "LoginsToRemove": [self.rng.choice([login[0], FB, GOOGLE])],
            }
        if pick == 3:
            params: dict[str, Any] = {"IdentityPoolId": pool, "Logins": {DEV: dev}}
            if self.rng.random() < 0.5:
                params["IdentityId"] = self.some_identity()
            if self.rng.random() < 0.3:
                params["Logins"].update([self.login()])
            return "GetOpenIdTokenForDeveloperIdentity", params
        if pick == 4:
            return "MergeDeveloperIdentities", {
                "SourceUserIdentifier": dev,
                "DestinationUserIdentifier": f"dev-{self.rng.randrange(USERS)}",
                "DeveloperProviderName": DEV,
                "IdentityPoolId": pool,
            }
        if pick == 5:
            return "UnlinkDeveloperIdentity", {
                "IdentityId": self.some_identity(),
                "IdentityPoolId": pool,
                "DeveloperProviderName": DEV,
                "DeveloperUserIdentifier": dev,
            }
        if pick == 6:
            return "DeleteIdentities", {"IdentityIdsToDelete": [self.some_identity()]}
        if pick == 7:
            return "GetId", {"IdentityPoolId": pool}
        return "LookupDeveloperIdentity", {"IdentityPoolId": pool, "DeveloperUserIdentifier": dev}

    def record(self, operation: str, response: httpx.Response) -> None:
        assert_aws_answer(response, operation)
        key = f"{operation}:{response.json().get('__type', 'OK')}"
        self.answers[key] = self.answers.get(key, 0) + 1
        identity = response.json().get("IdentityId") if response.status_code == 200 else None
        if identity and identity not in self.known:
            self.known.append(identity)


async def run_storm(urls: list[str], storm: Storm, calls: int, workers: int = 16) -> None:
    clients = [httpx.AsyncClient(base_url=u, timeout=30) for u in urls]
    queue = [storm.next_call() for _ in range(calls // 4)]  # a head start for `known`
    lock = asyncio.Lock()

    async def worker(index: int) -> None:
        client = clients[index % len(clients)]
        for _ in range(calls // workers):
            async with lock:
                operation, params = queue.pop() if queue else storm.next_call()
            response = await acall(client, operation, params, access_key=ACCOUNT)
            storm.record(operation, response)

    try:
        await asyncio.gather(*(worker(i) for i in range(workers)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))


def assert_api_agrees_with_links(url: str, database_url: str, pool_id: str) -> None:
    """Every stored link is what the API answers for that login."""
    links = query(
        database_url,
        "SELECT provider, subject, identity_id, developer FROM links WHERE pool_id = :p",
        p=pool_id,
    )
    assert links, "the storm left no links at all: it did not exercise anything"
    with httpx.Client(base_url=url, timeout=20) as client:
        for provider, subject, identity_id, developer in links:
            if developer:
                found = ok(
                    call(
                        client,
                        "LookupDeveloperIdentity",
                        {"IdentityPoolId": pool_id, "DeveloperUserIdentifier": subject},
                        access_key=ACCOUNT,
                    )
                )
            else:
                found = ok(
                    call(
                        client, "GetId", {"IdentityPoolId": pool_id, "Logins": {provider: subject}}
                    )
                )
            assert found["IdentityId"] == identity_id, (provider, subject)


@pytest.mark.parametrize("seed", [1, 2])
def test_link_merge_unlink_delete_storm(replicas: Replicas, seed: int) -> None:
    pool_id = new_pool(replicas.urls[0])
    storm = Storm(pool_id, random.Random(seed))
    asyncio.run(run_storm(replicas.urls, storm, calls=320))
    assert link_violations(replicas.database_url, pool_id) == {}
    # The storm really raced the interesting paths, not only error answers.
    assert storm.answers.get("GetId:OK", 0) > 10, storm.answers
    assert storm.answers.get("GetOpenIdTokenForDeveloperIdentity:OK", 0) > 5, storm.answers
    assert_api_agrees_with_links(replicas.urls[1], replicas.database_url, pool_id)
    assert link_violations(replicas.database_url, pool_id) == {}


def test_link_merge_unlink_delete_storm_on_two_workers(workers: Replicas) -> None:
    pool_id = new_pool(workers.urls[0])
    storm = Storm(pool_id, random.Random(3))
    asyncio.run(run_storm(workers.urls, storm, calls=320))
    assert link_violations(workers.database_url, pool_id) == {}
    assert storm.answers.get("GetId:OK", 0) > 10, storm.answers
    assert_api_agrees_with_links(workers.urls[0], workers.database_url, pool_id)
    assert link_violations(workers.database_url, pool_id) == {}


def test_storm_on_the_session_server(server: LiveServer, database_url: str) -> None:
    """The same storm, in-process (one event loop, many interleaved transactions)."""
    pool_id = new_pool(server.url)
    storm = Storm(pool_id, random.Random(7))
    asyncio.run(run_storm([server.url], storm, calls=320))
    assert link_violations(database_url, pool_id) == {}
    assert_api_agrees_with_links(server.url, database_url, pool_id)


def test_the_invariant_queries_catch_a_broken_link_graph(tmp_path: Path) -> None:
    """The SQL checks above are only worth something if they fail on broken data."""
    from sqlalchemy import create_engine, text

    from idpool.storage.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'broken.sqlite3'}"
    upgrade(url)
    pool = "us-east-1:00000000-0000-4000-8000-000000000001"
    rows = [
        f"INSERT INTO pools VALUES ('{pool}', '1', 'us-east-1', 'p', 1, 1, '{{}}')",
        # a disabled identity that still owns a login, and one with two facebook users
        f"INSERT INTO identities VALUES ('i-off', '{pool}', '1', 1, 1, 1, 1)",
        f"INSERT INTO identities VALUES ('i-two', '{pool}', '1', 1, 1, 1, 0)",
        "INSERT INTO identities VALUES ('i-lost', 'us-east-1:gone', '1', 1, 1, 1, 0)",
        f"INSERT INTO links VALUES ('{pool}', '{FB}', 'a', 'i-off', 0, '{FB}', 1)",
        f"INSERT INTO links VALUES ('{pool}', '{FB}', 'b', 'i-two', 0, 'slot-b', 1)",
        f"INSERT INTO links VALUES ('{pool}', '{FB}', 'c', 'i-two', 0, 'slot-c', 1)",
        f"INSERT INTO links VALUES ('{pool}', '{GOOGLE}', 'd', 'i-nobody', 0, '{GOOGLE}', 1)",
    ]
    engine = create_engine(url)
    with engine.begin() as connection:
        for row in rows:
            connection.execute(text(row))
    engine.dispose()
    assert set(link_violations(url)) == {
        "link whose identity does not exist",
        "identity whose pool does not exist",
        "identity with two users of one public provider",
        "linked identity that is disabled or unauthenticated",
    }
    # Scoped to a pool, the checks see that pool's rows only (another test's broken rows in a
    # shared database neither fail nor excuse this one).
    assert set(link_violations(url, pool)) == {
        "link whose identity does not exist",
        "identity with two users of one public provider",
        "linked identity that is disabled or unauthenticated",
    }
    assert link_violations(url, "us-east-1:00000000-0000-4000-8000-00000000000f") == {}
