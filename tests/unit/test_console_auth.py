"""Console sessions: signed cookies that expire, CSRF tokens bound to a session, login limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idpool.server.console_auth import ClientAddress, ConsoleAuth, LoginThrottle
from idpool.server.console_http import decode_after, encode_after, url


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **kw: Any) -> ConsoleAuth:
    return ConsoleAuth("ops", kw.pop("password", "pw"), clock=clock, session_seconds=60, **kw)


def test_credentials_must_both_match() -> None:
    auth = make(Clock())
    assert auth.check_credentials("ops", "pw")
    assert not auth.check_credentials("ops", "pw ")
    assert not auth.check_credentials("admin", "pw")
    assert not auth.check_credentials("", "")


def test_an_empty_password_cannot_build_a_console() -> None:
    with pytest.raises(ValueError, match="password"):
        make(Clock(), password="")


def test_session_names_its_user_until_it_expires() -> None:
    clock = Clock()
    auth = make(clock)
    cookie = auth.issue("ops")
    assert auth.user_of(cookie) == "ops"
    clock.now += 59
    assert auth.user_of(cookie) == "ops"
    clock.now += 1
    assert auth.user_of(cookie) is None


def test_sessions_survive_replicas_but_not_a_password_change() -> None:
    clock = Clock()
    cookie = make(clock).issue("ops")
    assert make(clock).user_of(cookie) == "ops"
    assert make(clock, password="new").user_of(cookie) is None
    assert make(clock, session_secret="s").user_of(cookie) is None


@settings(max_examples=100, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_tampered_cookie_is_refused(position: int, replacement: str) -> None:
    auth = make(Clock())
    cookie = auth.issue("ops")
    index = position % len(cookie)
    tampered = cookie[:index] + replacement + cookie[index + 1 :]
    if tampered != cookie:
        assert auth.user_of(tampered) is None


def test_a_cookie_spelled_differently_is_a_different_cookie() -> None:
    """The last base64 character carries spare bits; flipping them must not keep it valid."""
    auth = make(Clock())
    cookie = auth.issue("ops")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(cookie[-1])
    sibling = cookie[:-1] + alphabet[last ^ 1]
    assert auth.user_of(cookie) == "ops"
    assert auth.user_of(sibling) is None


@pytest.mark.parametrize("cookie", [None, "", "x", ".", "a.b", "!!!.???", "e30.e30"])
def test_garbage_cookies_are_refused(cookie: str | None) -> None:
    assert make(Clock()).user_of(cookie) is None


def test_csrf_token_is_bound_to_the_session() -> None:
    clock = Clock()
    auth = make(clock)
    first, second = auth.issue("ops"), auth.issue("ops")
    token = auth.csrf_token(first)
    assert auth.check_csrf(first, token)
    assert not auth.check_csrf(second, token)
    assert not auth.check_csrf(first, "")
    assert not auth.check_csrf(first, token[:-1] + "é")


def test_login_throttle_is_a_burst_then_one_try_per_refill() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, limit=3, refill=10)
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1")
    assert not throttle.blocked("10.0.0.2")
    clock.now += 10
    # One more try, never a lock-out that outlasts the refill interval.
    assert not throttle.blocked("10.0.0.1")
    throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1")
    clock.now += 10
    assert not throttle.blocked("10.0.0.1")
    throttle.succeeded("10.0.0.1")
    assert not throttle.blocked("10.0.0.1")
    for _ in range(3):
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1")


def test_an_attacker_failing_without_pause_is_still_held_to_the_refill_rate() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, limit=10, refill=30)
    attempts = 0
    for _ in range(3600):  # one hour, one try a second
        clock.now += 1
        if not throttle.blocked("203.0.113.9"):
            attempts += 1
            throttle.failed("203.0.113.9")
    assert 3600 // 30 <= attempts <= 10 + 3600 // 30


def test_the_throttle_table_stays_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, limit=1, refill=30)
    for i in range(25_000):
        throttle.failed(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(throttle._buckets) <= 10_001


def test_signing_out_revokes_the_cookie_but_not_other_sessions() -> None:
    clock = Clock()
    auth = make(clock)
    mine, other = auth.issue("ops"), auth.issue("ops")
    auth.revoke(mine)
    assert auth.user_of(mine) is None
    assert auth.user_of(other) == "ops"
    clock.now += 61
    auth.revoke(other)  # expired already: nothing to remember
    assert len(auth._revoked) == 0


def test_a_sign_out_list_in_a_directory_is_shared(tmp_path: Path) -> None:
    """Worker processes of one server share the directory: one signs out, all refuse."""
    clock = Clock()
    first = make(clock, revoked_dir=tmp_path)
    second = make(clock, revoked_dir=tmp_path)
    mine, other = first.issue("ops"), first.issue("ops")
    assert second.user_of(mine) == "ops"
    first.revoke(mine)
    assert second.user_of(mine) is None
    assert first.user_of(mine) is None
    assert second.user_of(other) == "ops"
    assert len(list(tmp_path.iterdir())) == 1
    assert mine.split(".")[0] not in {p.name for p in tmp_path.iterdir()}  # names are digests
    clock.now += 61
    second.revoke(other)  # expired: the old entry is cleaned up, nothing is added
    assert list(tmp_path.iterdir()) == []


def test_device_cookies_are_signed_and_distinct_from_sessions() -> None:
    auth = make(Clock())
    device = auth.issue_device()
    assert auth.device_of(device) is not None
    assert auth.device_of(auth.issue_device()) != auth.device_of(device)
    assert auth.user_of(device) is None
    assert auth.device_of(auth.issue("ops")) is None
    assert make(Clock(), password="other").device_of(device) is None
    assert auth.device_of(device[:-2] + "AA") is None


def test_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    header = {"x-forwarded-for": "198.51.100.7, 10.0.0.5"}
    assert ClientAddress().of("127.0.0.1", header) == "127.0.0.1"
    trusted = ClientAddress(["127.0.0.1", "10.0.0.0/8"])
    assert trusted.of("127.0.0.1", header) == "198.51.100.7"
    assert trusted.of("192.0.2.1", header) == "192.0.2.1"  # not a proxy: header ignored
    # A client cannot hide behind an address it wrote itself: the rightmost untrusted hop wins.
    spoofed = {"x-forwarded-for": "1.2.3.4, 198.51.100.7"}
    assert trusted.of("127.0.0.1", spoofed) == "198.51.100.7"
    assert trusted.of("127.0.0.1", {}) == "127.0.0.1"
    assert trusted.of("127.0.0.1", {"x-forwarded-for": "garbage"}) == "garbage"
    # A mistyped entry trusts no one (and start-up warns), rather than refusing to start.
    assert ClientAddress(["10.0.0.0/33"]).of("10.0.0.1", header) == "10.0.0.1"


def test_urls_quote_each_segment_whole() -> None:
    assert url("pools", "us-east-1:a/b") == "/console/pools/us-east-1%3Aa%2Fb"
    assert url("pools", after=None, q="") == "/console/pools"
    assert url("x", q="a&b=c") == "/console/x?q=a%26b%3Dc"


@pytest.mark.parametrize("raw", [None, "", "abc", "nan~x", "inf~x", "1.5"])
def test_malformed_page_positions_mean_the_first_page(raw: str | None) -> None:
    assert decode_after(raw) is None


def test_page_positions_round_trip() -> None:
    after = (1767225600.123456, "us-east-1:abc~def")
    assert decode_after(encode_after(after)) == after
