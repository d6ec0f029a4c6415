"""The providers file reloads without a restart: atomically, logged, bad files kept out."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from idpool.domain.errors import ExternalServiceException
from idpool.domain.ports import LoginVerifier
from idpool.domain.records import CognitoProvider, Pool
from idpool.providers.config import (
    ProvidersConfig,
    load_providers_config,
)
from idpool.providers.registry import LoginRouter, build_login_verifier
from idpool.providers.reload import (
    ReloadingLoginVerifier,
    describe_changes,
    read_providers_file,
)
from tests.support.idp import b64json

KEY = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Reload1"
POOL = Pool(
    pool_id="us-east-1:00000000-0000-4000-8000-0000000000e1",
    account_id="123456789012",
    region="us-east-1",
    name="p",
    allow_unauthenticated=False,
    cognito_identity_providers=(CognitoProvider(KEY, "client-1"),),
)
# Well-formed but unverifiable: verification gets as far as fetching the pool's keys.
TOKEN = ".".join(
    (
        b64json({"alg": "RS256", "kid": "k"}),
        b64json(
            {
                "iss": f"https://{KEY}",
                "aud": "client-1",
                "token_use": "id",
                "sub": "u",
                "exp": 4_000_000_000,  # valid in every respect but its signature
            }
        ),
        "c2ln",
    )
)


def _refuse_all(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def reloader(path: Path, http: httpx.AsyncClient) -> ReloadingLoginVerifier:
    def load() -> ProvidersConfig:
        return load_providers_config(read_providers_file(str(path)))

    return ReloadingLoginVerifier(
        load,
        lambda cfg, previous: build_login_verifier(cfg, http, lambda: 0.0, None, previous=previous),
        path=str(path),
    )


def write(path: Path, text: str) -> None:
    """Replace the file the way editors and config tools do: write aside, rename over."""
    aside = path.with_suffix(".tmp")
    aside.write_text(text)
    os.replace(aside, path)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_change_on_disk_is_picked_up_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text("user_pool_endpoint: http://127.0.0.1:9/\n")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse_all)) as http:
            live = reloader(path, http)
            first = live.current
            assert await live.check() is None  # nothing changed: no reload, no log line
            write(
                path,
                "user_pool_endpoint: http://127.0.0.1:10\n"
                "issuers:\n  https://idp.example.test: {jwks_url: http://127.0.0.1:11/jwks}\n",
            )
            with caplog.at_level(logging.INFO, logger="idpool.providers"):
                assert await live.check() is True
            assert live.current is not first
            assert live.config.user_pool_endpoint == "http://127.0.0.1:10"
            assert await live.check() is None

    run(go())
    [line] = [r.getMessage() for r in caplog.records if "reloaded" in r.getMessage()]
    assert line == (
        f"{path} reloaded (file changed): issuers added: https://idp.example.test; "
        "user_pool_endpoint: 'http://127.0.0.1:9' -> 'http://127.0.0.1:10'"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("issuers: [unclosed\n", "not valid YAML"),
        (
            "user_pool_endpoint: localhost:5000\n",
            "providers.user_pool_endpoint: must be an http(s) URL",
        ),
        ("no_such_setting: 1\n", "unknown key 'no_such_setting'"),
        ("- a list\n", "must be a YAML mapping"),
    ],
)
def test_bad_file_keeps_the_previous_configuration(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str, reason: str
) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text("user_pool_endpoint: http://127.0.0.1:9\n")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse_all)) as http:
            live = reloader(path, http)
            before = live.current
            write(path, text)
            with caplog.at_level(logging.INFO, logger="idpool.providers"):
                assert await live.check() is False
                # A bad file is reported once, not on every look.
                assert await live.check() is None
            assert live.current is before
            assert live.config.user_pool_endpoint == "http://127.0.0.1:9"

    run(go())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert message.startswith(f"{path} not reloaded (file changed), keeping the previous one: ")
    assert reason in message


def test_deleted_file_keeps_the_previous_configuration(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text("leeway_seconds: 5\n")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse_all)) as http:
            live = reloader(path, http)
            path.unlink()
            assert await live.check() is False
            assert live.config.leeway_seconds == 5

    run(go())


def test_explicit_reload_without_changes_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text("{}\n")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse_all)) as http:
            live = reloader(path, http)
            before = live.current
            with caplog.at_level(logging.INFO, logger="idpool.providers"):
                assert await live.reload("SIGHUP") is True
            assert live.current is before

    run(go())
    assert f"{path} reloaded (SIGHUP): no changes" in caplog.messages


def test_reload_keeps_cached_keys(tmp_path: Path) -> None:
    path = tmp_path / "providers.yaml"
    path.write_text("leeway_seconds: 5\n")

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse_all)) as http:
            live = reloader(path, http)
            first = live.current
            write(path, "leeway_seconds: 6\n")
            assert await live.check() is True
            assert isinstance(first, LoginRouter) and isinstance(live.current, LoginRouter)
            assert live.current.keys is first.keys
            write(path, "leeway_seconds: 6\njwks_ttl_seconds: 60\n")
            assert await live.check() is True
            assert live.current.keys is not first.keys  # new cache settings: a new cache
            second = live.current.keys
            write(path, "leeway_seconds: 6\njwks_ttl_seconds: 60\nuser_pool_endpoint: http://x:1\n")
            assert await live.check() is True
            assert live.current.keys is not second  # a new address: a new cache

    run(go())


def test_requests_in_flight_finish_on_the_configuration_they_started_with(
    tmp_path: Path,
) -> None:
    """The swap is one assignment: a verify that began before it never sees a mixture."""
    path = tmp_path / "providers.yaml"
    path.write_text("user_pool_endpoint: http://127.0.0.1:9\n")
    seen: list[str] = []
    gate = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        await gate.wait()
        raise httpx.ConnectError("refused", request=request)

    token = TOKEN

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            live = reloader(path, http)
            pending = asyncio.create_task(live.verify(POOL, KEY, token))
            while not seen:
                await asyncio.sleep(0)
            write(path, "user_pool_endpoint: http://127.0.0.1:10\n")
            assert await live.check() is True
            gate.set()
            with pytest.raises(ExternalServiceException):
                await pending
            with pytest.raises(ExternalServiceException):
                await live.verify(POOL, KEY, token)

    run(go())
    assert seen == [
        "http://127.0.0.1:9/us-east-1_Reload1/.well-known/jwks.json",
        "http://127.0.0.1:10/us-east-1_Reload1/.well-known/jwks.json",
    ]


def test_describe_changes_names_entries_not_values() -> None:
    old = load_providers_config(
        {
            "oidc_providers": {
                "arn:aws:iam::123456789012:oidc-provider/a.test": {"client_ids": ["x"]}
            }
        }
    )
    new = load_providers_config(
        {
            "trust_mode": True,
            "oidc_providers": {
                "arn:aws:iam::123456789012:oidc-provider/a.test": {"client_ids": ["y"]}
            },
            "social": {"facebook": "http://127.0.0.1:7"},
        }
    )
    changes = describe_changes(old, new)
    assert changes[0] == "trust_mode: False -> True"
    assert changes[1] == "oidc_providers changed: arn:aws:iam::123456789012:oidc-provider/a.test"
    assert changes[2].startswith("social: facebook_url=https://graph.facebook.com")
    assert "facebook_url=http://127.0.0.1:7" in changes[2]
    assert describe_changes(new, new) == []


def test_unreachable_user_pool_names_the_provider_and_the_fix() -> None:
    token = TOKEN

    async def go(raw: dict[str, Any]) -> str:
        async with httpx.AsyncClient(transport=httpx.MockTransport(_refuse_all)) as http:
            verifier: LoginVerifier = build_login_verifier(
                load_providers_config(raw), http, lambda: 0.0, None
            )
            with pytest.raises(ExternalServiceException) as info:
                await verifier.verify(POOL, KEY, token)
            return info.value.message

    at_aws = run(go({}))
    assert KEY in at_aws
    assert f"https://{KEY}/.well-known/jwks.json" in at_aws
    assert "--user-pool-endpoint" in at_aws
    emulated = run(go({"user_pool_endpoint": "http://10.1.2.3:5000"}))
    assert KEY in emulated
    assert "10.1.2.3" not in emulated  # operator-configured addresses stay in the log
    assert "server log" in emulated
