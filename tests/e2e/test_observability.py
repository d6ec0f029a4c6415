"""Metrics, probes and logs: what an operator watches.

The log test runs `idpool serve` as a separate process at debug level (the most verbose an
operator can ask for), sends logins, developer tokens and SigV4-signed calls, and checks that
no token, secret or signature appears anywhere in what the process wrote.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_client
from tests.support.live import LiveServer
from tests.support.serve_process import ServerProcess, idpool_serve


def _samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# metrics and probes -------------------------------------------------------------------------


def test_metrics_count_requests_by_operation_and_code(
    server: LiveServer, cognito: Any, unsigned: Any, raw: Callable[..., httpx.Response]
) -> None:
    before = _samples(server.url)
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="metrics", AllowUnauthenticatedIdentities=True
    )["IdentityPoolId"]
    try:
        unsigned.get_id(IdentityPoolId=pool_id)
        unsigned.get_id(IdentityPoolId=pool_id)
        with pytest.raises(cognito.exceptions.ResourceNotFoundException):
            cognito.describe_identity_pool(IdentityPoolId=f"us-east-1:{uuid.uuid4()}")
        assert raw("NoSuchOperation", {}).status_code == 400
    finally:
        cognito.delete_identity_pool(IdentityPoolId=pool_id)
    after = _samples(server.url)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "idpool_requests_total"
    assert delta(requests, operation="GetId", code="OK") == 2
    assert delta(requests, operation="CreateIdentityPool", code="OK") == 1
    assert delta(requests, operation="DescribeIdentityPool", code="ResourceNotFoundException") == 1
    assert delta(requests, operation="-", code="UnknownOperationException") == 1
    assert delta("idpool_request_seconds_count", operation="GetId") == 2
    assert delta("idpool_request_seconds_bucket", operation="GetId", le="+Inf") == 2
    assert delta("idpool_request_seconds_sum", operation="GetId") > 0


def test_metrics_content_type_is_prometheus_text(server: LiveServer) -> None:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    for name, kind in [
        ("idpool_requests_total", "counter"),
        ("idpool_request_seconds", "histogram"),
        ("idpool_identities_created_total", "counter"),
        ("idpool_tokens_issued_total", "counter"),
        ("idpool_credentials_vended_total", "counter"),
        ("idpool_store_errors_total", "counter"),
    ]:
        assert f"# TYPE {name} {kind}\n" in response.text


def test_health_and_ready(server: LiveServer) -> None:
    health = httpx.get(f"{server.url}/health", timeout=10)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = httpx.get(f"{server.url}/ready", timeout=10)
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


def test_ready_is_503_until_the_store_is_open(tmp_path: Path) -> None:
    from idpool.app import Application
    from tests.support.live import settings_for_tests

    application = Application(settings_for_tests(f"sqlite:///{tmp_path / 'never.sqlite3'}"))

    async def probe() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=application.asgi)
        async with httpx.AsyncClient(transport=transport, base_url="http://idpool") as client:
            return await client.get("/ready"), await client.get("/health")

    ready, health = asyncio.run(probe())
    assert (ready.status_code, ready.json()) == (503, {"status": "starting"})
    assert health.status_code == 200


# logs -------------------------------------------------------------------------------------


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    """A JWT-shaped token; trust mode reads its claims without checking a signature."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJlLXNlY3JldA"


@pytest.fixture
def debug_server(tmp_path: Path) -> Iterator[ServerProcess]:
    credentials = tmp_path / "credentials.yaml"
    credentials.write_text(
        "- access_key_id: AKIALOGTEST000000001\n"
        "  secret_access_key: very-secret-access-key-0001\n"
        '  account_id: "123456789012"\n'
    )
    with idpool_serve(
        f"--database-url=sqlite:///{tmp_path / 'logs.sqlite3'}",
        "--trust-mode",
        "--key-secret=key-secret-that-must-not-leak",
        "--auth-mode=strict",
        f"--credentials-file={credentials}",
        "--log-level=debug",
        "--no-throttle",
    ) as server:
        yield server


def test_debug_logs_never_contain_tokens_or_secrets(debug_server: ServerProcess) -> None:
    url = debug_server.url
    cognito = make_client(
        url,
        aws_access_key_id="AKIALOGTEST000000001",
        aws_secret_access_key="very-secret-access-key-0001",
    )
    unsigned = make_client(url, signed=False)
    login_token = _unsigned_jwt({"sub": "log-test-user", "iss": "https://accounts.google.com"})
    pool_id = cognito.create_identity_pool(
        IdentityPoolName="logs",
        AllowUnauthenticatedIdentities=True,
        SupportedLoginProviders={"accounts.google.com": "log-app"},
        DeveloperProviderName="login.logs.test",
    )["IdentityPoolId"]
    cognito.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={
            "authenticated": "arn:aws:iam::123456789012:role/logs-auth",
            "unauthenticated": "arn:aws:iam::123456789012:role/logs-guest",
        },
    )
    logins = {"accounts.google.com": login_token}
    identity = unsigned.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    open_id = unsigned.get_open_id_token(IdentityId=identity, Logins=logins)["Token"]
    creds = unsigned.get_credentials_for_identity(IdentityId=identity, Logins=logins)["Credentials"]
    own = unsigned.get_credentials_for_identity(
        IdentityId=identity, Logins={"cognito-identity.amazonaws.com": open_id}
    )["Credentials"]
    developer_token = cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={"login.logs.test": "developer-user-0001"}
    )["Token"]
    with pytest.raises(cognito.exceptions.NotAuthorizedException):
        unsigned.get_id(IdentityPoolId=pool_id, Logins={"graph.facebook.com": "fb-token-secret"})
    signed = httpx.post(
        url,
        content=json.dumps({"MaxResults": 5}),
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "AWSCognitoIdentityService.ListIdentityPools",
            "authorization": "AWS4-HMAC-SHA256 Credential=AKIALOGTEST000000001/20250101/"
            "us-east-1/cognito-identity/aws4_request, SignedHeaders=host, "
            "Signature=deadbeefcafe0123456789abcdef0123456789abcdef0123456789abcdef0123",
        },
        timeout=10,
    )
    assert signed.status_code in (400, 403)

    debug_server.process.terminate()
    debug_server.process.wait(10)
    output = debug_server.output

    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    operations = {r.get("operation") for r in records}
    assert {"GetId", "GetOpenIdToken", "GetCredentialsForIdentity"} <= operations, output[:2000]
    assert all("request_id" in r for r in records if r.get("msg") == "request")

    secrets = {
        "login token": login_token,
        "login token signature": login_token.rsplit(".", 1)[1],
        "facebook token": "fb-token-secret",
        "OpenID token": open_id,
        "OpenID token signature": open_id.rsplit(".", 1)[1],
        "developer token": developer_token,
        "secret key": creds["SecretKey"],
        "session token": creds["SessionToken"],
        "secret key (own token)": own["SecretKey"],
        "session token (own token)": own["SessionToken"],
        "key secret": "key-secret-that-must-not-leak",
        "access key secret": "very-secret-access-key-0001",
        "request signature": "deadbeefcafe0123456789abcdef",
    }
    leaked = [name for name, value in secrets.items() if value in output]
    assert not leaked, f"found in the logs: {leaked}"
