"""The one bounded body reader of the edge: every way a body can end."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from idpool.server.requests import BodyEnd, headers_of, read_body

Message = MutableMapping[str, Any]


def receiver(*messages: Message, then_wait: bool = False) -> Callable[[], Awaitable[Message]]:
    queue = list(messages)

    async def receive() -> Message:
        if not queue and then_wait:
            await asyncio.sleep(3600)
        return queue.pop(0)

    return receive


def chunk(data: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": data, "more_body": more}


def test_a_complete_body_in_chunks() -> None:
    read = asyncio.run(read_body(receiver(chunk(b"ab", True), chunk(b"cd", False)), 4, 1.0))
    assert (read.data, read.end) == (b"abcd", BodyEnd.COMPLETE)


def test_one_byte_over_the_limit_stops_reading() -> None:
    receive = receiver(chunk(b"abc", True), chunk(b"de", True), chunk(b"never read", False))
    read = asyncio.run(read_body(receive, 4, 1.0))
    assert (read.data, read.end) == (b"abc", BodyEnd.TOO_LARGE)


def test_a_disconnect_ends_the_body() -> None:
    read = asyncio.run(read_body(receiver(chunk(b"ab", True), {"type": "http.disconnect"}), 9, 1))
    assert (read.data, read.end) == (b"ab", BodyEnd.DISCONNECTED)


def test_one_deadline_for_the_whole_body() -> None:
    read = asyncio.run(read_body(receiver(chunk(b"ab", True), then_wait=True), 9, 0.05))
    assert (read.data, read.end) == (b"ab", BodyEnd.TIMED_OUT)


def test_header_names_are_lower_cased() -> None:
    scope = {"headers": [(b"X-Amz-Target", b"A.B"), (b"content-type", b"\xe9")]}
    assert headers_of(scope) == {"x-amz-target": "A.B", "content-type": "\xe9"}
