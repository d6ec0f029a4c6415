"""Outbound fetches (issue 12 §2): nothing an unsigned caller sends can aim idpool anywhere.

Every test that claims "no connection" watches a real listening socket on 127.0.0.1 and
counts the connections it accepted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from idpool.domain.errors import ExternalServiceException, NotAuthorizedException
from idpool.domain.records import Pool
from idpool.providers.config import load_providers_config
from idpool.providers.fetch import (
    BlockedDestination,
    Fetcher,
    FetchError,
    PublicOnlyTransport,
    _PublicOnlyBackend,
    is_public_address,
    loggable,
    resolve_public,
)
from idpool.providers.jwks_cache import JwksCache
from idpool.providers.oidc import JwtChecker, OidcVerifier
from idpool.providers.registry import build_login_verifier
from idpool.providers.targets import resolve
from tests.conftest import ROOT
from tests.support.idp import LocalIdentityProvider, LoopbackServer, b64json
from tests.support.listener import Listener

NOW = 1_700_000_000


@pytest.fixture
def listener() -> Iterator[Listener]:
    target = Listener()
    yield target
    target.close()


def pool_with(*arns: str) -> Pool:
    return Pool(
        pool_id="us-east-1:00000000-0000-4000-8000-0000000000f1",
        account_id="222222222222",
        region="us-east-1",
        name="aimed",
        allow_unauthenticated=False,
        open_id_connect_provider_arns=arns,
    )


def outcome(raw: dict[str, Any], pool: Pool, key: str, token: str) -> str:
    async def go() -> str:
        async with httpx.AsyncClient(timeout=2) as http:
            verifier = build_login_verifier(load_providers_config(raw), http, lambda: NOW, None)
            try:
                await verifier.verify(pool, key, token)
            except NotAuthorizedException as exc:
                return f"refused: {exc.message}"
            except ExternalServiceException:
                return "unreachable"
            return "accepted"

    return asyncio.run(go())


# an unsigned login cannot aim idpool at an address ----------------------------------------


def test_unregistered_oidc_arn_is_refused_without_any_connection(listener: Listener) -> None:
    """The attack of issue 12: account B's pool names a metadata-like URL as its provider."""
    idp = LocalIdentityProvider()
    try:
        key = f"{listener.host_port}/latest/meta-data/iam?x="
        arn = f"arn:aws:iam::222222222222:oidc-provider/{key}"
        for scheme in ("https", "http"):
            token = idp.token(idp.claims(NOW, iss=f"{scheme}://{key}", aud="anything"))
            result = outcome({}, pool_with(arn), key, token)
            assert result.startswith("refused: "), result
        # Registered for a *different* ARN: still nothing to fetch for this one.
        other = "arn:aws:iam::222222222222:oidc-provider/idp.example.com"
        registered = {"oidc_providers": {other: {"client_ids": ["anything"]}}}
        token = idp.token(idp.claims(NOW, iss=f"https://{key}", aud="anything"))
        assert outcome(registered, pool_with(arn, other), key, token).startswith("refused: ")
    finally:
        idp.close()
    assert listener.settle() == 0


def test_key_free_checks_come_before_any_key_fetch(listener: Listener) -> None:
    """A registered provider: a foreign audience or an expired token never fetches keys."""
    host = "idp.registered.test"
    arn = f"arn:aws:iam::222222222222:oidc-provider/{host}"
    raw = {
        "issuers": {f"https://{host}": {"jwks_url": f"http://{listener.host_port}/jwks.json"}},
        "oidc_providers": {arn: {"client_ids": ["the-app"]}},
    }
    idp = LocalIdentityProvider(issuer=f"https://{host}")
    try:
        foreign = idp.token(idp.claims(NOW, aud="another-app"))
        expired = idp.token(idp.claims(NOW - 7200, aud="the-app", lifetime=60))
        no_exp = idp.token(idp.claims(NOW, aud="the-app", exp=None))
        wrong_iss = idp.token(idp.claims(NOW, aud="the-app", iss=f"https://{listener.host_port}"))
        results = [outcome(raw, pool_with(arn), host, t) for t in (foreign, expired, no_exp)]
        results.append(outcome(raw, pool_with(arn), host, wrong_iss))
    finally:
        idp.close()
    assert [r.split(".")[0] for r in results] == [
        "refused: Token is not from a supported provider of this identity pool",
        "refused: Invalid login token",
        "refused: Invalid login token",
        "refused: Invalid login token",
    ], results
    assert listener.settle() == 0


def test_discovery_cannot_send_idpool_to_a_plain_http_jwks_uri_elsewhere(
    listener: Listener,
) -> None:
    """The operator's discovery URL is trusted; the jwks_uri it names on another origin is
    a derived URL: https and public addresses only, so the listener is never reached."""
    elsewhere = f"http://{listener.host_port}/jwks.json"
    discovery = LoopbackServer(
        lambda method, path, query, headers: (200, json.dumps({"jwks_uri": elsewhere}).encode())
    )
    host = "idp.discovery.test"
    arn = f"arn:aws:iam::222222222222:oidc-provider/{host}"
    raw = {
        "issuers": {f"https://{host}": {"discovery_url": f"{discovery.url}/.well-known/x"}},
        "oidc_providers": {arn: {"client_ids": ["the-app"]}},
    }
    idp = LocalIdentityProvider(issuer=f"https://{host}")
    try:
        token = idp.token(idp.claims(NOW, aud="the-app"))
        assert outcome(raw, pool_with(arn), host, token) == "unreachable"
        assert discovery.requests == ["/.well-known/x"]
    finally:
        idp.close()
        discovery.close()
    assert listener.settle() == 0


def test_same_origin_jwks_uri_of_an_operator_discovery_url_is_fetched() -> None:
    """The local-IdP case keeps working: discovery and JWKS on the operator's own server."""
    host = "idp.local.test"
    idp = LocalIdentityProvider(issuer=f"https://{host}")
    arn = f"arn:aws:iam::222222222222:oidc-provider/{host}"
    raw = {
        "issuers": {f"https://{host}": {"discovery_url": idp.discovery_url}},
        "oidc_providers": {arn: {"client_ids": ["client-1"]}},
    }
    try:
        assert outcome(raw, pool_with(arn), host, idp.token(idp.claims(NOW))) == "accepted"
    finally:
        idp.close()


# the fetcher's rules ------------------------------------------------------------------------


def fetch(url: str, *, operator: tuple[str, ...] = (), timeout: float = 2.0) -> str:
    async def go() -> str:
        async with httpx.AsyncClient() as http:
            fetcher = Fetcher(http, operator_urls=operator, timeout=timeout)
            try:
                answer = await fetcher.get(url)
            except BlockedDestination as exc:
                return f"blocked: {exc}"
            except FetchError as exc:
                return f"failed: {exc}"
            return f"{answer.status}: {answer.body[:40]!r}"

    return asyncio.run(go())


def test_derived_urls_never_reach_loopback_or_plain_http(listener: Listener) -> None:
    for url in (
        f"https://{listener.host_port}/.well-known/jwks.json",
        f"https://localhost:{listener.port}/jwks.json",
        f"https://[::ffff:127.0.0.1]:{listener.port}/jwks.json",
        f"http://{listener.host_port}/jwks.json",
        f"http://localhost:{listener.port}/jwks.json",
    ):
        assert fetch(url).startswith("blocked: "), url
    assert listener.settle() == 0


def test_unusable_urls_fail_cleanly() -> None:
    for url in ("https://[::1", "ftp://idp.example.com/jwks", "https://", "not a url"):
        assert fetch(url).startswith(("blocked: ", "failed: ")), url


def test_operator_urls_are_fetched_as_written() -> None:
    server = LoopbackServer(lambda method, path, query, headers: (200, b'{"ok": true}'))
    try:
        assert fetch(f"{server.url}/x", operator=(server.url,)) == "200: b'{\"ok\": true}'"
        assert server.requests == ["/x"]
    finally:
        server.close()


def test_no_redirect_to_another_origin(listener: Listener) -> None:
    def redirect(conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 302 Found\r\nLocation: http://"
            + listener.host_port.encode()
            + b"/stolen\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )

    origin = Listener(redirect)
    try:
        url = f"http://{origin.host_port}/start"
        assert fetch(url, operator=(url,)).startswith("blocked: ")
        assert origin.settle() == 1
    finally:
        origin.close()
    assert listener.settle() == 0


def test_a_slow_drip_answer_hits_the_total_deadline() -> None:
    """One byte every 0.3 s never trips a per-read timeout; the total deadline ends it."""

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(1000):
            conn.sendall(b" ")
            time.sleep(0.3)

    slow = Listener(drip)
    try:
        url = f"http://{slow.host_port}/slow"
        assert "no complete answer in 1s" in fetch(url, operator=(url,), timeout=1.0)
    finally:
        slow.close()


def test_the_checked_address_is_the_one_connected_to(listener: Listener) -> None:
    """DNS rebinding: the name is resolved once, by the check, and that address is dialled."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> str:
        asked.append(host)
        return "127.0.0.1"  # what the (already checked) answer said

    async def go() -> None:
        stream = await _PublicOnlyBackend(resolve).connect_tcp("rebind.test", listener.port)
        await stream.aclose()

    asyncio.run(go())
    assert asked == ["rebind.test"]
    assert listener.settle() == 1


def test_resolution_refuses_any_non_public_answer() -> None:
    with pytest.raises(BlockedDestination):
        asyncio.run(resolve_public("localhost", 443))
    with pytest.raises(BlockedDestination):
        asyncio.run(resolve_public("127.0.0.1", 443))


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("fe80::1%eth0", False),
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_logged_urls_lose_their_query() -> None:
    shown = loggable("https://graph.facebook.com/app?access_token=EAAB-secret#x")
    assert shown == "https://graph.facebook.com/app"


# an oversized answer cannot grow memory -----------------------------------------------------

_RSS_PROBE = r"""
import asyncio, resource, socket, sys, threading, zlib
import httpx
from idpool.providers.fetch import Fetcher, FetchError

SIZE = 128 * 1024 * 1024
CHUNK = b"x" * (1024 * 1024)
# Built a megabyte at a time, so the probe's own peak stays low before measuring.
_gzip = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
BOMB = b"".join(_gzip.compress(b"\0" * len(CHUNK)) for _ in range(SIZE // len(CHUNK)))
BOMB += _gzip.flush()

def serve(sock, mode):
    conn, _ = sock.accept()
    with conn:
        conn.recv(65536)
        try:
            if mode == "plain":  # no Content-Length: only the running count can stop it
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
                for _ in range(SIZE // len(CHUNK)):
                    conn.sendall(CHUNK)
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: "
                             + str(len(BOMB)).encode() + b"\r\n\r\n" + BOMB)
        except OSError:
            pass

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

async def main():
    results = []
    async with httpx.AsyncClient() as http:
        for mode in ("gzip", "plain"):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
            url = "http://127.0.0.1:%d/jwks.json" % sock.getsockname()[1]
            threading.Thread(target=serve, args=(sock, mode), daemon=True).start()
            fetcher = Fetcher(http, operator_urls=[url], timeout=30)
            before = peak_mb()
            try:
                await fetcher.get(url)
                outcome = "read whole"
            except FetchError as exc:
                outcome = str(exc)
            results.append((mode, outcome, peak_mb() - before))
    return results

for mode, outcome, grown in asyncio.run(main()):
    print(mode, round(grown, 1), outcome, sep="|")
"""


def test_an_oversized_answer_keeps_memory_flat() -> None:
    """128 MiB plain and as a gzip bomb: the peak RSS of a fresh process barely moves."""
    probe = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    rows = [line.split("|") for line in probe.stdout.splitlines()]
    assert [row[0] for row in rows] == ["gzip", "plain"], probe.stdout
    for mode, grown, outcome in rows:
        assert "answer larger than 524288 bytes" in outcome, (mode, outcome)
        assert float(grown) < 16, f"{mode}: peak RSS grew by {grown} MB"


def test_a_proxy_in_the_environment_cannot_carry_derived_fetches(
    listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would hide the destination from the check, so derived fetches never use one."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, f"http://{listener.host_port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert fetch("https://169.254.169.254/latest/meta-data/").startswith("blocked: ")
    assert listener.settle() == 0


def _tls_server_context(tmp: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a self-signed certificate of `host`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


def test_derived_https_fetch_dials_the_checked_address_and_verifies_the_name(
    tmp_path: Path,
) -> None:
    """The address comes from the check, the certificate is still verified for the host
    name: a resolver answer for another name gets no data."""
    server_ctx, client_ctx = _tls_server_context(tmp_path, "keys.public.test")

    def answer(conn: socket.socket) -> None:
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(65536)
                tls.sendall(
                    b'HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\n{"keys":[]}'
                )
        except (OSError, ssl.SSLError):
            pass

    tls_listener = Listener(answer, raw=True)
    asked: list[str] = []

    async def resolve(host: str, port: int) -> str:
        asked.append(host)
        return "127.0.0.1"

    async def go(url: str) -> str:
        transport = PublicOnlyTransport(resolve=resolve, ssl_context=client_ctx)
        async with (
            httpx.AsyncClient() as operator,
            httpx.AsyncClient(transport=transport, trust_env=False) as derived,
        ):
            fetcher = Fetcher(operator, derived_client=derived)
            try:
                fetched = await fetcher.get(url)
            except FetchError as exc:
                return f"failed: {exc}"
            return f"{fetched.status} {fetched.body.decode()}"

    try:
        port = tls_listener.port
        assert asyncio.run(go(f"https://keys.public.test:{port}/jwks")) == '200 {"keys":[]}'
        assert asyncio.run(go(f"https://other.public.test:{port}/jwks")).startswith("failed: ")
    finally:
        tls_listener.close()
    assert asked == ["keys.public.test", "other.public.test"]


class NoFetches(Fetcher):
    """A fetcher that fails the test if anything is asked of it."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def get(self, url: str, **kw: Any) -> Any:
        self.asked.append(url)
        raise AssertionError(f"fetched {url}")


_claim_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.text(max_size=30),
    st.lists(st.text(max_size=10), max_size=3),
)


@settings(max_examples=150, deadline=None)
@given(
    iss_host=st.sampled_from(["169.254.169.254/latest", "unregistered.example.com", "x"]),
    scheme=st.sampled_from(["https://", "http://", ""]),
    claims=st.dictionaries(
        st.sampled_from(["aud", "azp", "exp", "nbf", "iat", "sub"]), _claim_values
    ),
    alg=st.sampled_from(["RS256", "ES256", "none", "HS256"]),
)
def test_no_token_for_an_unregistered_provider_is_ever_fetched_for(
    iss_host: str, scheme: str, claims: dict[str, Any], alg: str
) -> None:
    """Whatever the claims, a login for an ARN nobody registered asks nothing of anyone."""
    arn = f"arn:aws:iam::222222222222:oidc-provider/{iss_host}"
    token = ".".join(
        [
            b64json({"alg": alg, "kid": "k"}),
            b64json(
                {**{k: v for k, v in claims.items() if v is not None}, "iss": scheme + iss_host}
            ),
            "c2ln",
        ]
    )
    fetcher = NoFetches()
    checker = JwtChecker(JwksCache(fetcher, lambda: NOW), lambda: NOW, leeway=60)
    target = resolve(pool_with(arn), iss_host, load_providers_config({}))

    with pytest.raises(NotAuthorizedException):
        asyncio.run(OidcVerifier(checker).check(target, token))
    assert fetcher.asked == []
