"""Structured JSON logs: one object per line, never tokens, secrets or session tokens.

Only the fields passed explicitly through `extra` are written, so request bodies (which hold
login tokens) can never reach a log line by accident.

`--log-level` is idpool's own verbosity, not its libraries': every other logger (httpx and
httpcore, which log request URLs carrying provider access tokens; botocore, which logs STS
request and response bodies with credentials; signxml, SQLAlchemy, ...) is held at WARNING,
both by the root logger's level and by a filter on the handler, so that a library that sets
its own logger to DEBUG is still not written. See docs/security.md.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

ACCESS_LOGGER = "idpool.request"
_FIELDS = (
    "request_id",
    "operation",
    "account",
    "status",
    "error",
    "latency_ms",
    "identity_id",
    "role",
    "rule",
    "method",
    "origin",
    "requested_method",
    "requested_headers",
    "allowed_origins",
    "hint",
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


OWN_LOGGER = "idpool"
THIRD_PARTY_LEVEL = logging.WARNING


def is_own(record: logging.LogRecord) -> bool:
    return record.name == OWN_LOGGER or record.name.startswith(f"{OWN_LOGGER}.")


def third_party_quiet(record: logging.LogRecord) -> bool:
    """Handler filter: idpool's records at its level, anyone else's from WARNING up."""
    return is_own(record) or record.levelno >= THIRD_PARTY_LEVEL


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(third_party_quiet)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(THIRD_PARTY_LEVEL)
    logging.getLogger(OWN_LOGGER).setLevel(level.upper())
    # Per-request lines are INFO on the request logger; keep them off unless asked for.
    if level.lower() != "debug":
        logging.getLogger(ACCESS_LOGGER).setLevel(logging.WARNING)
        # Migrations are summed up in idpool's start-up line; alembic's own steps are detail.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.Formatter.converter = time.gmtime


def enable_access_log() -> None:
    """`--access-log`: the per-request line at info, whatever `--log-level` says otherwise.

    The pipeline asks `isEnabledFor(INFO)` before building the line, so with the access log
    off a request pays one cached level check.
    """
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.INFO)
