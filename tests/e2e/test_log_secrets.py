"""Issue 12 §3: no secret reaches the log, at any level, on any path.

`idpool serve` runs as its own process at `--log-level debug` with trust mode OFF, so every
provider type is really verified: an OIDC issuer and a user pool (loopback JWKS), Facebook,
Login with Amazon and Twitter (loopback fakes — their checks put the token in a query string
or an Authorization header), the developer provider and idpool's own tokens; credentials are
vended locally and, in a second run, by STS (moto). The console is logged into. Then every
secret the test used or received is looked for in everything the process wrote.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import httpx
import pytest

from tests.conftest import ROOT, make_client
from tests.support.idp import FakeSocialProvider, LocalIdentityProvider
from tests.support.sts import moto_sts

ACCESS_KEY = "AKIALOGSECRETS000001"
SECRET_KEY = "secret-access-key-of-the-log-test-0001"
KEY_SECRET = "key-secret-of-the-log-test-0001"
CONSOLE_PASSWORD = "console-password-of-the-log-test"
SESSION_SECRET = "console-session-secret-of-the-log-test"
OIDC_HOST = "idp.logs.test"
OIDC_ARN = f"arn:aws:iam::123456789012:oidc-provider/{OIDC_HOST}"
USER_POOL = "cognito-idp.us-east-1.amazonaws.com/us-east-1_LogPool1"
DEVELOPER = "login.logs.test"
TWITTER_CONSUMER_SECRET = "twitter-consumer-secret-0001"


@dataclass
class Process:
    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    listening: threading.Event = field(default_factory=threading.Event)

    def pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"listening on (http://[\d.]+:\d+)", line)
            if found:
                self.url = found.group(1)
                self.listening.set()

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(15)
        time.sleep(0.1)  # the pump thread reads what was left in the pipe
        return "".join(self.lines)


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[LocalIdentityProvider, FakeSocialProvider]]:
    idp = LocalIdentityProvider(issuer=f"https://{OIDC_HOST}")
    social = FakeSocialProvider()
    yield idp, social
    idp.close()
    social.close()


def _serve(
    tmp: Path, idp: LocalIdentityProvider, social: FakeSocialProvider, *extra: str
) -> Process:
    credentials = tmp / "credentials.yaml"
    credentials.write_text(
        f"- access_key_id: {ACCESS_KEY}\n"
        f"  secret_access_key: {SECRET_KEY}\n"
        '  account_id: "123456789012"\n'
    )
    providers_file = tmp / "providers.yaml"
    providers_file.write_text(
        "issuers:\n"
        f"  https://{OIDC_HOST}:\n    jwks_url: {idp.jwks_url}\n"
        f"  https://{USER_POOL}:\n    jwks_url: {idp.jwks_url}\n"
        f"oidc_providers:\n  {OIDC_ARN}:\n    client_ids: [oidc-app]\n"
        "social:\n"
        f"  facebook: {social.url}\n  amazon: {social.url}\n  twitter: {social.url}\n"
    )
    env = {
        **os.environ,
        "IDPOOL_ADMIN_PASSWORD": CONSOLE_PASSWORD,
        "IDPOOL_ADMIN_SESSION_SECRET": SESSION_SECRET,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "idpool",
            "serve",
            "--port=0",
            f"--database-url=sqlite:///{tmp / 'logs.sqlite3'}",
            f"--key-secret={KEY_SECRET}",
            "--auth-mode=strict",
            f"--credentials-file={credentials}",
            f"--providers-file={providers_file}",
            "--log-level=debug",
            "--no-throttle",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # everything the process writes, in one stream
        text=True,
        env=env,
        cwd=ROOT,
    )
    server = Process(process)
    threading.Thread(target=server.pump, daemon=True).start()
    if not server.listening.wait(30):
        output = server.stop()
        pytest.fail(f"idpool serve did not start:\n{output}")
    return server


def _scenario(url: str, idp: LocalIdentityProvider, social: FakeSocialProvider) -> dict[str, str]:
    """Every provider type and credential path; returns every secret that was in play."""
    admin = make_client(url, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)
    authorizations: list[str] = []

    def keep_authorization(request: Any, **_: Any) -> None:
        authorizations.append(request.headers["Authorization"].decode())

    admin.meta.events.register("before-send", keep_authorization)
    public = make_client(url, signed=False)
    pool_id = admin.create_identity_pool(
        IdentityPoolName="log_secrets",
        AllowUnauthenticatedIdentities=True,
        AllowClassicFlow=True,
        SupportedLoginProviders={
            "graph.facebook.com": "fb-app",
            "www.amazon.com": "amzn-client",
            "api.twitter.com": f"twitter-consumer;{TWITTER_CONSUMER_SECRET}",
        },
        CognitoIdentityProviders=[{"ProviderName": USER_POOL, "ClientId": "upclient1"}],
        OpenIdConnectProviderARNs=[OIDC_ARN],
        DeveloperProviderName=DEVELOPER,
    )["IdentityPoolId"]
    admin.set_identity_pool_roles(
        IdentityPoolId=pool_id,
        Roles={
            "authenticated": "arn:aws:iam::123456789012:role/logs-auth",
            "unauthenticated": "arn:aws:iam::123456789012:role/logs-guest",
        },
    )
    social.facebook["EAAB-facebook-access-token-0001"] = ("fb-app", "10001")
    social.amazon["Atza|amazon-access-token-0001"] = ("amzn-client", "amzn1.account.0001")
    social.twitter["twitter-oauth-token-0001"] = "20001"
    oidc_token = idp.token(idp.claims(aud="oidc-app"))
    user_pool_token = idp.token(
        idp.claims(iss=f"https://{USER_POOL}", aud="upclient1", token_use="id")
    )
    logins = {
        OIDC_HOST: oidc_token,
        USER_POOL: user_pool_token,
        "graph.facebook.com": "EAAB-facebook-access-token-0001",
        "www.amazon.com": "Atza|amazon-access-token-0001",
        "api.twitter.com": "twitter-oauth-token-0001;twitter-token-secret-0001",
    }
    secrets: dict[str, str] = {
        "access key secret": SECRET_KEY,
        "key secret": KEY_SECRET,
        "console password": CONSOLE_PASSWORD,
        "console session secret": SESSION_SECRET,
        "twitter consumer secret": TWITTER_CONSUMER_SECRET,
        "twitter token secret": "twitter-token-secret-0001",
    }
    for provider, token in logins.items():
        secrets[f"{provider} token"] = token
        for part in token.split(".") + token.split(";"):
            if len(part) >= 12:
                secrets[f"{provider} token part {part[:6]}"] = part
        login = {provider: token}
        identity = public.get_id(IdentityPoolId=pool_id, Logins=login)["IdentityId"]
        open_id = public.get_open_id_token(IdentityId=identity, Logins=login)["Token"]
        secrets[f"{provider} OpenID token"] = open_id
        secrets[f"{provider} OpenID token signature"] = open_id.rsplit(".", 1)[1]
        creds = public.get_credentials_for_identity(IdentityId=identity, Logins=login)
        secrets[f"{provider} secret key"] = creds["Credentials"]["SecretKey"]
        secrets[f"{provider} session token"] = creds["Credentials"]["SessionToken"]
    refused = {"graph.facebook.com": "EAAB-unknown-facebook-token-0002"}
    secrets["refused facebook token"] = refused["graph.facebook.com"]
    with pytest.raises(public.exceptions.NotAuthorizedException):
        public.get_id(IdentityPoolId=pool_id, Logins=refused)

    guest = public.get_id(IdentityPoolId=pool_id)["IdentityId"]
    guest_creds = public.get_credentials_for_identity(IdentityId=guest)["Credentials"]
    secrets["guest secret key"] = guest_creds["SecretKey"]
    secrets["guest session token"] = guest_creds["SessionToken"]

    developer = admin.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={DEVELOPER: "developer-user-0001"}
    )
    secrets["developer token"] = developer["Token"]
    secrets["developer user id"] = "developer-user-0001"
    own = public.get_credentials_for_identity(
        IdentityId=developer["IdentityId"],
        Logins={"cognito-identity.amazonaws.com": developer["Token"]},
    )["Credentials"]
    secrets["own-token secret key"] = own["SecretKey"]
    secrets["own-token session token"] = own["SessionToken"]

    forged = httpx.post(
        url,
        content=json.dumps({"MaxResults": 5}),
        headers={
            "content-type": "application/x-amz-json-1.1",
            "x-amz-target": "AWSCognitoIdentityService.ListIdentityPools",
            "authorization": f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20250101/us-east-1/"
            "cognito-identity/aws4_request, SignedHeaders=host, "
            "Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        },
        timeout=10,
    )
    assert forged.status_code in (400, 403)
    secrets["request signature"] = "0123456789abcdef0123456789abcdef"

    with httpx.Client(base_url=url, timeout=10) as browser:
        wrong = browser.post(
            "/console/login", data={"username": "admin", "password": f"{CONSOLE_PASSWORD}-wrong"}
        )
        assert wrong.status_code == 401
        signed_in = browser.post(
            "/console/login", data={"username": "admin", "password": CONSOLE_PASSWORD}
        )
        assert signed_in.status_code in (302, 303)
        cookie = next(iter(browser.cookies.values()))
        secrets["console session cookie"] = cookie
        assert browser.get("/console/pools").status_code == 200
    # The signed admin calls' Authorization headers and the OAuth header of the Twitter check.
    for n, header in enumerate(authorizations):
        secrets[f"SigV4 signature {n}"] = header.rsplit("Signature=", 1)[1]
    for n, header in enumerate(social.authorizations):
        found = re.search(r'oauth_signature="([^"]+)"', header)
        assert found is not None, header
        secrets[f"OAuth signature {n}"] = unquote(found.group(1))
    assert authorizations and social.authorizations
    return secrets


def _assert_clean(output: str, secrets: dict[str, str]) -> None:
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    operations = {r.get("operation") for r in records}
    assert {"GetId", "GetOpenIdToken", "GetCredentialsForIdentity"} <= operations, output[:3000]

    # As written, and as it would appear in a logged URL (percent-encoded) or JSON string.
    def forms(value: str) -> set[str]:
        return {value, quote(value, safe=""), quote_plus(value), json.dumps(value)[1:-1]}

    leaked = sorted(
        name for name, value in secrets.items() if any(f in output for f in forms(value))
    )
    assert not leaked, f"found in the logs: {leaked}"


@pytest.mark.parametrize("credential_mode", ["local", "sts"])
def test_no_secret_in_any_log_line_at_debug(
    credential_mode: str,
    providers: tuple[LocalIdentityProvider, FakeSocialProvider],
    tmp_path: Path,
) -> None:
    idp, social = providers
    with ExitStack() as stack:
        extra: list[str] = []
        if credential_mode == "sts":
            extra = ["--credential-mode=sts", f"--sts-endpoint={stack.enter_context(moto_sts())}"]
        server = _serve(tmp_path, idp, social, *extra)
        try:
            secrets = _scenario(server.url, idp, social)
        finally:
            output = server.stop()
    # The providers were really asked (trust mode is off): the checks carried the tokens.
    assert any("access_token" not in p and p == "/app" for p in social.server.requests)
    assert any(a.startswith("OAuth ") for a in social.authorizations)
    assert idp.jwks_fetches() >= 1
    _assert_clean(output, secrets)
