"""The admin console: a small server-rendered web UI under /console.

Read-mostly: pages list pools, identities, role configuration, signing keys and the audit
trail through `service.admin.AdminQueries`. The two destructive actions (delete an identity,
unlink a developer user id) first show a confirmation page whose form carries a CSRF token,
then run through the ordinary service operations, so they keep every rule and record their
audit events. Templates are Jinja2 with autoescaping always on: pool names and login
subjects come from callers and may be hostile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl

from idpool.domain.errors import ServiceError
from idpool.domain.ports import StoredKey
from idpool.domain.records import Caller, Pool
from idpool.server import console_charts
from idpool.server.call_history import CallHistory
from idpool.server.console_auth import (
    DEVICE_COOKIE_NAME,
    DEVICE_SECONDS,
    ClientAddress,
    ConsoleAuth,
    LoginThrottle,
)
from idpool.server.console_http import (
    SECURITY_HEADERS,
    Request,
    Response,
    cookie_value,
    current_path,
    decode_after,
    encode_after,
    int_or_none,
    redirect,
    safe_next,
    segments_of,
    set_cookie,
    static_file,
    url,
)
from idpool.server.console_view import ConsoleView, public_keys
from idpool.server.requests import BodyEnd, headers_of, read_body
from idpool.server.types import Receive, Scope, Send
from idpool.service.admin import MAX_CHART_EVENTS, AdminQueries
from idpool.service.facade import IdentityPoolService
from idpool.service.roles import RoleChoice

MAX_FORM_BYTES = 64 * 1024
PAGE_SIZE = 50
NOTICES = {
    "deleted": "The identity was deleted.",
    "unlinked": "The developer user id was unlinked.",
}


class KeyLister(Protocol):
    """Where the console reads signing keys from (the KeyStore port fits)."""

    async def load_keys(self, now: float) -> list[StoredKey]: ...


ServiceGetter = Callable[[], IdentityPoolService | None]
KeysGetter = Callable[[], KeyLister | None]


class ConsoleApp:
    """ASGI callable mounted by the edge for every path under /console."""

    def __init__(
        self,
        service_getter: ServiceGetter,
        admin_user: str,
        admin_password: str,
        *,
        keys_getter: KeysGetter | None = None,
        session_secret: str | None = None,
        session_seconds: int = 8 * 3600,
        clock: Callable[[], float] = time.time,
        trusted_proxies: Sequence[str] = (),
        calls: CallHistory | None = None,
        revoked_dir: Path | None = None,
    ) -> None:
        self._service = service_getter
        self._calls = calls
        self._client_address = ClientAddress(trusted_proxies)
        self._keys = keys_getter
        self._clock = clock
        self._auth = ConsoleAuth(
            admin_user,
            admin_password,
            session_secret=session_secret,
            session_seconds=session_seconds,
            clock=clock,
            revoked_dir=revoked_dir,
        )
        self._throttle = LoginThrottle(clock)
        self._view = ConsoleView(self._auth)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        response = await self._respond(scope, receive)
        headers = [
            (b"content-type", response.content_type),
            (b"content-length", str(len(response.body)).encode()),
            (b"cache-control", response.cache),
            *SECURITY_HEADERS,
            *response.headers,
        ]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else response.body
        await send({"type": "http.response.body", "body": body})

    async def _respond(self, scope: Scope, receive: Receive) -> Response:
        method = scope["method"]
        if method not in ("GET", "HEAD", "POST"):
            return Response(405, b"Method not allowed", [(b"allow", b"GET, HEAD, POST")])
        headers = headers_of(scope)
        form: dict[str, str] = {}
        if method == "POST":
            read = await read_body(receive, MAX_FORM_BYTES, None)
            if read.end is BodyEnd.TOO_LARGE:
                return Response(413, b"Form too large", content_type=b"text/plain")
            body = read.data if read.end is BodyEnd.COMPLETE else b""
            form = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        cookie = cookie_value(headers.get("cookie"))
        peer = scope.get("client") or ("?", 0)
        request = Request(
            method="GET" if method == "HEAD" else method,
            segments=segments_of(scope),
            query=dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))),
            form=form,
            cookie=cookie,
            user=self._auth.user_of(cookie),
            client=self._client_address.of(str(peer[0]), headers),
            secure=scope.get("scheme") == "https"
            or headers.get("x-forwarded-proto", "").lower() == "https",
            device=self._auth.device_of(cookie_value(headers.get("cookie"), DEVICE_COOKIE_NAME)),
        )
        return await self._route(request)

    async def _route(self, request: Request) -> Response:
        segments = request.segments
        if segments[:1] == ("static",) and len(segments) == 2:
            return static_file(segments[1])
        if segments == ("login",):
            return await self._login(request)
        if request.user is None or request.cookie is None:
            return self._view.login_page(request, 401, next_path=current_path(request))
        if request.method == "POST" and not self._auth.check_csrf(
            request.cookie, request.form.get("csrf", "")
        ):
            return self._view.error(
                request, 403, "The form expired or did not come from this console."
            )
        if segments == ("logout",) and request.method == "POST":
            self._auth.revoke(request.cookie)
            return redirect(url("login"), [set_cookie("", 0, request.secure)])
        service = self._service()
        admin = service.admin if service is not None else None
        if service is None or admin is None:
            return self._view.error(
                request, 503, "The server is still starting; try again shortly."
            )
        match segments:
            case () | ("pools",):
                return await self._pools(request, admin)
            case ("find",):
                return await self._find(request, admin)
            case ("keys",):
                return await self._keys_page(request)
        if len(segments) >= 2 and segments[0] == "pools":
            pool = await admin.pool(segments[1])
            if pool is None:
                return self._view.error(request, 404, "No pool has this id.")
            return await self._pool_route(request, admin, service, pool, segments[2:])
        return self._view.error(request, 404, "No console page at this address.")

    async def _pool_route(
        self,
        request: Request,
        admin: AdminQueries,
        service: IdentityPoolService,
        pool: Pool,
        rest: tuple[str, ...],
    ) -> Response:
        match rest:
            case ():
                activity = await self._activity(request, admin, pool)
                return self._view.page(request, "pool.html", title=pool.name, pool=pool, **activity)
            case ("identities",):
                return await self._identities(request, admin, pool)
            case ("events",):
                before = int_or_none(request.query.get("before"))
                events = await admin.events(pool, before=before, limit=PAGE_SIZE)
                older = events[-1].event_id if len(events) == PAGE_SIZE else None
                return self._view.page(
                    request,
                    "events.html",
                    title="Audit trail",
                    pool=pool,
                    events=events,
                    older=older,
                )
            case ("identities", identity_id, *action):
                detail = await admin.identity(pool.pool_id, identity_id)
                if detail is None:
                    return self._view.error(request, 404, "This pool has no identity with this id.")
                if action == ["delete"]:
                    return await self._delete(request, service, pool, identity_id)
                if action == ["unlink"]:
                    return await self._unlink(request, service, pool, identity_id)
                if action:
                    return self._view.error(request, 404, "No console page at this address.")
                events = await admin.events(pool, identity_id=identity_id, limit=PAGE_SIZE)
                vended = next((e for e in events if e.kind == "credentials"), None)
                return self._view.page(
                    request,
                    "identity.html",
                    title="Identity",
                    pool=pool,
                    detail=detail,
                    events=events,
                    vended=vended,
                    role_of=RoleChoice.split_detail,
                )
        return self._view.error(request, 404, "No console page at this address.")

    # pages ------------------------------------------------------------------------------

    async def _pools(self, request: Request, admin: AdminQueries) -> Response:
        listing = await admin.pools(decode_after(request.query.get("after")), PAGE_SIZE)
        return self._view.page(
            request,
            "pools.html",
            title="Identity pools",
            pools=listing.items,
            after=encode_after(listing.after),
            **await self._activity(request, admin, None),
        )

    async def _activity(
        self, request: Request, admin: AdminQueries, pool: Pool | None
    ) -> dict[str, Any]:
        """The charts of the pools page (pool None) or of one pool, for ?window=hour|day."""
        window = console_charts.window_of(request.query.get("window"))
        events = await admin.recent_events(pool, MAX_CHART_EVENTS)
        charts = console_charts.build_charts(
            events, self._calls, window, self._clock(), MAX_CHART_EVENTS
        )
        parts = ("pools", pool.pool_id) if pool is not None else ("pools",)
        links = [(name, url(*parts, window=name)) for name in console_charts.WINDOWS]
        return {"charts": charts, "window_links": links}

    async def _find(self, request: Request, admin: AdminQueries) -> Response:
        identity_id = request.query.get("identity_id", "").strip()
        identity = await admin.find_identity(identity_id) if identity_id else None
        if identity is None:
            return self._view.error(request, 404, "No identity has this id.")
        return redirect(url("pools", identity.pool_id, "identities", identity.identity_id))

    async def _identities(self, request: Request, admin: AdminQueries, pool: Pool) -> Response:
        text = request.query.get("q", "").strip()
        after: str | None = None
        if text:
            items = await admin.search(pool.pool_id, text)
        else:
            listing = await admin.identities(
                pool.pool_id, decode_after(request.query.get("after")), PAGE_SIZE
            )
            items, after = listing.items, encode_after(listing.after)
        return self._view.page(
            request,
            "identities.html",
            title="Identities",
            pool=pool,
            items=items,
            q=text,
            after=after,
            notice=NOTICES.get(request.query.get("notice", "")),
        )

    async def _keys_page(self, request: Request) -> Response:
        source = self._keys() if self._keys is not None else None
        stored = await source.load_keys(self._clock()) if source is not None else []
        return self._view.page(
            request,
            "keys.html",
            title="Signing keys",
            keys=public_keys(stored),
            available=source is not None,
        )

    # destructive actions -----------------------------------------------------------------

    async def _delete(
        self, request: Request, service: IdentityPoolService, pool: Pool, identity_id: str
    ) -> Response:
        if request.method != "POST":
            return self._view.confirm(
                request,
                question="Delete this identity?",
                facts=[("Pool", pool.name), ("Identity", identity_id)],
                consequence="Its logins and developer user ids are removed; the next sign-in "
                "with them creates a new identity id. This cannot be undone.",
                action=url("pools", pool.pool_id, "identities", identity_id, "delete"),
                hidden={},
                button="Delete identity",
                cancel=url("pools", pool.pool_id, "identities", identity_id),
            )
        try:
            unprocessed = await service.identities.delete(_caller(pool), [identity_id])
        except ServiceError as exc:
            return self._view.error(request, 409, exc.message)
        if unprocessed:
            return self._view.error(request, 409, "The identity was not deleted (access denied).")
        return redirect(url("pools", pool.pool_id, "identities", notice="deleted"))

    async def _unlink(
        self, request: Request, service: IdentityPoolService, pool: Pool, identity_id: str
    ) -> Response:
        source = request.form if request.method == "POST" else request.query
        provider = source.get("provider", "")
        subject = source.get("subject", "")
        back = url("pools", pool.pool_id, "identities", identity_id)
        if request.method != "POST":
            return self._view.confirm(
                request,
                question="Unlink this developer user id?",
                facts=[("Identity", identity_id), ("Provider", provider), ("User id", subject)],
                consequence="The identity keeps its id; when this was its last login it is "
                "disabled. The next developer sign-in with this user id creates a new identity.",
                action=url("pools", pool.pool_id, "identities", identity_id, "unlink"),
                hidden={"provider": provider, "subject": subject},
                button="Unlink",
                cancel=back,
            )
        try:
            await service.developer.unlink(
                _caller(pool), identity_id, pool.pool_id, provider, subject
            )
        except ServiceError as exc:
            return self._view.error(request, 409, exc.message)
        return redirect(url("pools", pool.pool_id, "identities", identity_id, notice="unlinked"))

    # login ------------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        target = safe_next(request.query.get("next") or request.form.get("next"))
        if request.method != "POST":
            if request.user is not None:
                return redirect(target)
            return self._view.login_page(request, 200, next_path=target)
        # A browser that signed in before has a bucket of its own (console_auth.py).
        key = f"device:{request.device}" if request.device else f"address:{request.client}"
        if self._throttle.blocked(key):
            return self._view.login_page(
                request, 429, next_path=target, error="Too many failed attempts; wait a while."
            )
        user = request.form.get("username", "")
        if not self._auth.check_credentials(user, request.form.get("password", "")):
            self._throttle.failed(key)
            return self._view.login_page(
                request, 401, next_path=target, error="Wrong user name or password."
            )
        self._throttle.succeeded(key)
        cookie = self._auth.issue(user)
        headers = [set_cookie(cookie, self._auth.max_age, request.secure)]
        if request.device is None:
            device = self._auth.issue_device()
            headers.append(
                set_cookie(device, DEVICE_SECONDS, request.secure, DEVICE_COOKIE_NAME, url("login"))
            )
        return redirect(target, headers)


def _caller(pool: Pool) -> Caller:
    """The console acts as the pool's own account, as a signed admin call would."""
    return Caller(account_id=pool.account_id, region=pool.region, signed=True)


def build_console(
    service_getter: ServiceGetter,
    keys_getter: KeysGetter | None,
    *,
    admin_user: str,
    admin_password: str | None,
    session_secret: str | None = None,
    trusted_proxies: Sequence[str] = (),
    calls: CallHistory | None = None,
    revoked_dir: Path | None = None,
) -> ConsoleApp | None:
    """The console when an admin password is configured; None (no console) otherwise."""
    if not admin_password:
        return None
    return ConsoleApp(
        service_getter,
        admin_user,
        admin_password,
        keys_getter=keys_getter,
        session_secret=session_secret,
        trusted_proxies=trusted_proxies,
        calls=calls,
        revoked_dir=revoked_dir,
    )
