"""Structured JSON logs: one object per line, never tokens, secrets or session tokens.

Only the fields passed explicitly through `extra` are written, so request bodies (which hold
login tokens) can never reach a log line by accident.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import orjson

_FIELDS = ("request_id", "operation", "account", "status", "error", "latency_ms")


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


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Per-request lines are INFO on the request logger; keep them off unless asked for.
    if level.lower() != "debug":
        logging.getLogger("idpool.request").setLevel(logging.WARNING)
        # Migrations are summed up in idpool's start-up line; alembic's own steps are detail.
        logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.Formatter.converter = time.gmtime
