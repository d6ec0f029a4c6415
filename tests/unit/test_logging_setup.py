"""`--log-level` is idpool's verbosity only: libraries never log below WARNING (issue 12 §3)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from idpool import logging_setup


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    names = ("idpool", "idpool.request", "httpx", "botocore.endpoint", "signxml")
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("level", ["debug", "info"])
def test_third_party_loggers_stay_quiet_below_warning(
    restored: None, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    logging_setup.configure(level)
    # A library that turns its own logger up is still not written.
    logging.getLogger("botocore.endpoint").setLevel(logging.DEBUG)
    logging.getLogger("httpx").info(
        "HTTP Request: GET https://graph.facebook.com/app?access_token=EAAB"
    )
    logging.getLogger("botocore.endpoint").debug("Response body: SessionToken=secret")
    logging.getLogger("signxml").debug("canonicalized: <Assertion/>")
    logging.getLogger("httpx").warning("a library warning")
    logging.getLogger("idpool.providers").debug("own debug line")
    logging.getLogger("idpool").info("own info line")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    messages = [line["msg"] for line in lines]
    expected = ["a library warning", "own info line"]
    if level == "debug":
        expected.insert(1, "own debug line")
    assert messages == expected
