"""`idpool serve` as a real subprocess whose log the test reads (logging, CORS, SAML tests).

The in-process `live_server` cannot show what the process writes to stderr at start-up or at
a given `--log-level`; these tests need exactly that.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest

IDPOOL = [sys.executable, "-m", "idpool"]
# The one start-up line `idpool serve` writes once it listens.
LISTENING = re.compile(r"idpool listening on (http://127\.0\.0\.1:\d+)")


def read_until_listening(
    process: subprocess.Popen[str], seconds: float = 30
) -> tuple[str | None, list[str]]:
    """Read the process's stderr up to its listening line: (its URL or None, the lines read)."""
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = LISTENING.search(line)
        if found:
            return found.group(1), lines
    return None, lines


@dataclass
class ServerProcess:
    process: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)
    listening: threading.Event = field(default_factory=threading.Event)

    def pump(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            found = re.search(r"listening on (http://[\d.]+:\d+)", line)
            if found:
                self.url = found.group(1)
                self.listening.set()

    @property
    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def idpool_serve(*flags: str) -> Iterator[ServerProcess]:
    """`idpool serve --port=0 FLAGS…`, its stderr collected, stopped when the block ends."""
    process = subprocess.Popen(
        [*IDPOOL, "serve", "--port=0", *flags],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    server = ServerProcess(process)
    threading.Thread(target=server.pump, daemon=True).start()
    try:
        if not server.listening.wait(30):
            pytest.fail(f"idpool serve did not start:\n{server.output}")
        yield server
    finally:
        process.terminate()
        process.wait(10)
