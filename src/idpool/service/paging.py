"""Opaque NextToken values: a keyset position plus a fingerprint of what was being listed.

A token only continues the listing it came from: one from another pool, another account or
with other filters fails the fingerprint and is refused, like a garbled one. Keyset positions
(not offsets) keep pages stable while rows are inserted concurrently and keep page cost
independent of the table size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from typing import TypeVar

import orjson

from idpool.domain.errors import InvalidParameterException

_INVALID = "The pagination token is invalid."


def _fingerprint(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:16]


def encode_token(scope: str, position: tuple[float, str] | str) -> str:
    body = orjson.dumps({"f": _fingerprint(scope), "p": position})
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def _decode(scope: str, token: str) -> object:
    try:
        padded = token + "=" * (-len(token) % 4)
        doc = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise InvalidParameterException(_INVALID) from exc
    if not isinstance(doc, dict) or doc.get("f") != _fingerprint(scope):
        raise InvalidParameterException(_INVALID)
    return doc.get("p")


def decode_keyset(scope: str, token: str | None) -> tuple[float, str] | None:
    if token is None:
        return None
    position = _decode(scope, token)
    if (
        isinstance(position, list)
        and len(position) == 2
        and isinstance(position[0], int | float)
        and not isinstance(position[0], bool)
        and isinstance(position[1], str)
    ):
        return float(position[0]), position[1]
    raise InvalidParameterException(_INVALID)


def decode_cursor(scope: str, token: str | None) -> str | None:
    if token is None:
        return None
    position = _decode(scope, token)
    if isinstance(position, str):
        return position
    raise InvalidParameterException(_INVALID)


Row = TypeVar("Row")
Position = TypeVar("Position")


def page_of(
    rows: Sequence[Row], limit: int, position: Callable[[Row], Position]
) -> tuple[list[Row], Position | None]:
    """The page of a keyset query that asked for `limit + 1` rows, and where the next begins.

    Every listing reads one row more than it returns: that row's presence is how a page knows
    it is not the last, without a count. The position is that of the page's last row, None
    on the last page.
    """
    page = list(rows[:limit])
    return page, position(page[-1]) if len(rows) > limit else None
