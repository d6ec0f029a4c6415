"""The gateway auth endpoint behind a real nginx (`auth_request`), in front of an echo upstream.

The test starts its own nginx (Debian's package: `scripts/setup-nginx`) on a free loopback port
with its own configuration, and skips only when the binary is absent. Requests are signed by
botocore with credentials idpool vended (service `execute-api`), exactly as an app calling an
API Gateway with `AWS_IAM` authorization signs them.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from idpool.domain.records import VendedSession
from idpool.vending.sealed import CredentialSealer
from tests.conftest import ROOT, make_client
from tests.support.live import LiveServer, live_server, settings_for_tests

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"  # Debian's path, where setup-nginx puts it
ACCOUNT = "555566667777"
GUEST_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Gateway_Guest"
USER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/Gateway_User"

NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            auth_request /_idpool_auth;
            auth_request_set $idp_identity $upstream_http_x_idpool_cognito_identity_id;
            auth_request_set $idp_pool $upstream_http_x_idpool_cognito_identity_pool_id;
            auth_request_set $idp_type $upstream_http_x_idpool_cognito_authentication_type;
            auth_request_set $idp_provider $upstream_http_x_idpool_cognito_authentication_provider;
            auth_request_set $idp_arn $upstream_http_x_idpool_user_arn;
            auth_request_set $idp_account $upstream_http_x_idpool_account_id;
            proxy_set_header X-Cognito-Identity-Id $idp_identity;
            proxy_set_header X-Cognito-Identity-Pool-Id $idp_pool;
            proxy_set_header X-Cognito-Authentication-Type $idp_type;
            proxy_set_header X-Cognito-Authentication-Provider $idp_provider;
            proxy_set_header X-User-Arn $idp_arn;
            proxy_set_header X-Account-Id $idp_account;
            proxy_pass http://127.0.0.1:{upstream};
        }}
        location = /_idpool_auth {{
            internal;
            proxy_pass http://127.0.0.1:{idpool}/gateway/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Echo(BaseHTTPRequestHandler):
    """The upstream: answers with the headers and body it received."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        payload = json.dumps(
            {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def idpool(database_url: str) -> Iterator[LiveServer]:
    with live_server(settings_for_tests(database_url, account_id=ACCOUNT)) as live:
        yield live


@pytest.fixture(scope="module")
def gateway(idpool: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not os.path.exists(NGINX):
        setup = subprocess.run(
            [str(ROOT / "scripts" / "setup-nginx")], capture_output=True, text=True, check=False
        )
        if setup.returncode == 3:
            pytest.skip(f"nginx is not available: {setup.stderr.strip()}")
        assert setup.returncode == 0, f"scripts/setup-nginx failed:\n{setup.stderr}"
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    tmp = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            user="user root;" if os.geteuid() == 0 else "",
            tmp=tmp,
            port=port,
            upstream=upstream.server_address[1],
            idpool=idpool.port,
        )
    )
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(tmp)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            httpx.get(url + "/ready-probe", timeout=1)
            break
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                errors = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"nginx did not start: {errors}") from None
            time.sleep(0.05)
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        upstream.shutdown()


@pytest.fixture(scope="module")
def pool(idpool: LiveServer) -> dict[str, Any]:
    admin = make_client(idpool.url, aws_access_key_id=ACCOUNT)
    pool_id = admin.create_identity_pool(
        IdentityPoolName="gateway_pool",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName="dev.gateway",
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool_id, Roles={"unauthenticated": GUEST_ROLE, "authenticated": USER_ROLE}
    )
    return {"admin": admin, "pool": pool_id}


def signed(
    url: str,
    credentials: dict[str, str],
    *,
    method: str = "GET",
    body: bytes = b"",
    service: str = "execute-api",
) -> httpx.Response:
    """Sign like an app calling an AWS_IAM-protected API, then send through nginx."""
    request = AWSRequest(
        method=method,
        url=url,
        data=body,
        headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()},
    )
    SigV4Auth(
        Credentials(
            credentials["AccessKeyId"], credentials["SecretKey"], credentials["SessionToken"]
        ),
        service,
        "us-east-1",
    ).add_auth(request)
    prepared = request.prepare()
    return httpx.request(
        method, prepared.url, headers=dict(prepared.headers), content=body, timeout=10
    )


def guest(idpool: LiveServer, pool: str) -> tuple[str, dict[str, str]]:
    unsigned = make_client(idpool.url, signed=False)
    identity = unsigned.get_id(IdentityPoolId=pool)["IdentityId"]
    return identity, unsigned.get_credentials_for_identity(IdentityId=identity)["Credentials"]


def user(idpool: LiveServer, world: dict[str, Any], name: str) -> tuple[str, dict[str, str]]:
    token = world["admin"].get_open_id_token_for_developer_identity(
        IdentityPoolId=world["pool"], Logins={"dev.gateway": name}
    )
    unsigned = make_client(idpool.url, signed=False)
    answer = unsigned.get_credentials_for_identity(
        IdentityId=token["IdentityId"], Logins={"cognito-identity.amazonaws.com": token["Token"]}
    )
    return token["IdentityId"], answer["Credentials"]


def test_guest_credentials_pass_and_the_upstream_learns_who_called(
    idpool: LiveServer, gateway: str, pool: dict[str, Any]
) -> None:
    identity, credentials = guest(idpool, pool["pool"])
    answer = signed(gateway + "/items?colour=blue&size=2", credentials)
    assert answer.status_code == 200, answer.text
    seen = answer.json()["headers"]
    assert seen["x-cognito-identity-id"] == identity
    assert seen["x-cognito-identity-pool-id"] == pool["pool"]
    assert seen["x-cognito-authentication-type"] == "unauthenticated"
    assert seen["x-user-arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Gateway_Guest/CognitoIdentityCredentials"
    )
    assert seen["x-account-id"] == ACCOUNT


def test_authenticated_credentials_with_a_body_not_forwarded_to_the_check(
    idpool: LiveServer, gateway: str, pool: dict[str, Any]
) -> None:
    identity, credentials = user(idpool, pool, "gw-user")
    body = b'{"order": 42}'
    answer = signed(gateway + "/orders", credentials, method="POST", body=body)
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["body"] == body.decode()
    assert seen["headers"]["x-cognito-identity-id"] == identity
    assert seen["headers"]["x-cognito-authentication-type"] == "authenticated"
    assert seen["headers"]["x-cognito-authentication-provider"] == "cognito-identity.amazonaws.com"


def test_expired_tampered_and_unsigned_requests_are_refused(
    idpool: LiveServer, gateway: str, pool: dict[str, Any]
) -> None:
    identity, credentials = guest(idpool, pool["pool"])
    sealer = CredentialSealer(idpool.settings.key_secret or "")
    old = sealer.mint(
        VendedSession(ACCOUNT, GUEST_ROLE, "s", identity, pool["pool"], False, "", time.time() - 5)
    )
    expired = {
        "AccessKeyId": old.access_key_id,
        "SecretKey": old.secret_key,
        "SessionToken": old.session_token,
    }
    assert signed(gateway + "/items", expired).status_code == 401
    tampered = {**credentials, "SecretKey": "x" * 40}
    assert signed(gateway + "/items", tampered).status_code == 403
    other_service = signed(gateway + "/items", credentials, service="s3")
    assert other_service.status_code == 403
    assert httpx.get(gateway + "/items", timeout=10).status_code == 401
    # A signed request replayed against another path fails: the URI is part of the signature.
    good = signed(gateway + "/items", credentials)
    assert good.status_code == 200
    request = good.request
    replay = httpx.get(gateway + "/admin", headers=dict(request.headers), timeout=10)
    assert replay.status_code == 403


def test_credentials_stop_at_the_gateway_once_the_identity_is_disabled(
    idpool: LiveServer, gateway: str, pool: dict[str, Any]
) -> None:
    identity, credentials = user(idpool, pool, "gw-leaver")
    assert signed(gateway + "/items", credentials).status_code == 200
    pool["admin"].unlink_developer_identity(
        IdentityId=identity,
        IdentityPoolId=pool["pool"],
        DeveloperProviderName="dev.gateway",
        DeveloperUserIdentifier="gw-leaver",
    )
    assert signed(gateway + "/items", credentials).status_code == 401


def test_envoy_form_with_the_original_path_after_the_prefix(
    idpool: LiveServer, pool: dict[str, Any]
) -> None:
    """Envoy ext_authz (HTTP service, path_prefix /gateway/auth): method and path are original."""
    identity, credentials = guest(idpool, pool["pool"])
    host = f"127.0.0.1:{idpool.port}"
    request = AWSRequest(
        method="GET",
        url=f"http://{host}/widgets/7?x=1",
        headers={"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()},
    )
    SigV4Auth(
        Credentials(
            credentials["AccessKeyId"], credentials["SecretKey"], credentials["SessionToken"]
        ),
        "execute-api",
        "us-east-1",
    ).add_auth(request)
    headers = dict(request.prepare().headers)
    answer = httpx.get(f"{idpool.url}/gateway/auth/widgets/7?x=1", headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-idpool-cognito-identity-id"] == identity
    wrong = httpx.get(f"{idpool.url}/gateway/auth/widgets/8?x=1", headers=headers, timeout=10)
    assert wrong.status_code == 403
    assert wrong.headers["x-idpool-auth-error"].startswith("InvalidSignatureException: ")


def test_user_pool_login_reads_as_api_gateways_authentication_provider(
    idpool: LiveServer, gateway: str, pool: dict[str, Any]
) -> None:
    user_pool = "cognito-idp.us-east-1.amazonaws.com/us-east-1_GateWay1"
    admin = pool["admin"]
    pool_id = admin.create_identity_pool(
        IdentityPoolName="gateway_user_pool",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=[{"ProviderName": user_pool, "ClientId": "gwclient"}],
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": USER_ROLE})
    unsigned = make_client(idpool.url, signed=False)
    logins = {user_pool: "user-pool-sub-1"}  # trust mode: an opaque token is its own subject
    identity = unsigned.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    credentials = unsigned.get_credentials_for_identity(IdentityId=identity, Logins=logins)[
        "Credentials"
    ]
    answer = signed(gateway + "/me", credentials)
    assert answer.status_code == 200, answer.text
    assert answer.json()["headers"]["x-cognito-authentication-provider"] == (
        f"{user_pool},{user_pool}:CognitoSignIn:user-pool-sub-1"
    )
    admin.delete_identity_pool(IdentityPoolId=pool_id)


def test_gateway_checks_are_counted(idpool: LiveServer, gateway: str, pool: dict[str, Any]) -> None:
    _, credentials = guest(idpool, pool["pool"])
    assert signed(gateway + "/count", credentials).status_code == 200
    assert signed(gateway + "/count", {**credentials, "SecretKey": "y" * 40}).status_code == 403
    text = httpx.get(idpool.url + "/metrics", timeout=10).text
    assert 'idpool_requests_total{code="OK",operation="gateway:auth"}' in text
    assert 'code="InvalidSignatureException",operation="gateway:auth"' in text


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "garbage"},
        {"authorization": "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature="},
        {
            "x-original-uri": "%zz/../..?a=%ff&&=",
            "x-amz-date": "20240101T000000Z",
            "x-amz-security-token": "A" * 5000,
            "authorization": "AWS4-HMAC-SHA256 Credential=ASIAX/20240101/us-east-1/execute-api/"
            "aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature=00",
        },
    ],
)
def test_malformed_auth_requests_are_refused_not_crashed(
    idpool: LiveServer, headers: dict[str, str]
) -> None:
    for path in ("/gateway/auth", "/gateway/auth/x%2F..%00"):
        answer = httpx.get(idpool.url + path, headers=headers, timeout=10)
        assert answer.status_code in (401, 403), answer.text
        assert answer.headers["x-idpool-auth-error"]
        assert "x-idpool-cognito-identity-id" not in answer.headers
