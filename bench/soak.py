"""The long memory soak: N requests against a fresh `idpool serve`, RSS before/after, as JSON.

    .venv/bin/python -m bench.soak --requests 100000 [--backend sqlite|postgresql]

The CI test (tests/reliability/test_resources.py) runs the same mix with 20k requests; this is
the 100k run whose last result docs/reliability.md records. PostgreSQL needs the server on
127.0.0.1:5432 that the test suite uses.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.reliability.soak import soak
from tests.reliability.support import ServerProcess, migrate


@contextmanager
def database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'soak.sqlite3'}"
        return
    from tests.support.postgres import postgres_schema

    with postgres_schema() as url:
        migrate(url, workdir)
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, database(args.backend, Path(tmp)) as url:
        server = ServerProcess(url, Path(tmp)).start()
        try:
            result = soak(server, args.requests, warmup=args.warmup, concurrency=args.concurrency)
        finally:
            server.stop()
    print(json.dumps({"backend": args.backend, **result.as_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
