"""Issue 12 §2 through a real client: pool owners cannot aim idpool's outbound requests.

A signed account may only name OIDC providers in IAM's provider-URL shape (or ones the
operator registered), and an unsigned login for a provider nobody registered makes no
connection at all — watched by a real listening socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.support.idp import LocalIdentityProvider
from tests.support.listener import Listener
from tests.support.live import LiveServer, live_server, settings_for_tests

ACCOUNT_ARN = "arn:aws:iam::123456789012:oidc-provider"


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as info:
        call(**params)
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    target = Listener()
    yield target
    target.close()


@pytest.fixture(scope="module")
def local_idp() -> Iterator[LocalIdentityProvider]:
    idp = LocalIdentityProvider()  # issuer http://127.0.0.1:<port>, as a local Keycloak
    yield idp
    idp.close()


@pytest.fixture(scope="module")
def verifying(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, local_idp: LocalIdentityProvider
) -> Iterator[LiveServer]:
    """Trust mode off; the operator registered one plain-http loopback issuer."""
    host = local_idp.url.removeprefix("http://")
    providers = tmp_path_factory.mktemp("outbound") / "providers.yaml"
    providers.write_text(
        f"issuers:\n  {local_idp.url}: {{}}\n"
        f"oidc_providers:\n  {ACCOUNT_ARN}/{host}:\n    client_ids: [client-1]\n"
    )
    settings = settings_for_tests(database_url, trust_mode=False, providers_file=str(providers))
    with live_server(settings) as live:
        yield live


BAD_HOSTS = [
    "127.0.0.1:5222/latest/meta-data/iam?x=",
    "169.254.169.254/latest/meta-data",
    "localhost/realms/dev",
    "idp.example.com:8443",
    "user@idp.example.com",
    "idp.example.com/a?b=c",
    "idp.example.com/a#b",
    "https://idp.example.com",
    "2130706433",
]


def test_malformed_oidc_provider_arns_are_refused_on_create_and_update(
    verifying: LiveServer, listener: Listener
) -> None:
    admin = make_client(verifying.url)
    hosts = [*BAD_HOSTS, f"{listener.host_port}/x"]
    for host in hosts:
        arn = f"{ACCOUNT_ARN}/{host}"
        assert error_of(
            admin.create_identity_pool,
            IdentityPoolName="aimed",
            AllowUnauthenticatedIdentities=False,
            OpenIdConnectProviderARNs=[arn],
        ) == ("InvalidParameterException", f"Invalid OpenIdConnectProviderARN: {arn}")
    good = f"{ACCOUNT_ARN}/idp.example.com/realms/dev"
    pool = admin.create_identity_pool(
        IdentityPoolName="aimed",
        AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[good],
    )
    try:
        for host in hosts:
            arn = f"{ACCOUNT_ARN}/{host}"
            update = {**pool, "OpenIdConnectProviderARNs": [good, arn]}
            update.pop("ResponseMetadata")
            code, _ = error_of(admin.update_identity_pool, **update)
            assert code == "InvalidParameterException"
        stored = admin.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
        assert stored["OpenIdConnectProviderARNs"] == [good]
    finally:
        admin.delete_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    assert listener.settle() == 0


def test_unsigned_login_for_an_unregistered_provider_connects_nowhere(
    verifying: LiveServer, listener: Listener, local_idp: LocalIdentityProvider
) -> None:
    """A pool may name an unregistered public-looking provider; its logins fetch nothing."""
    admin = make_client(verifying.url)
    public = make_client(verifying.url, signed=False)
    host = "unregistered.example.com"
    pool_id = admin.create_identity_pool(
        IdentityPoolName="unregistered",
        AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[f"{ACCOUNT_ARN}/{host}"],
    )["IdentityPoolId"]
    try:
        for iss in (f"https://{host}", f"https://{listener.host_port}"):
            token = local_idp.token(local_idp.claims(iss=iss))
            code, _ = error_of(public.get_id, IdentityPoolId=pool_id, Logins={host: token})
            assert code == "NotAuthorizedException"
            code, _ = error_of(
                public.get_id, IdentityPoolId=pool_id, Logins={listener.host_port: token}
            )
            assert code == "NotAuthorizedException"
    finally:
        admin.delete_identity_pool(IdentityPoolId=pool_id)
    assert listener.settle() == 0


def test_an_operator_registered_local_issuer_still_works(
    verifying: LiveServer, local_idp: LocalIdentityProvider
) -> None:
    """What the operator wrote is trusted as written: http, loopback, a port."""
    admin = make_client(verifying.url)
    public = make_client(verifying.url, signed=False)
    host = local_idp.url.removeprefix("http://")
    pool_id = admin.create_identity_pool(
        IdentityPoolName="local",
        AllowUnauthenticatedIdentities=False,
        OpenIdConnectProviderARNs=[f"{ACCOUNT_ARN}/{host}"],
    )["IdentityPoolId"]
    try:
        token = local_idp.token(local_idp.claims())
        identity = public.get_id(IdentityPoolId=pool_id, Logins={host: token})["IdentityId"]
        assert identity.startswith("us-east-1:")
    finally:
        admin.delete_identity_pool(IdentityPoolId=pool_id)
