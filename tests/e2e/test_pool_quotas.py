"""The CognitoIdentityProviders quota: 50 per pool by default (AWS's), configurable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from tests.conftest import make_client
from tests.e2e.test_pools import error_of


def providers(count: int) -> list[dict[str, Any]]:
    return [
        {
            "ProviderName": f"cognito-idp.us-east-1.amazonaws.com/us-east-1_Quota{i:04d}",
            "ClientId": f"client{i}",
        }
        for i in range(count)
    ]


def test_limit_exceeded_is_declared_by_both_operations() -> None:
    model = botocore.session.get_session().get_service_model("cognito-identity")
    for operation in ("CreateIdentityPool", "UpdateIdentityPool"):
        declared = {e.name for e in model.operation_model(operation).error_shapes}
        assert "LimitExceededException" in declared, operation


def test_fifty_providers_accepted_fifty_one_refused(cognito: Any, pool_factory: Any) -> None:
    pool = pool_factory(IdentityPoolName="quota-50", CognitoIdentityProviders=providers(50))
    stored = cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    assert len(stored["CognitoIdentityProviders"]) == 50

    with pytest.raises(ClientError) as exc:
        pool_factory(IdentityPoolName="quota-51", CognitoIdentityProviders=providers(51))
    assert error_of(exc) == (
        "LimitExceededException",
        "An identity pool can have at most 50 CognitoIdentityProviders.",
        400,
    )
    names = [
        p["IdentityPoolName"] for p in cognito.list_identity_pools(MaxResults=60)["IdentityPools"]
    ]
    assert "quota-51" not in names


def test_update_beyond_the_quota_keeps_the_stored_pool(cognito: Any, pool_factory: Any) -> None:
    pool = pool_factory(IdentityPoolName="quota-update", CognitoIdentityProviders=providers(3))
    with pytest.raises(ClientError) as exc:
        cognito.update_identity_pool(
            IdentityPoolId=pool["IdentityPoolId"],
            IdentityPoolName="quota-update",
            AllowUnauthenticatedIdentities=True,
            CognitoIdentityProviders=providers(51),
        )
    assert error_of(exc)[0] == "LimitExceededException"
    stored = cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    assert [p["ProviderName"] for p in stored["CognitoIdentityProviders"]] == [
        p["ProviderName"] for p in providers(3)
    ]


@pytest.fixture(scope="module")
def raised_quota(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A server whose operator asked for the quota AWS grants on request (up to 1,000)."""
    from tests.support.live import live_server, settings_for_tests

    db: Path = tmp_path_factory.mktemp("quota") / "idpool.sqlite3"
    settings = settings_for_tests(f"sqlite:///{db}", user_pool_providers_per_pool=60)
    with live_server(settings) as live:
        yield make_client(live.url)


def test_quota_is_configurable(raised_quota: Any) -> None:
    made = raised_quota.create_identity_pool(
        IdentityPoolName="raised",
        AllowUnauthenticatedIdentities=False,
        CognitoIdentityProviders=providers(60),
    )
    assert len(made["CognitoIdentityProviders"]) == 60
    with pytest.raises(ClientError) as exc:
        raised_quota.create_identity_pool(
            IdentityPoolName="over",
            AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=providers(61),
        )
    assert error_of(exc)[:2] == (
        "LimitExceededException",
        "An identity pool can have at most 60 CognitoIdentityProviders.",
    )
