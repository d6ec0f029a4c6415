"""A real idpool server on a free loopback port, in a background thread, for tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import uvicorn

from idpool.app import Application
from idpool.config import Settings
from idpool.service.system import SystemClock
from idpool.serving import bind_socket, prepare_database, uvicorn_config


class LiveServer:
    def __init__(self, settings: Settings, *, clock: SystemClock | None = None) -> None:
        self.sock = bind_socket("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.settings = replace(settings, host="127.0.0.1", port=self.port)
        self.application = Application(self.settings, clock=clock)
        self.server = uvicorn.Server(uvicorn_config(self.application))
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("idpool test server did not start")
            time.sleep(0.01)
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def settings_for_tests(database_url: str, **overrides: Any) -> Settings:
    settings = Settings(
        database_url=database_url,
        migrate=True,
        key_secret="test-secret",
        trust_mode=True,
        throttle=False,
    )
    return replace(settings, **overrides)


class HeldClock(SystemClock):
    """A wall clock that stands still at the moment it was made: rate quotas never refill,
    so how many requests a burst admits does not depend on how fast the machine is."""

    def __init__(self) -> None:
        self._at = time.time()

    def now(self) -> float:
        return self._at


@contextmanager
def live_server(settings: Settings, *, clock: SystemClock | None = None) -> Iterator[LiveServer]:
    prepare_database(settings)
    server = LiveServer(settings, clock=clock).start()
    try:
        yield server
    finally:
        server.stop()
