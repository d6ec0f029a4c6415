"""Console sessions: signed cookies that expire, CSRF tokens bound to a session, login limit."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idpool.server.console import decode_after, encode_after, url
from idpool.server.console_auth import ConsoleAuth, LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, **kw: str) -> ConsoleAuth:
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


def test_login_throttle_blocks_an_address_for_its_window() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock, limit=3, window=10)
    for _ in range(3):
        assert not throttle.blocked("10.0.0.1")
        throttle.failed("10.0.0.1")
    assert throttle.blocked("10.0.0.1")
    assert not throttle.blocked("10.0.0.2")
    clock.now += 10
    assert not throttle.blocked("10.0.0.1")
    throttle.failed("10.0.0.1")
    throttle.succeeded("10.0.0.1")
    assert not throttle.blocked("10.0.0.1")


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
