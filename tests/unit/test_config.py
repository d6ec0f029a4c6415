"""Settings, flags, environment variables and their documentation agree."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from idpool.cli import build_parser, settings_from
from idpool.config import Settings, from_environment

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text()
    for item in fields(Settings):
        assert f"`--{item.name.replace('_', '-')}`" in text, item.name
        assert f"`IDPOOL_{item.name.upper()}`" in text, item.name


def test_environment_is_typed() -> None:
    values = from_environment(
        {"IDPOOL_PORT": "1234", "IDPOOL_TRUST_MODE": "yes", "IDPOOL_REGION": "eu-west-1"}
    )
    assert values == {"port": 1234, "trust_mode": True, "region": "eu-west-1"}


def test_flags_override_environment(monkeypatch: object) -> None:
    import os

    os.environ["IDPOOL_PORT"] = "1111"
    try:
        args = build_parser().parse_args(["serve", "--port", "2222", "--no-throttle"])
        settings = settings_from(args)
    finally:
        del os.environ["IDPOOL_PORT"]
    assert settings.port == 2222
    assert settings.throttle is False
    assert Settings().throttle is True
