"""The model's input constraints, checked server-side with AWS's exact ValidationException text."""

from __future__ import annotations

from typing import Any

import pytest

from idpool.domain.errors import SerializationException
from idpool.wire.constraints import ConstraintChecker, compile_checkers, validation_message
from idpool.wire.model import (
    content_type,
    is_public,
    operation_model,
    operation_names,
    public_operations,
    service_model,
    signing_name,
    target_prefix,
)

POOL = "us-east-1:00000000-0000-0000-0000-000000000000"
ROLE = "arn:aws:iam::123456789012:role/auth"
CHECKERS = compile_checkers(service_model())
PREFIX = "failed to satisfy constraint:"


def clauses(operation: str, params: Any) -> list[str]:
    return CHECKERS[operation].check(params)


def message(operation: str, params: Any) -> str:
    return validation_message(clauses(operation, params))


def one(operation: str, params: Any) -> str:
    found = clauses(operation, params)
    assert len(found) == 1, found
    return found[0]


def serialization_error(operation: str, params: Any) -> str:
    with pytest.raises(SerializationException) as caught:
        CHECKERS[operation].check(params)
    return caught.value.message


def rule(claim: str = "groups", **extra: Any) -> dict[str, Any]:
    return {"Claim": claim, "MatchType": "Equals", "Value": "admins", "RoleARN": ROLE, **extra}


def roles_input(mapping: dict[str, Any]) -> dict[str, Any]:
    return {
        "IdentityPoolId": POOL,
        "Roles": {"authenticated": ROLE},
        "RoleMappings": {"accounts.google.com": mapping},
    }


# --- the model ----------------------------------------------------------------------------------


def test_model_has_the_23_operations() -> None:
    names = operation_names()
    assert len(names) == 23
    assert len(set(names)) == 23
    assert {"GetId", "CreateIdentityPool", "UpdateIdentityPool", "UntagResource"} <= set(names)


def test_public_operations_come_from_the_model() -> None:
    assert public_operations() == {
        "GetId",
        "GetCredentialsForIdentity",
        "GetOpenIdToken",
        "UnlinkIdentity",
    }
    assert is_public("GetId") and not is_public("ListIdentityPools")


def test_protocol_metadata() -> None:
    assert target_prefix() == "AWSCognitoIdentityService"
    assert content_type() == "application/x-amz-json-1.1"
    assert signing_name() == "cognito-identity"
    assert service_model() is service_model()


def test_one_checker_per_operation() -> None:
    assert set(CHECKERS) == set(operation_names())
    assert CHECKERS["GetId"].operation_name == "GetId"
    standalone = ConstraintChecker(operation_model("GetId"))
    assert standalone.check({"IdentityPoolId": POOL}) == []


# --- messages -----------------------------------------------------------------------------------


def test_message_wording() -> None:
    assert validation_message(["A"]) == "1 validation error detected: A"
    assert validation_message(["A", "B", "C"]) == "3 validation errors detected: A; B; C"
    with pytest.raises(ValueError):
        validation_message([])


def test_a_missing_member_is_one_clause() -> None:
    checker = CHECKERS["GetId"]
    assert checker.check({"IdentityPoolId": POOL}) == []
    assert validation_message(checker.check({})) == (
        f"1 validation error detected: Value null at 'identityPoolId' {PREFIX} "
        "Member must not be null"
    )


# --- each kind of constraint --------------------------------------------------------------------


def test_valid_inputs_give_no_clauses() -> None:
    assert clauses("GetId", {"IdentityPoolId": POOL}) == []
    assert clauses("ListIdentityPools", {"MaxResults": 60, "NextToken": "abc"}) == []
    mapping = {
        "Type": "Rules",
        "AmbiguousRoleResolution": "Deny",
        "RulesConfiguration": {"Rules": [rule("custom:dept"), rule("cognito:groups")]},
    }
    assert clauses("SetIdentityPoolRoles", roles_input(mapping)) == []


def test_missing_required_member() -> None:
    assert message("ListIdentities", {"MaxResults": 5}) == (
        f"1 validation error detected: Value null at 'identityPoolId' {PREFIX} "
        "Member must not be null"
    )


def test_null_is_absent() -> None:
    assert clauses("GetId", {"IdentityPoolId": POOL, "AccountId": None, "Logins": None}) == []
    assert one("GetId", {"IdentityPoolId": None}).startswith("Value null at 'identityPoolId'")


def test_unknown_members_are_ignored() -> None:
    params = {"IdentityPoolId": POOL, "Extra": {"deep": [1, 2, {"x": None}]}, "identityPoolId": 5}
    assert clauses("GetId", params) == []


def test_pattern_is_a_full_match() -> None:
    assert one("GetId", {"IdentityPoolId": "us-east-1_AbCdEf123"}) == (
        f"Value 'us-east-1_AbCdEf123' at 'identityPoolId' {PREFIX} "
        "Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+"
    )
    # A valid id followed by a character the pattern does not allow: a search would accept it.
    assert "regular expression" in one("GetId", {"IdentityPoolId": POOL + "!"})


def test_shorthand_classes_are_ascii_like_java() -> None:
    assert "regular expression" in one("GetId", {"IdentityPoolId": "ëu-west-1:abc"})
    valid = {"IdentityPoolId": POOL, "AccountId": "123456789012"}
    assert clauses("GetId", valid) == []
    assert "pattern: \\d+" in one("GetId", {**valid, "AccountId": "١٢٣"})  # Arabic-Indic digits
    create = {"IdentityPoolName": "pool name\t+=,.@-_", "AllowUnauthenticatedIdentities": True}
    assert clauses("CreateIdentityPool", create) == []
    assert "pattern" in one("CreateIdentityPool", {**create, "IdentityPoolName": "poolé"})


def test_unicode_property_classes_stay_unicode() -> None:
    rules = [rule("ü_claim"), rule("€"), rule("组"), rule("custom:dept")]
    mapping = {"Type": "Rules", "RulesConfiguration": {"Rules": rules}}
    assert clauses("SetIdentityPoolRoles", roles_input(mapping)) == []
    mapping["RulesConfiguration"] = {"Rules": [rule("tab\there")]}
    assert "pattern" in one("SetIdentityPoolRoles", roles_input(mapping))


def test_length_counts_code_points() -> None:
    value = "é" * 256  # 512 UTF-8 bytes, 256 code points
    assert clauses("TagResource", {"ResourceArn": ROLE, "Tags": {"k": value}}) == []
    assert "Map value must satisfy" in one(
        "TagResource", {"ResourceArn": ROLE, "Tags": {"k": value + "é"}}
    )
    create = {"IdentityPoolName": "a" * 129, "AllowUnauthenticatedIdentities": True}
    assert one("CreateIdentityPool", create) == (
        f"Value '{'a' * 129}' at 'identityPoolName' {PREFIX} "
        "Member must have length less than or equal to 128"
    )


def test_empty_string_breaks_length_and_pattern() -> None:
    assert message("ListIdentityPools", {"MaxResults": 600, "NextToken": ""}) == (
        "3 validation errors detected: "
        f"Value '600' at 'maxResults' {PREFIX} Member must have value less than or equal to 60; "
        f"Value '' at 'nextToken' {PREFIX} Member must have length greater than or equal to 1; "
        f"Value '' at 'nextToken' {PREFIX} Member must satisfy regular expression pattern: [\\S]+"
    )


def test_numeric_range() -> None:
    assert one("ListIdentityPools", {"MaxResults": 0}) == (
        f"Value '0' at 'maxResults' {PREFIX} Member must have value greater than or equal to 1"
    )
    developer = {"IdentityPoolId": POOL, "Logins": {}, "TokenDuration": 86401}
    assert one("GetOpenIdTokenForDeveloperIdentity", developer) == (
        f"Value '86401' at 'tokenDuration' {PREFIX} "
        "Member must have value less than or equal to 86400"
    )
    huge = {"MaxResults": 10**30}
    assert "less than or equal to 60" in one("ListIdentityPools", huge)


def test_enum_in_a_map_of_structures() -> None:
    assert one("SetIdentityPoolRoles", roles_input({"Type": "Bogus"})) == (
        f"Value 'Bogus' at 'roleMappings.accounts.google.com.member.type' {PREFIX} "
        "Member must satisfy enum value set: [Token, Rules]"
    )


def test_nested_list_of_structures_paths() -> None:
    rules = [rule(), rule("has space", MatchType="Like")]
    mapping = {"Type": "Rules", "RulesConfiguration": {"Rules": rules}}
    base = "roleMappings.accounts.google.com.member.rulesConfiguration.rules.2.member"
    assert message("SetIdentityPoolRoles", roles_input(mapping)) == (
        "2 validation errors detected: "
        f"Value 'has space' at '{base}.claim' {PREFIX} Member must satisfy regular expression "
        "pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+; "
        f"Value 'Like' at '{base}.matchType' {PREFIX} "
        "Member must satisfy enum value set: [Equals, Contains, StartsWith, NotEqual]"
    )


def test_required_member_of_a_nested_structure() -> None:
    mapping = {"Type": "Rules", "RulesConfiguration": {}}
    assert one("SetIdentityPoolRoles", roles_input(mapping)) == (
        "Value null at 'roleMappings.accounts.google.com.member.rulesConfiguration.rules' "
        f"{PREFIX} Member must not be null"
    )
    create = {
        "IdentityPoolName": "pool",
        "AllowUnauthenticatedIdentities": False,
        "CognitoIdentityProviders": [{"ProviderName": "p", "ClientId": "c"}, None],
    }
    assert one("CreateIdentityPool", create) == (
        f"Value null at 'cognitoIdentityProviders.2.member' {PREFIX} Member must not be null"
    )


def test_list_size_uses_length_wording() -> None:
    assert one("DeleteIdentities", {"IdentityIdsToDelete": []}) == (
        f"Value '[]' at 'identityIdsToDelete' {PREFIX} "
        "Member must have length greater than or equal to 1"
    )
    ids = [POOL] * 61
    assert one("DeleteIdentities", {"IdentityIdsToDelete": ids}) == (
        f"Value '[{', '.join(ids)}]' at 'identityIdsToDelete' {PREFIX} "
        "Member must have length less than or equal to 60"
    )


def test_too_many_structures_render_their_members() -> None:
    rules = [rule()] * 401
    found = one(
        "SetIdentityPoolRoles",
        roles_input({"Type": "Rules", "RulesConfiguration": {"Rules": rules}}),
    )
    assert found.startswith(
        "Value '[{Claim=groups, MatchType=Equals, Value=admins, RoleARN=arn:aws:iam::"
    )
    assert found.endswith(
        "at 'roleMappings.accounts.google.com.member.rulesConfiguration.rules' "
        f"{PREFIX} Member must have length less than or equal to 400"
    )


def test_list_of_strings_reports_the_whole_list() -> None:
    assert one("DeleteIdentities", {"IdentityIdsToDelete": [POOL, "nope", "nope too"]}) == (
        f"Value '[{POOL}, nope, nope too]' at 'identityIdsToDelete' {PREFIX} "
        "Member must satisfy constraint: [Member must have length less than or equal to 55, "
        "Member must have length greater than or equal to 1, "
        "Member must satisfy regular expression pattern: [\\w-]+:[0-9a-f-]+]"
    )
    assert one("UntagResource", {"ResourceArn": ROLE, "TagKeys": ["a", None]}) == (
        f"Value '[a, null]' at 'tagKeys' {PREFIX} Member must satisfy constraint: "
        "[Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1, Member must not be null]"
    )


def test_empty_login_token_matches_the_real_cognito_message() -> None:
    # Verbatim from Cognito Identity, aws-amplify/amplify-js#7845.
    key = "cognito-idp.us-east-1.amazonaws.com/us-east-1_5AO0qbaSS"
    assert message("GetId", {"IdentityPoolId": POOL, "Logins": {key: ""}}) == (
        f"1 validation error detected: Value '{{{key}=}}' at 'logins' failed to satisfy "
        "constraint: Map value must satisfy constraint: [Member must have length less than or "
        "equal to 50000, Member must have length greater than or equal to 1]"
    )


def test_map_keys() -> None:
    params = {"IdentityPoolId": POOL, "Roles": {"admin": ROLE}}
    assert one("SetIdentityPoolRoles", params) == (
        f"Value '{{admin={ROLE}}}' at 'roles' {PREFIX} Map keys must satisfy constraint: "
        "[Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1, "
        "Member must satisfy regular expression pattern: (un)?authenticated]"
    )


def test_map_size() -> None:
    logins = {f"provider{i}.example": "t" for i in range(11)}
    found = one("GetId", {"IdentityPoolId": POOL, "Logins": logins})
    assert found.endswith(f"at 'logins' {PREFIX} Member must have length less than or equal to 10")


def test_map_keys_and_values_both_broken() -> None:
    tags = {"": "x" * 257}
    assert clauses("TagResource", {"ResourceArn": ROLE, "Tags": tags}) == [
        f"Value '{{={'x' * 257}}}' at 'tags' {PREFIX} Map keys must satisfy constraint: "
        "[Member must have length less than or equal to 128, "
        "Member must have length greater than or equal to 1]",
        f"Value '{{={'x' * 257}}}' at 'tags' {PREFIX} Map value must satisfy constraint: "
        "[Member must have length less than or equal to 256, "
        "Member must have length greater than or equal to 0]",
    ]


def test_sensitive_tokens_are_never_echoed() -> None:
    secret = "eyJraWQiOiJzZWNyZXQifQ" * 3000  # 66000 chars, over the 50000 limit
    logins = {"accounts.google.com": secret, "": "another-secret"}
    text = message("GetId", {"IdentityPoolId": POOL, "Logins": logins})
    assert "eyJ" not in text and "another-secret" not in text
    assert "Value '{accounts.google.com=***, =***}' at 'logins'" in text
    assert "Map keys must satisfy constraint" in text
    assert "Map value must satisfy constraint" in text


def test_booleans_and_integers_render_like_java() -> None:
    found = clauses(
        "ListIdentities", {"IdentityPoolId": "x", "MaxResults": 61, "HideDisabled": True}
    )
    assert found[1] == (
        f"Value '61' at 'maxResults' {PREFIX} Member must have value less than or equal to 60"
    )


# --- type errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [
        (
            "ListIdentityPools",
            {"MaxResults": "5"},
            "STRING_VALUE can not be converted to an Integer",
        ),
        (
            "ListIdentityPools",
            {"MaxResults": True},
            "TRUE_VALUE can not be converted to an Integer",
        ),
        (
            "ListIdentityPools",
            {"MaxResults": False},
            "FALSE_VALUE can not be converted to an Integer",
        ),
        (
            "ListIdentityPools",
            {"MaxResults": 1.5},
            "NUMBER_VALUE can not be converted to an Integer",
        ),
        (
            "ListIdentityPools",
            {"MaxResults": 5.0},
            "NUMBER_VALUE can not be converted to an Integer",
        ),
        ("ListIdentityPools", {"MaxResults": [5]}, "Start of list found where not expected"),
        (
            "ListIdentityPools",
            {"MaxResults": {"a": 1}},
            "Start of structure or map found where not expected.",
        ),
        ("GetId", {"IdentityPoolId": 1}, "NUMBER_VALUE can not be converted to a String"),
        ("GetId", {"IdentityPoolId": True}, "TRUE_VALUE can not be converted to a String"),
        ("GetId", {"IdentityPoolId": POOL, "Logins": "x"}, "Expected null"),
        (
            "GetId",
            {"IdentityPoolId": POOL, "Logins": ["x"]},
            "Start of list found where not expected",
        ),
        (
            "GetId",
            {"IdentityPoolId": POOL, "Logins": {"k": 7}},
            "NUMBER_VALUE can not be converted to a String",
        ),
        ("DeleteIdentities", {"IdentityIdsToDelete": "x"}, "Expected list or null"),
        ("DeleteIdentities", {"IdentityIdsToDelete": 3}, "Expected list or null"),
        (
            "DeleteIdentities",
            {"IdentityIdsToDelete": {}},
            "Start of structure or map found where not expected.",
        ),
        (
            "DeleteIdentities",
            {"IdentityIdsToDelete": [POOL, 3]},
            "NUMBER_VALUE can not be converted to a String",
        ),
        (
            "CreateIdentityPool",
            {"IdentityPoolName": "p", "AllowUnauthenticatedIdentities": "true"},
            "STRING_VALUE can not be converted to a Boolean",
        ),
        (
            "CreateIdentityPool",
            {"IdentityPoolName": "p", "AllowUnauthenticatedIdentities": 1},
            "NUMBER_VALUE can not be converted to a Boolean",
        ),
        (
            "GetOpenIdTokenForDeveloperIdentity",
            {"IdentityPoolId": POOL, "Logins": {}, "TokenDuration": "60"},
            "STRING_VALUE can not be converted to a Long",
        ),
        ("SetIdentityPoolRoles", roles_input("Token"), "Expected null"),  # type: ignore[arg-type]
        ("GetId", [], "Start of list found where not expected"),
        ("GetId", "text", "Expected null"),
    ],
)
def test_type_errors_are_serialization_exceptions(
    operation: str, params: Any, expected: str
) -> None:
    assert serialization_error(operation, params) == expected


def test_type_error_wins_over_validation_clauses() -> None:
    # A missing required member and a wrong type: AWS fails while deserializing, first.
    params = {"MaxResults": "1", "IdentityPoolId": None}
    assert serialization_error("ListIdentities", params) == (
        "STRING_VALUE can not be converted to an Integer"
    )


def test_type_of_unknown_members_is_not_checked() -> None:
    assert clauses("ListIdentityPools", {"MaxResults": 5, "maxResults": "x", "Junk": 1.5}) == []


# --- robustness ---------------------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("GetId", {"IdentityPoolId": _nested(50_000)}),
        ("GetId", {"IdentityPoolId": POOL, "Logins": {"k": _nested(50_000)}}),
        (
            "SetIdentityPoolRoles",
            {**roles_input({"Type": "Token"}), "RoleMappings": {"p": _nested(50_000)}},
        ),
        ("DeleteIdentities", {"IdentityIdsToDelete": [_nested(50_000)]}),
    ],
)
def test_deep_nesting_is_a_type_error_not_a_crash(operation: str, params: Any) -> None:
    with pytest.raises(SerializationException):
        CHECKERS[operation].check(params)


def test_deep_nesting_in_unknown_members_is_ignored() -> None:
    assert clauses("GetId", {"IdentityPoolId": POOL, "Junk": _nested(50_000)}) == []
    mapping = {"Type": "Token", "Junk": _nested(50_000)}
    assert clauses("SetIdentityPoolRoles", roles_input(mapping)) == []


def test_huge_values() -> None:
    found = one("ListIdentityPools", {"MaxResults": 5, "NextToken": "x" * 200_000})
    assert found.endswith("Member must have length less than or equal to 65535")
    many = [POOL] * 5_000
    assert "less than or equal to 60" in one("DeleteIdentities", {"IdentityIdsToDelete": many})


def test_odd_numbers() -> None:
    checker = CHECKERS["GetOpenIdTokenForDeveloperIdentity"]
    base: dict[str, Any] = {"IdentityPoolId": POOL, "Logins": {}}
    for number in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(SerializationException):
            checker.check({**base, "TokenDuration": number})
    assert "less than or equal to 86400" in one(
        "GetOpenIdTokenForDeveloperIdentity", {**base, "TokenDuration": 2**200}
    )
    assert "greater than or equal to 1" in one(
        "GetOpenIdTokenForDeveloperIdentity", {**base, "TokenDuration": -(2**200)}
    )


def test_lone_surrogates_and_control_characters() -> None:
    assert "regular expression" in one("GetId", {"IdentityPoolId": "us-east-1:\ud800"})
    assert clauses("UntagResource", {"ResourceArn": "\x00" * 20, "TagKeys": ["\ud800"]}) == []
