"""A real TCP listener on 127.0.0.1 that counts connections: proof that nothing connected."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

Reply = Callable[[socket.socket], None]


class Listener:
    """A real TCP socket on 127.0.0.1 that counts the connections made to it.

    `reply`, when given, is called with each accepted connection (to send an HTTP answer),
    after the request was read — or at once with `raw` (a TLS handshake comes first).
    """

    def __init__(self, reply: Reply | None = None, *, raw: bool = False) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        self._reply = reply
        self._raw = raw
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                if not self._raw:
                    self.requests.append(conn.recv(65536))
                if self._reply is not None:
                    self._reply(conn)
            except OSError:
                pass

    def settle(self) -> int:
        """The connection count once anything in flight had time to arrive."""
        time.sleep(0.2)
        return self.connections

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()
