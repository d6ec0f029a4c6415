"""OIDC provider ARNs hold IAM's provider-URL shape: host[/path], nothing idpool could be aimed by."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idpool.domain.provider_urls import is_local_host, is_public_provider_url, oidc_issuer_of


@pytest.mark.parametrize(
    "host_path",
    [
        "idp.example.com",
        "keycloak.example.org/realms/dev",
        "login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        "tenant.auth0.com/",
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
        "token.actions.githubusercontent.com",
    ],
)
def test_what_iam_accepts(host_path: str) -> None:
    assert is_public_provider_url(host_path)


@pytest.mark.parametrize(
    "host_path",
    [
        "127.0.0.1:5222/latest/meta-data/iam?x=",  # the attack of issue 12
        "169.254.169.254/latest/meta-data",
        "127.0.0.1",
        "[::1]/x",
        "2130706433",
        "0x7f.1",
        "127.1",
        "localhost",
        "localhost/realms/dev",
        "api.localhost",
        "idp.example.com:8443",  # port
        "user@idp.example.com",  # userinfo
        "idp.example.com/a?b=c",  # query
        "idp.example.com/a#frag",  # fragment
        "https://idp.example.com",  # scheme
        "idp.example.com/a b",
        "intranet",  # no dot: not a public DNS name
        "-bad.example.com",
        "idp..example.com",
        "",
        "a." * 130 + "com",
    ],
)
def test_what_iam_refuses(host_path: str) -> None:
    assert not is_public_provider_url(host_path)


@given(st.text(min_size=1, max_size=60), st.sampled_from(["?", "#", "@", ":", " ", "\n", "\\"]))
def test_no_query_fragment_userinfo_port_or_space_ever_passes(text: str, bad: str) -> None:
    middle = len(text) // 2
    assert not is_public_provider_url(f"idp.example.com/{text[:middle]}{bad}{text[middle:]}")


def test_local_hosts() -> None:
    assert all(map(is_local_host, ["127.0.0.1", "::1", "[::1]", "LOCALHOST", "localhost."]))
    assert not any(map(is_local_host, ["example.com", "127.0.0.1.nip.io"]))


def test_issuer_of_an_arn() -> None:
    assert oidc_issuer_of("arn:aws:iam::123456789012:oidc-provider/idp.example.com/x") == (
        "idp.example.com/x"
    )
    assert oidc_issuer_of("arn:aws:iam::123456789012:saml-provider/Corp") is None
