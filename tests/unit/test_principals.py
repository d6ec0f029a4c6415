"""The access-key directory: credentials files, run-time keys, lax account derivation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from idpool.auth.principals import (
    PrincipalDirectory,
    PrincipalEntry,
    PrincipalsFileError,
    lax_account_for,
    load_principals,
)

SECRET = "very-secret-value"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_yaml(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "keys.yaml",
        f"""
- access_key_id: AKIAADMIN
  secret_access_key: {SECRET}
  account_id: "000000000123"
- access_key_id: AKIAOTHER
  secret_access_key: other
  account_id: "210987654321"
""",
    )
    directory = load_principals(path)
    assert len(directory) == 2
    assert directory.lookup("AKIAADMIN") == (SECRET, "000000000123")
    assert directory.lookup("AKIAOTHER") == ("other", "210987654321")
    assert directory.lookup("AKIAMISSING") is None


def test_load_json_with_a_temporary_key(tmp_path: Path) -> None:
    entries = [
        {
            "access_key_id": "ASIATEMP",
            "secret_access_key": SECRET,
            "account_id": "123456789012",
            "session_token": "tok",
            "expires_at": 2000,
        }
    ]
    directory = load_principals(
        write(tmp_path, "keys.json", json.dumps(entries)), clock=lambda: 1000
    )
    entry = directory.entry("ASIATEMP")
    assert entry is not None
    assert (entry.session_token, entry.expires_at) == ("tok", 2000.0)
    assert directory.lookup("ASIATEMP") == (SECRET, "123456789012")


def test_empty_file_is_an_empty_directory(tmp_path: Path) -> None:
    assert len(load_principals(write(tmp_path, "keys.yaml", ""))) == 0


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("k.json", "{not json", "not valid JSON"),
        ("k.yaml", "- [unclosed", "not valid YAML"),
        ("k.yaml", "access_key_id: AK", "expected a list"),
        ("k.yaml", "- just-a-string", "entry 0 must be a mapping"),
        (
            "k.yaml",
            "- {access_key_id: AK, account_id: '123456789012'}",
            "missing secret_access_key",
        ),
        (
            "k.yaml",
            "- {access_key_id: AK, secret_access_key: s, account_id: '1', role: x}",
            "unknown keys role",
        ),
        (
            "k.yaml",
            "- {access_key_id: AK, secret_access_key: s, account_id: 123456789012}",
            "quote account_id",
        ),
        ("k.yaml", "- {access_key_id: AK, secret_access_key: s, account_id: '12'}", "12 digits"),
        (
            "k.yaml",
            "- {access_key_id: 'A/K', secret_access_key: s, account_id: '123456789012'}",
            "no '/'",
        ),
        (
            "k.yaml",
            "- {access_key_id: AK, secret_access_key: '', account_id: '123456789012'}",
            "empty",
        ),
        (
            "k.yaml",
            "- {access_key_id: AK, secret_access_key: s, account_id: '123456789012'}\n"
            "- {access_key_id: AK, secret_access_key: t, account_id: '123456789012'}",
            "listed twice",
        ),
        (
            "k.yaml",
            "- {access_key_id: AK, secret_access_key: s, account_id: '123456789012', expires_at: x}",
            "expires_at must be epoch seconds",
        ),
    ],
)
def test_bad_files_name_the_file_and_the_problem(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(PrincipalsFileError) as raised:
        load_principals(path)
    assert message in str(raised.value)
    assert str(path) in str(raised.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PrincipalsFileError, match="cannot read credentials file"):
        load_principals(tmp_path / "absent.yaml")


def test_errors_and_reprs_never_show_the_secret(tmp_path: Path) -> None:
    path = write(
        tmp_path, "k.yaml", f"- {{access_key_id: AK, secret_access_key: {SECRET}, account_id: '1'}}"
    )
    with pytest.raises(PrincipalsFileError) as raised:
        load_principals(path)
    assert SECRET not in str(raised.value)
    assert SECRET not in repr(PrincipalEntry("AK", SECRET, "123456789012"))


def test_add_registers_and_replaces_keys_at_run_time() -> None:
    directory = PrincipalDirectory()
    directory.add("AKIANEW", SECRET, "123456789012")
    assert directory.lookup("AKIANEW") == (SECRET, "123456789012")
    directory.add("AKIANEW", "rotated", "123456789012")
    assert directory.lookup("AKIANEW") == ("rotated", "123456789012")
    directory.remove("AKIANEW")
    assert "AKIANEW" not in directory
    with pytest.raises(ValueError, match="12 digits"):
        directory.add("AKIABAD", SECRET, "not-an-account")


def test_expired_keys_are_invisible_and_purged() -> None:
    now = [1000.0]
    directory = PrincipalDirectory(clock=lambda: now[0])
    directory.add("ASIAOLD", SECRET, "123456789012", session_token="t", expires_at=1500)
    assert directory.lookup("ASIAOLD") is not None
    now[0] = 1500
    assert directory.lookup("ASIAOLD") is None
    assert directory.purge_expired() == 1
    assert len(directory) == 0


def test_adding_many_temporary_keys_keeps_memory_bounded() -> None:
    now = [0.0]
    directory = PrincipalDirectory(clock=lambda: now[0])
    for index in range(5000):
        now[0] = float(index)
        directory.add(f"ASIA{index:08d}", SECRET, "123456789012", expires_at=index + 10.0)
    assert len(directory) < 1100


@pytest.mark.parametrize(
    ("access_key_id", "account"),
    [
        ("123456789012", "123456789012"),
        ("000000000001", "000000000001"),
        ("test", "000000000000"),
        ("AKIAIOSFODNN7EXAMPLE", "000000000000"),
        ("12345678901", "000000000000"),
        ("1234567890123", "000000000000"),
        (
            "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10\uff11\uff12",
            "000000000000",
        ),  # full-width digits
    ],
)
def test_lax_account_derivation(access_key_id: str, account: str) -> None:
    assert lax_account_for(access_key_id, "000000000000") == account


def test_lax_account_uses_the_given_default() -> None:
    assert lax_account_for("test", "999999999999") == "999999999999"
