"""Settings, flags, environment variables and their documentation agree."""

from __future__ import annotations

import os
import types
import typing
from dataclasses import MISSING, Field, fields
from pathlib import Path
from typing import Any, Literal

import pytest

from idpool.cli import build_parser, settings_from
from idpool.config import ConfigError, Settings, env_name, from_environment, setting_types

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


# ------------------------------------------------------------------ every setting round-trips


def _non_default(item: Field[Any]) -> Any:
    """A value of the setting's declared type that is not its default, derived from the type."""
    kind = setting_types()[item.name]
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and len(args) == 1:
        kind = args[0]
    default = item.default_factory() if item.default_factory is not MISSING else item.default
    if typing.get_origin(kind) is Literal:
        return next(c for c in typing.get_args(kind) if c != default)
    if typing.get_origin(kind) is tuple:
        return ("alpha", "beta")
    if kind is bool:
        return not default if default is not None else True
    if kind is int:
        return (default or 0) + 7
    if kind is float:
        return (default or 0.0) + 0.25
    if kind is Path:
        return Path(f"/srv/{item.name}")
    if kind is str:
        return f"value-of-{item.name}"
    raise AssertionError(f"add a non-default value for the type of {item.name}: {kind!r}")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


@pytest.mark.parametrize("item", fields(Settings), ids=lambda f: f.name)
def test_every_setting_round_trips_through_its_flag_and_its_variable(
    item: Field[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("IDPOOL_")]:
        monkeypatch.delenv(name)
    value = _non_default(item)
    flag = "--" + item.name.replace("_", "-")
    if isinstance(value, bool):
        argv = [flag if value else "--no-" + flag[2:]]
    else:
        argv = [flag, _as_text(value)]
    from_flag = getattr(settings_from(build_parser().parse_args(["serve", *argv])), item.name)
    assert from_flag == value and type(from_flag) is type(value), (from_flag, value)

    monkeypatch.setenv(env_name(item.name), _as_text(value))
    from_env = getattr(settings_from(build_parser().parse_args(["serve"])), item.name)
    assert from_env == value and type(from_env) is type(value), (from_env, value)


def test_a_float_setting_from_the_command_line_is_a_float() -> None:
    """Issue 18 §2: `--pool-cache-seconds 0.5` used to arrive as the text '0.5'."""
    settings = settings_from(build_parser().parse_args(["serve", "--pool-cache-seconds", "0.5"]))
    assert settings.pool_cache_seconds == 0.5


def test_a_value_that_does_not_convert_names_its_variable() -> None:
    with pytest.raises(ConfigError, match=r"IDPOOL_POOL_CACHE_SECONDS: expected a number"):
        from_environment({"IDPOOL_POOL_CACHE_SECONDS": "soon"})
    with pytest.raises(ConfigError, match="IDPOOL_AUTH_MODE: expected one of strict, lax"):
        from_environment({"IDPOOL_AUTH_MODE": "Strict"})
    with pytest.raises(ConfigError, match="IDPOOL_THROTTLE: expected true or false"):
        from_environment({"IDPOOL_THROTTLE": "flase"})


def test_other_commands_ignore_the_variables_of_settings_they_do_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IDPOOL_PORT", "not-a-port")
    settings = settings_from(build_parser().parse_args(["migrate", "--database-url", "sqlite://"]))
    assert settings.database_url == "sqlite://"
