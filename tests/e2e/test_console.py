"""The admin console over HTTP: sign-in, what the pages list, escaping, confirmed actions.

The server runs in trust mode, so a non-JWT login token is its own subject: a test picks
any subject it likes, including hostile markup.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from markupsafe import escape

from tests.conftest import make_client
from tests.e2e.console_server import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    console_server,
    csrf_of,
    logged_in,
)
from tests.e2e.test_observability import _unsigned_jwt
from tests.support.live import LiveServer

DEVELOPER_PROVIDER = "login.console.test"
HOSTILE = "<script>alert('x')</script><img src=x onerror=\"alert(1)\">&amp;"
AUTH_ROLE = "arn:aws:iam::123456789012:role/console-auth"
ADMIN_ROLE = "arn:aws:iam::123456789012:role/console-admins"


@dataclass(frozen=True)
class World:
    server: LiveServer
    cognito: Any
    pool_id: str
    pool_name: str
    guest: str
    google: str
    google_subject: str
    developer: str
    developer_user: str
    hostile: str


def _pool_path(pool_id: str, *rest: str) -> str:
    return "/".join(["/console/pools", quote(pool_id, safe=""), *(quote(r, safe="") for r in rest)])


@pytest.fixture(scope="module")
def world(database_url: str) -> Iterator[World]:
    with console_server(database_url) as server:
        cognito = make_client(server.url)
        unsigned = make_client(server.url, signed=False)
        name = f"console_{uuid.uuid4().hex[:8]}"
        pool_id = cognito.create_identity_pool(
            IdentityPoolName=name,
            AllowUnauthenticatedIdentities=True,
            SupportedLoginProviders={"accounts.google.com": "console-app"},
            DeveloperProviderName=DEVELOPER_PROVIDER,
        )["IdentityPoolId"]
        cognito.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={"authenticated": AUTH_ROLE},
            RoleMappings={
                "accounts.google.com": {
                    "Type": "Rules",
                    "AmbiguousRoleResolution": "AuthenticatedRole",
                    "RulesConfiguration": {
                        "Rules": [
                            {
                                "Claim": "hd",
                                "MatchType": "Equals",
                                "Value": "example.com",
                                "RoleARN": ADMIN_ROLE,
                            }
                        ]
                    },
                }
            },
        )
        google_subject = f"google-{uuid.uuid4().hex[:8]}"
        developer_user = f"dev-{uuid.uuid4().hex[:8]}"
        yield World(
            server=server,
            cognito=cognito,
            pool_id=pool_id,
            pool_name=name,
            guest=unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"],
            google=unsigned.get_id(
                IdentityPoolId=pool_id, Logins={"accounts.google.com": google_subject}
            )["IdentityId"],
            google_subject=google_subject,
            developer=cognito.get_open_id_token_for_developer_identity(
                IdentityPoolId=pool_id, Logins={DEVELOPER_PROVIDER: developer_user}
            )["IdentityId"],
            developer_user=developer_user,
            hostile=unsigned.get_id(
                IdentityPoolId=pool_id, Logins={"accounts.google.com": HOSTILE}
            )["IdentityId"],
        )
        try:
            cognito.delete_identity_pool(IdentityPoolId=pool_id)
        except cognito.exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def admin(world: World) -> Iterator[httpx.Client]:
    with logged_in(world.server.url) as client:
        yield client


# sign-in ----------------------------------------------------------------------------------


def test_every_page_needs_a_session(world: World) -> None:
    with httpx.Client(base_url=world.server.url, timeout=10) as anonymous:
        for path in ["/console", "/console/pools", _pool_path(world.pool_id), "/console/keys"]:
            response = anonymous.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"].startswith("Cookie ")
            assert 'name="password"' in response.text
            assert world.pool_name not in response.text
        delete = anonymous.post(
            _pool_path(world.pool_id, "identities", world.guest, "delete"), data={"csrf": "x"}
        )
        assert delete.status_code == 401
    assert world.cognito.describe_identity(IdentityId=world.guest)["IdentityId"] == world.guest


def test_wrong_password_and_forged_cookie_are_refused(world: World) -> None:
    with httpx.Client(base_url=world.server.url, timeout=10) as client:
        wrong = client.post(
            "/console/login", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD + "x"}
        )
        assert wrong.status_code == 401
        assert "Wrong user name or password" in wrong.text
        assert "set-cookie" not in wrong.headers
        client.cookies.set("idpool_console", "eyJ1IjoiYWRtaW4iLCJleHAiOjk5OTk5OTk5OTl9.AAAA")
        assert client.get("/console/pools").status_code == 401


def test_session_cookie_is_httponly_and_same_site(world: World) -> None:
    with httpx.Client(base_url=world.server.url, timeout=10) as client:
        response = client.post(
            "/console/login", data={"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        )
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/console" in cookie


def test_login_only_redirects_inside_the_console(world: World) -> None:
    with httpx.Client(base_url=world.server.url, timeout=10) as client:
        for target in ["https://evil.example/", "//evil.example/console/", "/console/keys"]:
            response = client.post(
                "/console/login",
                data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "next": target},
            )
            expected = target if target == "/console/keys" else "/console/pools"
            assert response.headers["location"] == expected


def test_logout_ends_the_session(world: World, admin: httpx.Client) -> None:
    page = admin.get("/console/pools")
    response = admin.post("/console/logout", data={"csrf": csrf_of(page.text)})
    assert response.status_code == 303
    assert admin.get("/console/pools").status_code == 401


# pages ------------------------------------------------------------------------------------


def test_pools_page_lists_the_pool(world: World, admin: httpx.Client) -> None:
    page = admin.get("/console/pools")
    assert page.status_code == 200
    assert world.pool_name in page.text
    assert world.pool_id in page.text
    assert DEVELOPER_PROVIDER in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_pool_page_shows_settings_and_role_configuration(world: World, admin: httpx.Client) -> None:
    page = admin.get(_pool_path(world.pool_id))
    assert page.status_code == 200
    for expected in [AUTH_ROLE, ADMIN_ROLE, "example.com", "AuthenticatedRole", "console-app"]:
        assert expected in page.text


def test_identities_page_lists_identities_with_logins(world: World, admin: httpx.Client) -> None:
    page = admin.get(_pool_path(world.pool_id, "identities"))
    assert page.status_code == 200
    for identity in [world.guest, world.google, world.developer]:
        assert identity in page.text
    assert world.google_subject in page.text
    assert world.developer_user in page.text


@pytest.mark.parametrize("field", ["guest", "google_subject", "developer_user"])
def test_search_by_identity_id_provider_subject_or_developer_id(
    world: World, admin: httpx.Client, field: str
) -> None:
    expected = {"guest": world.guest, "google_subject": world.google}.get(field, world.developer)
    page = admin.get(_pool_path(world.pool_id, "identities"), params={"q": getattr(world, field)})
    assert page.status_code == 200
    assert expected in page.text
    others = {world.guest, world.google, world.developer} - {expected}
    assert not any(other in page.text for other in others)


def test_jump_to_identity_from_anywhere(world: World, admin: httpx.Client) -> None:
    response = admin.get("/console/find", params={"identity_id": world.google})
    assert response.status_code == 303
    assert response.headers["location"] == _pool_path(world.pool_id, "identities", world.google)
    assert admin.get("/console/find", params={"identity_id": "us-east-1:nope"}).status_code == 404


def test_audit_trail_lists_lifecycle_events(world: World, admin: httpx.Client) -> None:
    page = admin.get(_pool_path(world.pool_id, "events"))
    assert page.status_code == 200
    assert page.text.count(">created<") >= 3
    assert world.developer in page.text


def test_keys_page_shows_published_kids_and_no_private_material(
    world: World, admin: httpx.Client
) -> None:
    jwks = httpx.get(f"{world.server.url}/.well-known/jwks_uri", timeout=10).json()
    page = admin.get("/console/keys")
    assert page.status_code == 200
    for key in jwks["keys"]:
        assert key["kid"] in page.text
        assert key["n"] not in page.text
    assert "active" in page.text


def test_unknown_pool_and_identity_are_404(world: World, admin: httpx.Client) -> None:
    assert admin.get(_pool_path("us-east-1:" + str(uuid.uuid4()))).status_code == 404
    missing = _pool_path(world.pool_id, "identities", "us-east-1:" + str(uuid.uuid4()))
    assert admin.get(missing).status_code == 404


# escaping ---------------------------------------------------------------------------------


def test_hostile_login_subject_is_escaped_everywhere(world: World, admin: httpx.Client) -> None:
    pages = [
        admin.get(_pool_path(world.pool_id, "identities")),
        admin.get(_pool_path(world.pool_id, "identities"), params={"q": HOSTILE}),
        admin.get(_pool_path(world.pool_id, "identities", world.hostile)),
    ]
    for page in pages:
        assert page.status_code == 200
        assert HOSTILE not in page.text
        assert "<script>" not in page.text
        assert "<img" not in page.text
        assert str(escape(HOSTILE)) in page.text
    assert world.hostile in pages[1].text


# destructive actions ----------------------------------------------------------------------


def _fresh_guest(world: World) -> str:
    return str(
        make_client(world.server.url, signed=False).get_id(IdentityPoolId=world.pool_id)[
            "IdentityId"
        ]
    )


def test_delete_asks_first_and_needs_the_csrf_token(world: World, admin: httpx.Client) -> None:
    identity = _fresh_guest(world)
    path = _pool_path(world.pool_id, "identities", identity, "delete")

    confirm = admin.get(path)
    assert confirm.status_code == 200
    assert "Delete this identity?" in confirm.text
    assert world.cognito.describe_identity(IdentityId=identity)["IdentityId"] == identity

    assert admin.post(path).status_code == 403
    assert admin.post(path, data={"csrf": "forged"}).status_code == 403
    with logged_in(world.server.url) as other_session:
        other_token = csrf_of(other_session.get("/console/pools").text)
    assert admin.post(path, data={"csrf": other_token}).status_code == 403
    assert world.cognito.describe_identity(IdentityId=identity)["IdentityId"] == identity

    done = admin.post(path, data={"csrf": csrf_of(confirm.text)})
    assert done.status_code == 303
    assert "notice=deleted" in done.headers["location"]
    with pytest.raises(world.cognito.exceptions.ResourceNotFoundException):
        world.cognito.describe_identity(IdentityId=identity)
    events = admin.get(_pool_path(world.pool_id, "events")).text
    assert ">deleted<" in events
    assert identity in events


def test_unlink_developer_id_asks_first(world: World, admin: httpx.Client) -> None:
    user = f"dev-{uuid.uuid4().hex[:8]}"
    identity = world.cognito.get_open_id_token_for_developer_identity(
        IdentityPoolId=world.pool_id, Logins={DEVELOPER_PROVIDER: user}
    )["IdentityId"]
    path = _pool_path(world.pool_id, "identities", identity, "unlink")

    detail = admin.get(_pool_path(world.pool_id, "identities", identity))
    assert "Unlink…" in detail.text
    confirm = admin.get(path, params={"provider": DEVELOPER_PROVIDER, "subject": user})
    assert confirm.status_code == 200
    assert "Unlink this developer user id?" in confirm.text
    assert user in confirm.text

    form = {"provider": DEVELOPER_PROVIDER, "subject": user}
    assert admin.post(path, data=form).status_code == 403
    found = world.cognito.lookup_developer_identity(
        IdentityPoolId=world.pool_id, DeveloperUserIdentifier=user
    )
    assert found["IdentityId"] == identity

    done = admin.post(path, data={**form, "csrf": csrf_of(confirm.text)})
    assert done.status_code == 303
    with pytest.raises(world.cognito.exceptions.ResourceNotFoundException):
        world.cognito.lookup_developer_identity(
            IdentityPoolId=world.pool_id, DeveloperUserIdentifier=user
        )
    page = admin.get(_pool_path(world.pool_id, "identities", identity))
    assert "disabled" in page.text


# sign-out, sign-in throttle, classic flow (issue 12 §7) -------------------------------------


def test_signing_out_ends_the_session_on_the_server(world: World) -> None:
    """A copied cookie (a shared machine, a proxy log) must not outlive the sign-out."""
    with logged_in(world.server.url) as client:
        page = client.get("/console/pools")
        cookie = client.cookies["idpool_console"]
        assert client.post("/console/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with httpx.Client(base_url=world.server.url, timeout=10) as replay:
        replay.cookies.set("idpool_console", cookie)
        assert replay.get("/console/pools").status_code == 401


def _sign_in(
    client: httpx.Client, password: str, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
    return client.post(
        "/console/login",
        data={"username": ADMIN_USER, "password": password},
        headers=headers,
    )


def test_failures_behind_a_trusted_proxy_lock_out_only_their_client(database_url: str) -> None:
    """Behind a reverse proxy every request comes from the proxy: one attacker must not lock
    out the operator; X-Forwarded-For names the client when the proxy is configured."""
    with console_server(database_url, trusted_proxies=["127.0.0.1"]) as server:
        with httpx.Client(base_url=server.url, timeout=10) as attacker:
            answers = [_sign_in(attacker, "guess", "203.0.113.9").status_code for _ in range(12)]
        assert answers[:10] == [401] * 10
        assert answers[10:] == [429, 429]
        with httpx.Client(base_url=server.url, timeout=10) as operator:
            assert _sign_in(operator, ADMIN_PASSWORD, "198.51.100.7").status_code == 303


def test_forwarded_for_from_an_untrusted_peer_is_ignored(database_url: str) -> None:
    """Without trusted proxies a client cannot dodge the throttle by writing the header."""
    with console_server(database_url) as server:
        with httpx.Client(base_url=server.url, timeout=10) as attacker:
            answers = [_sign_in(attacker, "guess", f"203.0.113.{i}").status_code for i in range(11)]
        assert answers[:10] == [401] * 10
        assert answers[10] == 429


def test_a_browser_that_signed_in_before_is_not_locked_out(database_url: str) -> None:
    """The operator's browser holds a device cookie from an earlier sign-in: guesses from
    the same address (no proxy configured at all) do not shut it out."""
    with (
        console_server(database_url) as server,
        httpx.Client(base_url=server.url, timeout=10) as operator,
    ):
        first = _sign_in(operator, ADMIN_PASSWORD)
        assert first.status_code == 303
        assert "idpool_console_device" in operator.cookies
        page = operator.get("/console/pools")
        operator.post("/console/logout", data={"csrf": csrf_of(page.text)})
        with httpx.Client(base_url=server.url, timeout=10) as attacker:
            answers = [_sign_in(attacker, "guess").status_code for _ in range(11)]
            assert answers[-1] == 429
            assert _sign_in(attacker, ADMIN_PASSWORD).status_code == 429
        assert _sign_in(operator, ADMIN_PASSWORD).status_code == 303
        assert operator.get("/console/pools").status_code == 200


@pytest.mark.parametrize(
    ("classic", "shown"),
    [(None, "allowed (not set: the default)"), (True, "allowed"), (False, "not allowed")],
)
def test_classic_flow_shows_the_tri_state(
    world: World, admin: httpx.Client, classic: bool | None, shown: str
) -> None:
    options = {} if classic is None else {"AllowClassicFlow": classic}
    pool_id = world.cognito.create_identity_pool(
        IdentityPoolName=f"classic_{uuid.uuid4().hex[:6]}",
        AllowUnauthenticatedIdentities=True,
        **options,
    )["IdentityPoolId"]
    page = admin.get(_pool_path(pool_id))
    assert f"<dt>Classic (basic) flow</dt><dd>{shown}</dd>" in page.text
    # What the page says is what GetOpenIdToken does.
    unsigned = make_client(world.server.url, signed=False)
    identity = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]
    if classic is False:
        with pytest.raises(unsigned.exceptions.InvalidParameterException):
            unsigned.get_open_id_token(IdentityId=identity)
    else:
        assert unsigned.get_open_id_token(IdentityId=identity)["Token"]


# why this role (issue 19 §2) --------------------------------------------------------------


def test_identity_page_and_audit_trail_say_which_rule_chose_the_role(
    world: World, admin: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    unsigned = make_client(world.server.url, signed=False)
    token = _unsigned_jwt({"sub": f"g-{uuid.uuid4().hex[:8]}", "hd": "example.com"})
    logins = {"accounts.google.com": token}
    identity = unsigned.get_id(IdentityPoolId=world.pool_id, Logins=logins)["IdentityId"]
    with caplog.at_level("DEBUG", logger="idpool.credentials"):
        vended = unsigned.get_credentials_for_identity(IdentityId=identity, Logins=logins)
    assert vended["Credentials"]["AccessKeyId"]
    reason = "Rules mapping of accounts.google.com, rule 1"

    page = admin.get(_pool_path(world.pool_id, "identities", identity))
    assert f'<dd class="mono" id="role-chosen">{ADMIN_ROLE}</dd>' in page.text
    assert f'<dd id="role-reason">{reason}</dd>' in page.text
    trail = admin.get(_pool_path(world.pool_id, "events")).text
    assert ">credentials<" in trail
    assert f"{ADMIN_ROLE} · {reason}" in trail

    lines = [r for r in caplog.records if r.name == "idpool.credentials"]
    assert [(r.__dict__["role"], r.__dict__["rule"]) for r in lines] == [(ADMIN_ROLE, reason)]
    assert token not in caplog.text

    other = _unsigned_jwt({"sub": f"g-{uuid.uuid4().hex[:8]}", "hd": "elsewhere.org"})
    second = unsigned.get_id(IdentityPoolId=world.pool_id, Logins={"accounts.google.com": other})[
        "IdentityId"
    ]
    unsigned.get_credentials_for_identity(IdentityId=second, Logins={"accounts.google.com": other})
    page = admin.get(_pool_path(world.pool_id, "identities", second))
    assert f'<dd class="mono" id="role-chosen">{AUTH_ROLE}</dd>' in page.text
    assert "no rule matched the mapping of accounts.google.com" in page.text
