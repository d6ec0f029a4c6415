"""Identity pools through boto3 against a live server: CRUD, paging, tags, principal tags."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

POOL_ID = re.compile(r"us-east-1:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_create_returns_only_what_was_set(cognito: Any, pool_factory: Any) -> None:
    pool = pool_factory(IdentityPoolName="minimal pool", AllowUnauthenticatedIdentities=False)
    assert POOL_ID.fullmatch(pool["IdentityPoolId"])
    body = {k: v for k, v in pool.items() if k != "ResponseMetadata"}
    assert body == {
        "IdentityPoolId": pool["IdentityPoolId"],
        "IdentityPoolName": "minimal pool",
        "AllowUnauthenticatedIdentities": False,
        "IdentityPoolTags": {},
    }
    described = cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    described.pop("ResponseMetadata")
    assert described == body


def test_create_full_configuration_round_trips(cognito: Any, pool_factory: Any) -> None:
    config = {
        "IdentityPoolName": "full",
        "AllowUnauthenticatedIdentities": True,
        "AllowClassicFlow": False,
        "SupportedLoginProviders": {"graph.facebook.com": "123", "accounts.google.com": "abc.apps"},
        "DeveloperProviderName": "login.example.app",
        "OpenIdConnectProviderARNs": ["arn:aws:iam::123456789012:oidc-provider/idp.example.com"],
        "CognitoIdentityProviders": [
            {
                "ProviderName": "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123",
                "ClientId": "client1",
                "ServerSideTokenCheck": True,
            }
        ],
        "SamlProviderARNs": ["arn:aws:iam::123456789012:saml-provider/corp"],
        "IdentityPoolTags": {"team": "blue"},
    }
    pool = pool_factory(**config)
    described = cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    for key, value in config.items():
        assert described[key] == value, key


def test_update_replaces_and_keeps_developer_name_and_tags(cognito: Any, pool_factory: Any) -> None:
    pool = pool_factory(
        DeveloperProviderName="dev.example",
        SupportedLoginProviders={"graph.facebook.com": "1"},
        AllowClassicFlow=True,
        IdentityPoolTags={"a": "1"},
    )
    updated = cognito.update_identity_pool(
        IdentityPoolId=pool["IdentityPoolId"],
        IdentityPoolName="renamed",
        AllowUnauthenticatedIdentities=False,
    )
    assert updated["IdentityPoolName"] == "renamed"
    assert updated["DeveloperProviderName"] == "dev.example"
    assert updated["IdentityPoolTags"] == {"a": "1"}
    assert "SupportedLoginProviders" not in updated
    assert "AllowClassicFlow" not in updated
    with pytest.raises(ClientError) as exc:
        cognito.update_identity_pool(
            IdentityPoolId=pool["IdentityPoolId"],
            IdentityPoolName="renamed",
            AllowUnauthenticatedIdentities=False,
            DeveloperProviderName="other.name",
        )
    assert error_of(exc)[0] == "InvalidParameterException"


def test_developer_name_can_be_added_later(cognito: Any, pool_factory: Any) -> None:
    pool = pool_factory()
    updated = cognito.update_identity_pool(
        IdentityPoolId=pool["IdentityPoolId"],
        IdentityPoolName="x",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName="later.dev",
    )
    assert updated["DeveloperProviderName"] == "later.dev"


def test_delete_pool_then_everything_is_not_found(cognito: Any, unsigned: Any) -> None:
    pool = cognito.create_identity_pool(
        IdentityPoolName="gone", AllowUnauthenticatedIdentities=True
    )
    pool_id = pool["IdentityPoolId"]
    identity_id = unsigned.get_id(IdentityPoolId=pool_id)["IdentityId"]
    cognito.delete_identity_pool(IdentityPoolId=pool_id)
    for call in (
        lambda: cognito.describe_identity_pool(IdentityPoolId=pool_id),
        lambda: cognito.delete_identity_pool(IdentityPoolId=pool_id),
        lambda: unsigned.get_id(IdentityPoolId=pool_id),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == (
            "ResourceNotFoundException",
            f"IdentityPool '{pool_id}' not found.",
            400,
        )
    with pytest.raises(ClientError) as exc:
        cognito.describe_identity(IdentityId=identity_id)
    assert error_of(exc)[:2] == (
        "ResourceNotFoundException",
        f"Identity '{identity_id}' not found.",
    )


def test_list_identity_pools_pages_with_short_descriptions(cognito: Any, pool_factory: Any) -> None:
    mine = {pool_factory(IdentityPoolName=f"page_{i}")["IdentityPoolId"] for i in range(7)}
    seen: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"MaxResults": 3}
        if token:
            kwargs["NextToken"] = token
        page = cognito.list_identity_pools(**kwargs)
        assert len(page["IdentityPools"]) <= 3
        seen.extend(page["IdentityPools"])
        token = page.get("NextToken")
        if not token:
            break
    ids = [p["IdentityPoolId"] for p in seen]
    assert len(ids) == len(set(ids))
    assert mine <= set(ids)
    for entry in seen:
        assert set(entry) == {"IdentityPoolId", "IdentityPoolName"}


def test_list_paging_survives_concurrent_inserts(cognito: Any, pool_factory: Any) -> None:
    for i in range(4):
        pool_factory(IdentityPoolName=f"before_{i}")
    first = cognito.list_identity_pools(MaxResults=2)
    before = {p["IdentityPoolId"] for p in first["IdentityPools"]}
    pool_factory(IdentityPoolName="inserted_during_paging")
    rest: list[str] = []
    token = first.get("NextToken")
    while token:
        page = cognito.list_identity_pools(MaxResults=2, NextToken=token)
        rest.extend(p["IdentityPoolId"] for p in page["IdentityPools"])
        token = page.get("NextToken")
    assert not before & set(rest)
    assert len(rest) == len(set(rest))


def test_paginator_lists_everything(cognito: Any, pool_factory: Any) -> None:
    mine = {pool_factory(IdentityPoolName=f"pg_{i}")["IdentityPoolId"] for i in range(3)}
    pages = cognito.get_paginator("list_identity_pools").paginate(PaginationConfig={"PageSize": 2})
    ids = {p["IdentityPoolId"] for page in pages for p in page["IdentityPools"]}
    assert mine <= ids


def test_garbled_next_token_is_invalid_parameter(cognito: Any) -> None:
    with pytest.raises(ClientError) as exc:
        cognito.list_identity_pools(MaxResults=5, NextToken="not-a-token")
    assert error_of(exc)[0] == "InvalidParameterException"


def test_tags_through_arn(cognito: Any, pool_factory: Any) -> None:
    pool = pool_factory(IdentityPoolTags={"a": "1"})
    arn = f"arn:aws:cognito-identity:us-east-1:000000000000:identitypool/{pool['IdentityPoolId']}"
    assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "1"}
    cognito.tag_resource(ResourceArn=arn, Tags={"b": "2", "a": "3"})
    assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"a": "3", "b": "2"}
    cognito.untag_resource(ResourceArn=arn, TagKeys=["a", "missing"])
    assert cognito.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"b": "2"}
    described = cognito.describe_identity_pool(IdentityPoolId=pool["IdentityPoolId"])
    assert described["IdentityPoolTags"] == {"b": "2"}


def test_tags_on_unknown_or_foreign_arn(cognito: Any) -> None:
    missing = "arn:aws:cognito-identity:us-east-1:000000000000:identitypool/us-east-1:00000000-0000-0000-0000-000000000000"
    with pytest.raises(ClientError) as exc:
        cognito.list_tags_for_resource(ResourceArn=missing)
    assert error_of(exc)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as exc:
        cognito.tag_resource(ResourceArn="arn:aws:s3:::bucket-name-here", Tags={"a": "b"})
    assert error_of(exc)[0] == "InvalidParameterException"


def test_reserved_tag_prefix_refused(cognito: Any, pool_factory: Any) -> None:
    with pytest.raises(ClientError) as exc:
        pool_factory(IdentityPoolTags={"aws:owner": "x"})
    assert error_of(exc)[0] == "InvalidParameterException"


def test_principal_tag_attribute_map(cognito: Any, pool_factory: Any) -> None:
    provider = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Tags1"
    pool = pool_factory(CognitoIdentityProviders=[{"ProviderName": provider, "ClientId": "c1"}])
    pool_id = pool["IdentityPoolId"]
    got = cognito.get_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=provider
    )
    assert got["PrincipalTags"] == {}
    set_ = cognito.set_principal_tag_attribute_map(
        IdentityPoolId=pool_id,
        IdentityProviderName=provider,
        UseDefaults=False,
        PrincipalTags={"dept": "custom:dept"},
    )
    assert set_["PrincipalTags"] == {"dept": "custom:dept"}
    assert set_["UseDefaults"] is False
    got = cognito.get_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=provider
    )
    assert got["PrincipalTags"] == {"dept": "custom:dept"}
    assert got["IdentityProviderName"] == provider
    with pytest.raises(ClientError) as exc:
        cognito.set_principal_tag_attribute_map(
            IdentityPoolId=pool_id, IdentityProviderName="graph.facebook.com", UseDefaults=True
        )
    assert error_of(exc)[0] == "InvalidParameterException"


def test_cognito_provider_without_name_is_invalid(cognito: Any, loose: Any) -> None:
    with pytest.raises(ClientError) as exc:
        loose.create_identity_pool(
            IdentityPoolName="bad",
            AllowUnauthenticatedIdentities=True,
            CognitoIdentityProviders=[{"ClientId": "x"}],
        )
    assert error_of(exc)[:2] == ("InvalidParameterException", "Invalid Cognito Identity Provider")


def test_unsupported_login_provider_key(cognito: Any) -> None:
    with pytest.raises(ClientError) as exc:
        cognito.create_identity_pool(
            IdentityPoolName="bad",
            AllowUnauthenticatedIdentities=True,
            SupportedLoginProviders={"example.com": "x"},
        )
    assert error_of(exc)[0] == "InvalidParameterException"
