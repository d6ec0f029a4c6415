"""A live idpool with the admin console mounted, for the console's HTTP and browser tests.

The console is built with `build_console` exactly as the composition root does, and
mounted in front of the application's own ASGI app, so these tests do not depend on which
settings enable it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from idpool.app import Application
from idpool.server.console import build_console
from idpool.serving import prepare_database
from idpool.storage.keys import SqlKeyStore
from tests.support.live import LiveServer, settings_for_tests

ADMIN_USER = "operator"
ADMIN_PASSWORD = "console-test-password"


def _mounted(application: Application, **options: Any) -> Any:
    def service() -> Any:
        return application.runtime.service if application.runtime else None

    def keys() -> Any:
        return SqlKeyStore(application.runtime.store) if application.runtime else None

    console = build_console(
        service,
        keys,
        admin_user=ADMIN_USER,
        admin_password=ADMIN_PASSWORD,
        calls=application.metrics.calls,
        **options,
    )
    assert console is not None
    inner = application.asgi

    async def app(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/console" or path.startswith("/console/")):
            await console(scope, receive, send)
        else:
            await inner(scope, receive, send)

    return app


@contextmanager
def console_server(database_url: str, **options: Any) -> Iterator[LiveServer]:
    """`options` go to build_console (e.g. trusted_proxies)."""
    settings = settings_for_tests(database_url)
    prepare_database(settings)
    live = LiveServer(settings)
    live.server.config.app = _mounted(live.application, **options)
    live.start()
    try:
        yield live
    finally:
        live.stop()


@contextmanager
def logged_in(base_url: str) -> Iterator[httpx.Client]:
    """An HTTP client holding a console session cookie."""
    with httpx.Client(base_url=base_url, timeout=10) as client:
        response = client.post(
            "/console/login",
            data={"username": ADMIN_USER, "password": ADMIN_PASSWORD, "next": "/console/pools"},
        )
        assert response.status_code == 303, response.text
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None, "page has no CSRF field"
    return match.group(1)
