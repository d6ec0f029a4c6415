"""The scenarios: setup through the API, then a workload for the closed loop.

Setup is tolerant by design: the generator measures servers that implement different subsets
of the API (moto has no DescribeIdentity, LookupDeveloperIdentity or SetIdentityPoolRoles).
Each scenario probes its measured operation once during setup; any failure becomes
`Skip(reason)`, reported as `{"scenario": ..., "skipped": reason}` instead of a crash or a
window full of errors. Optional steps (setting roles) are attempted and their outcome noted.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from bench.loadgen import Workload
from bench.wire import Api, ApiError, RequestBuilder
from bench.workloads import DeviceFlow, FixedRequests, ListWalk, SignedRequests

LOGIN_PROVIDER = "graph.facebook.com"
DEVELOPER_PROVIDER = "login.bench.dev"
UNAUTH_ROLE = "arn:aws:iam::000000000000:role/bench-unauthenticated"
AUTH_ROLE = "arn:aws:iam::000000000000:role/bench-authenticated"


class Skip(Exception):
    """The endpoint cannot run this scenario; the message says why."""


@dataclass(frozen=True, slots=True)
class Options:
    users: int = 1000  # distinct logins / developer users / identities cycled through
    list_pool_size: int = 10_000
    large_pool_size: int = 1_000_000
    list_pool_id: str | None = None  # reuse a pre-filled pool (see --prefill) for list scenarios
    max_prefill: int | None = None  # larger prefills are skipped (slow endpoints, compare runs)
    setup_connections: int = 32


@dataclass(slots=True)
class Context:
    """Per-endpoint setup state, shared by scenarios so e.g. guest identities are made once."""

    api: Api
    options: Options
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def builder(self) -> RequestBuilder:
        return self.api.builder

    async def once(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run a shared setup step once; a failure is remembered too, so it is not retried."""
        if key not in self.memo:
            try:
                self.memo[key] = await make()
            except (ApiError, Skip) as exc:
                self.memo[key] = exc
        value = self.memo[key]
        if isinstance(value, Exception):
            raise value
        return value


@dataclass(frozen=True, slots=True)
class Prepared:
    workload: Workload
    info: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    doc: str
    setup: Callable[[Context], Awaitable[Prepared]]
    default: bool = True  # part of the default set


def _pool_name(tag: str) -> str:
    return f"bench_{tag}_{secrets.token_hex(4)}"


async def create_pool(api: Api, tag: str) -> str:
    """A pool that allows guests, accepts a social login key and has a developer provider."""
    result = await api.call(
        "CreateIdentityPool",
        {
            "IdentityPoolName": _pool_name(tag.replace("-", "_")),
            "AllowUnauthenticatedIdentities": True,
            "SupportedLoginProviders": {LOGIN_PROVIDER: "app"},
            "DeveloperProviderName": DEVELOPER_PROVIDER,
        },
    )
    return str(result["IdentityPoolId"])


async def _guest_pool(ctx: Context) -> dict[str, Any]:
    """One pool with roles and `users` guest identities, shared by the identity scenarios."""
    api = ctx.api
    pool_id = await create_pool(api, "guests")
    roles: str
    try:
        await api.call(
            "SetIdentityPoolRoles",
            {
                "IdentityPoolId": pool_id,
                "Roles": {"unauthenticated": UNAUTH_ROLE, "authenticated": AUTH_ROLE},
            },
        )
        roles = "set"
    except ApiError as exc:
        roles = f"not set ({exc.code})"
    results = await api.map(
        "GetId", [{"IdentityPoolId": pool_id}] * ctx.options.users, signed=False
    )
    identities = [str(r["IdentityId"]) for r in results]
    return {"pool_id": pool_id, "identities": identities, "roles": roles}


async def _probe(ctx: Context, operation: str, params: dict[str, Any], *, signed: bool) -> None:
    try:
        await ctx.api.call(operation, params, signed=signed)
    except ApiError as exc:
        raise Skip(f"{operation} failed during setup: {exc}") from exc


def _bodies(items: list[dict[str, Any]]) -> list[bytes]:
    return [orjson.dumps(item) for item in items]


# --- scenario setups -------------------------------------------------------------------------


async def setup_get_id_guest(ctx: Context) -> Prepared:
    pool_id = await create_pool(ctx.api, "guest")
    params = {"IdentityPoolId": pool_id}
    await _probe(ctx, "GetId", params, signed=False)
    request = ctx.builder.unsigned("GetId", orjson.dumps(params))
    return Prepared(FixedRequests([request]), {"pool_id": pool_id})


async def setup_get_id_login(ctx: Context) -> Prepared:
    pool_id = await create_pool(ctx.api, "login")
    params = [
        {"IdentityPoolId": pool_id, "Logins": {LOGIN_PROVIDER: f"bench-user-{i}"}}
        for i in range(ctx.options.users)
    ]
    try:
        await ctx.api.map("GetId", params, signed=False)
    except ApiError as exc:
        raise Skip(f"GetId with a {LOGIN_PROVIDER} login failed during setup: {exc}") from exc
    requests = [ctx.builder.unsigned("GetId", body) for body in _bodies(params)]
    return Prepared(FixedRequests(requests), {"pool_id": pool_id, "users": len(params)})


def _developer_params(pool_id: str, users: int) -> list[dict[str, Any]]:
    return [
        {"IdentityPoolId": pool_id, "Logins": {DEVELOPER_PROVIDER: f"dev-user-{i}"}}
        for i in range(users)
    ]


async def _developer_pool(ctx: Context) -> dict[str, Any]:
    pool_id = await create_pool(ctx.api, "developer")
    params = _developer_params(pool_id, ctx.options.users)
    try:
        await ctx.api.map("GetOpenIdTokenForDeveloperIdentity", params)
    except ApiError as exc:
        raise Skip(f"GetOpenIdTokenForDeveloperIdentity failed during setup: {exc}") from exc
    return {"pool_id": pool_id, "params": params}


async def setup_developer_token(ctx: Context) -> Prepared:
    pool = await ctx.once("developer", lambda: _developer_pool(ctx))
    workload = SignedRequests("GetOpenIdTokenForDeveloperIdentity", _bodies(pool["params"]))
    return Prepared(workload, {"pool_id": pool["pool_id"], "users": len(pool["params"])})


async def setup_lookup_developer(ctx: Context) -> Prepared:
    pool = await ctx.once("developer", lambda: _developer_pool(ctx))
    items = [
        {"IdentityPoolId": pool["pool_id"], "DeveloperUserIdentifier": f"dev-user-{i}"}
        for i in range(len(pool["params"]))
    ]
    await _probe(ctx, "LookupDeveloperIdentity", items[0], signed=True)
    workload = SignedRequests("LookupDeveloperIdentity", _bodies(items))
    return Prepared(workload, {"pool_id": pool["pool_id"], "users": len(items)})


def _identity_scenario(operation: str, *, signed: bool) -> Callable[[Context], Awaitable[Prepared]]:
    async def setup(ctx: Context) -> Prepared:
        pool = await ctx.once("guests", lambda: _guest_pool(ctx))
        items = [{"IdentityId": identity} for identity in pool["identities"]]
        await _probe(ctx, operation, items[0], signed=signed)
        bodies = _bodies(items)
        workload: Workload
        if signed:
            workload = SignedRequests(operation, bodies)
        else:
            workload = FixedRequests([ctx.builder.unsigned(operation, b) for b in bodies])
        info = {"pool_id": pool["pool_id"], "identities": len(items)}
        if operation == "GetCredentialsForIdentity":
            info["roles"] = pool["roles"]
        return Prepared(workload, info)

    return setup


async def prefill(api: Api, pool_id: str, count: int, *, label: str = "prefill") -> dict[str, Any]:
    """Create `count` guest identities in a pool as fast as the endpoint allows."""
    started = time.perf_counter()

    async def report() -> None:
        while True:
            await asyncio.sleep(10)
            elapsed = time.perf_counter() - started
            print(
                f"[{label}] {api.progress}/{count} identities, {elapsed:.0f} s, "
                f"{api.progress / elapsed:.0f}/s",
                file=sys.stderr,
                flush=True,
            )

    reporter = asyncio.create_task(report())
    try:
        errors = await api.repeat("GetId", {"IdentityPoolId": pool_id}, count, signed=False)
    finally:
        reporter.cancel()
    elapsed = time.perf_counter() - started
    return {
        "pool_id": pool_id,
        "identities": count,
        "errors": errors,
        "duration_s": round(elapsed, 3),
        "rps": round(count / elapsed, 1) if elapsed else None,
    }


def _list_scenario(size_of: Callable[[Options], int]) -> Callable[[Context], Awaitable[Prepared]]:
    async def setup(ctx: Context) -> Prepared:
        options = ctx.options
        info: dict[str, Any]
        if options.list_pool_id:
            pool_id = options.list_pool_id
            info = {"pool_id": pool_id, "pool_size": "given"}
        else:
            size = size_of(options)
            if options.max_prefill is not None and size > options.max_prefill:
                raise Skip(
                    f"prefilling {size} identities exceeds --max-prefill {options.max_prefill} "
                    "for this endpoint"
                )
            pool_id = await create_pool(ctx.api, f"list{size}")
            filled = await prefill(ctx.api, pool_id, size, label=f"list {size}")
            info = {
                "pool_id": pool_id,
                "pool_size": size,
                "prefill_s": filled["duration_s"],
                "prefill_rps": filled["rps"],
            }
        await _probe(
            ctx, "ListIdentities", {"IdentityPoolId": pool_id, "MaxResults": 60}, signed=True
        )
        info["max_results"] = 60
        return Prepared(ListWalk(pool_id, 60), info)

    return setup


async def setup_device_flow(ctx: Context) -> Prepared:
    pool = await ctx.once("guests", lambda: _guest_pool(ctx))
    identity = {"IdentityId": pool["identities"][0]}
    await _probe(ctx, "GetCredentialsForIdentity", identity, signed=False)
    await _probe(ctx, "GetOpenIdToken", identity, signed=False)
    return Prepared(
        DeviceFlow(pool["pool_id"]),
        {"pool_id": pool["pool_id"], "requests_per_iteration": 3, "roles": pool["roles"]},
    )


async def setup_trivial(ctx: Context) -> Prepared:
    """Any POST; meant for the trivial reference server, which answers `{}` to everything."""
    body = orjson.dumps({"IdentityPoolId": "us-east-1:00000000-0000-0000-0000-000000000000"})
    return Prepared(FixedRequests([ctx.builder.unsigned("GetId", body)]), {})


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in [
        Scenario(
            "get-id-guest", "GetId without logins: a new identity per request", setup_get_id_guest
        ),
        Scenario(
            "get-id-login", "GetId for existing graph.facebook.com logins", setup_get_id_login
        ),
        Scenario(
            "developer-token",
            "GetOpenIdTokenForDeveloperIdentity for existing developer users (signed, RS512)",
            setup_developer_token,
        ),
        Scenario(
            "credentials",
            "GetCredentialsForIdentity for guest identities (pool roles set)",
            _identity_scenario("GetCredentialsForIdentity", signed=False),
        ),
        Scenario(
            "open-id-token",
            "GetOpenIdToken for guest identities (RS512)",
            _identity_scenario("GetOpenIdToken", signed=False),
        ),
        Scenario(
            "describe-identity",
            "DescribeIdentity (signed)",
            _identity_scenario("DescribeIdentity", signed=True),
        ),
        Scenario(
            "lookup-developer",
            "LookupDeveloperIdentity by DeveloperUserIdentifier (signed)",
            setup_lookup_developer,
        ),
        Scenario(
            "list-identities-10k",
            "ListIdentities MaxResults=60 walking a pool of --list-pool-size identities",
            _list_scenario(lambda o: o.list_pool_size),
        ),
        Scenario(
            "list-identities-1m",
            "ListIdentities MaxResults=60 walking a pool of --large-pool-size identities",
            _list_scenario(lambda o: o.large_pool_size),
            default=False,
        ),
        Scenario(
            "device-flow",
            "per new device: GetId guest, GetCredentialsForIdentity, GetOpenIdToken",
            setup_device_flow,
        ),
        Scenario(
            "trivial", "any POST, for the trivial reference server", setup_trivial, default=False
        ),
    ]
}

#: Scenarios whose every request signs a token, compared with the raw RS512 rate.
SIGNING = frozenset({"developer-token", "open-id-token"})
