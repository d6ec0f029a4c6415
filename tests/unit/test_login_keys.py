"""The Logins-key rules (domain/login_keys.py): what the router produces is what the pool's
RoleMappings accept, for every kind of provider a pool can configure."""

from __future__ import annotations

from idpool.domain.login_keys import (
    PUBLIC_PROVIDERS,
    USER_POOL_PROVIDER_NAME,
    provider_names,
    role_mapping_keys,
    user_pool_id_of,
)
from idpool.domain.records import CognitoProvider, Pool
from idpool.providers.config import load_providers_config
from idpool.providers.targets import Checked, login_of, resolve

USER_POOL = "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123"
OIDC_ARN = "arn:aws:iam::123456789012:oidc-provider/idp.example.com"
SAML_ARN = "arn:aws:iam::123456789012:saml-provider/Corp"

POOL = Pool(
    pool_id="us-east-1:00000000-0000-4000-8000-000000000009",
    account_id="123456789012",
    region="us-east-1",
    name="p",
    allow_unauthenticated=False,
    supported_login_providers={"graph.facebook.com": "1111", "accounts.google.com": "g-client"},
    cognito_identity_providers=(CognitoProvider(USER_POOL, "client-a"),),
    open_id_connect_provider_arns=(OIDC_ARN,),
    saml_provider_arns=(SAML_ARN,),
)


def test_every_login_the_router_makes_maps_under_a_key_the_pool_accepts() -> None:
    config = load_providers_config({})
    cases = {
        USER_POOL: Checked("sub-1", audience="client-a"),
        "idp.example.com": Checked("sub-2", audience="any"),
        SAML_ARN: Checked("name-id"),
        "graph.facebook.com": Checked("fb-1", audience="1111"),
        "accounts.google.com": Checked("g-1", audience="g-client"),
    }
    allowed = role_mapping_keys(POOL)
    for key, checked in cases.items():
        login = login_of(resolve(POOL, key, config), checked)
        assert login.mapping_key in allowed, key
    assert f"{USER_POOL}:client-a" in allowed
    assert USER_POOL not in allowed  # a user pool maps only with its client id


def test_provider_names_are_the_configured_names() -> None:
    assert provider_names(POOL) == {
        "graph.facebook.com",
        "accounts.google.com",
        USER_POOL,
        OIDC_ARN,
        SAML_ARN,
    }
    assert "www.amazon.com" in PUBLIC_PROVIDERS and USER_POOL not in PUBLIC_PROVIDERS


def test_user_pool_names_and_their_ascii_ids() -> None:
    assert USER_POOL_PROVIDER_NAME.fullmatch(USER_POOL)
    assert user_pool_id_of(USER_POOL) == "us-east-1_AbC123"
    # Never a path, a query or another host into an emulator URL, nor a non-ASCII id.
    assert user_pool_id_of(f"{USER_POOL}/../x") is None
    assert user_pool_id_of("cognito-idp.us-east-1.amazonaws.com/us-east-1_Åb1") is None
    assert user_pool_id_of("graph.facebook.com") is None
