"""The pure role-selection rules of GetCredentialsForIdentity (docs/compatibility.md, "Roles")."""

from __future__ import annotations

from typing import Any

import pytest

from idpool.domain.errors import (
    InvalidIdentityPoolConfigurationException,
    NotAuthorizedException,
)
from idpool.domain.records import MappingRule, Pool, RoleMapping, VerifiedLogin
from idpool.service.roles import choose_role, rule_matches

AUTH = "arn:aws:iam::123456789012:role/auth"
UNAUTH = "arn:aws:iam::123456789012:role/unauth"
ADMIN = "arn:aws:iam::123456789012:role/admin"
READER = "arn:aws:iam::123456789012:role/reader"
UP = "cognito-idp.us-east-1.amazonaws.com/us-east-1_Pool1"
UP_KEY = f"{UP}:client1"


def pool(**kw: Any) -> Pool:
    base: dict[str, Any] = {
        "pool_id": "us-east-1:00000000-0000-4000-8000-000000000000",
        "account_id": "000000000000",
        "region": "us-east-1",
        "name": "p",
        "allow_unauthenticated": True,
        "roles": {"authenticated": AUTH, "unauthenticated": UNAUTH},
    }
    base.update(kw)
    return Pool(**base)


def user_pool_login(**claims: Any) -> VerifiedLogin:
    """As the user-pool verifier reports it: the mapping key is ProviderName:ClientId."""
    return VerifiedLogin(
        provider=UP, subject="sub-1", claims={"aud": "client1", **claims}, mapping_key=UP_KEY
    )


def rules(*rules_: MappingRule, ambiguous: str = "Deny") -> dict[str, RoleMapping]:
    return {UP_KEY: RoleMapping("Rules", ambiguous, tuple(rules_))}


def test_guest_gets_unauthenticated_role() -> None:
    assert choose_role(pool(), False, [], None).role_arn == UNAUTH


def test_missing_default_role_is_configuration_error() -> None:
    with pytest.raises(InvalidIdentityPoolConfigurationException) as exc:
        choose_role(pool(roles={}), False, [], None)
    assert exc.value.message == (
        "Invalid identity pool configuration. Check assigned IAM roles for this pool."
    )
    with pytest.raises(InvalidIdentityPoolConfigurationException):
        choose_role(pool(roles={"unauthenticated": UNAUTH}), True, [user_pool_login()], None)


def test_no_mapping_uses_authenticated_role() -> None:
    assert choose_role(pool(), True, [user_pool_login()], None).role_arn == AUTH


def test_token_mapping_preferred_role() -> None:
    p = pool(role_mappings={UP_KEY: RoleMapping("Token", "Deny")})
    login = user_pool_login(**{"cognito:roles": [ADMIN, READER], "cognito:preferred_role": READER})
    assert choose_role(p, True, [login], None).role_arn == READER


def test_token_mapping_custom_role_must_be_in_token() -> None:
    p = pool(role_mappings={UP_KEY: RoleMapping("Token", "AuthenticatedRole")})
    login = user_pool_login(**{"cognito:roles": [ADMIN, READER]})
    assert choose_role(p, True, [login], ADMIN).role_arn == ADMIN
    with pytest.raises(NotAuthorizedException):
        choose_role(p, True, [login], "arn:aws:iam::123456789012:role/other")


def test_token_mapping_roles_as_comma_string() -> None:
    p = pool(role_mappings={UP_KEY: RoleMapping("Token", "Deny")})
    login = user_pool_login(**{"cognito:roles": f"{ADMIN},{READER}"})
    assert choose_role(p, True, [login], READER).role_arn == READER


@pytest.mark.parametrize(("ambiguous", "expected"), [("AuthenticatedRole", AUTH), ("Deny", None)])
def test_token_mapping_ambiguous(ambiguous: str, expected: str | None) -> None:
    p = pool(role_mappings={UP_KEY: RoleMapping("Token", ambiguous)})
    login = user_pool_login(**{"cognito:roles": [ADMIN, READER]})
    if expected is None:
        with pytest.raises(NotAuthorizedException) as exc:
            choose_role(p, True, [login], None)
        assert exc.value.message == (
            f"The ambiguous role mapping rules for: {UP_KEY} denied this request."
        )
    else:
        assert choose_role(p, True, [login], None).role_arn == expected


@pytest.mark.parametrize(
    ("match_type", "value", "claim", "matches"),
    [
        ("Equals", "eng", "eng", True),
        ("Equals", "eng", "engineering", False),
        ("Contains", "gin", "engineering", True),
        ("Contains", "xyz", "engineering", False),
        ("StartsWith", "eng", "engineering", True),
        ("StartsWith", "ring", "engineering", False),
        ("NotEqual", "eng", "sales", True),
        ("NotEqual", "eng", "eng", False),
    ],
)
def test_match_types(match_type: str, value: str, claim: str, matches: bool) -> None:
    rule = MappingRule("custom:dept", match_type, value, ADMIN)
    assert rule_matches(rule, {"custom:dept": claim}) is matches


def test_missing_claim_never_matches_even_not_equal() -> None:
    assert not rule_matches(MappingRule("custom:dept", "NotEqual", "eng", ADMIN), {})


def test_array_and_non_string_claims() -> None:
    groups = MappingRule("cognito:groups", "Equals", "admins", ADMIN)
    assert rule_matches(groups, {"cognito:groups": ["users", "admins"]})
    verified = MappingRule("email_verified", "Equals", "true", ADMIN)
    assert rule_matches(verified, {"email_verified": True})


def test_rules_first_match_wins_in_order() -> None:
    p = pool(
        role_mappings=rules(
            MappingRule("custom:dept", "StartsWith", "e", READER),
            MappingRule("custom:dept", "Equals", "eng", ADMIN),
        )
    )
    assert (
        choose_role(p, True, [user_pool_login(**{"custom:dept": "eng"})], None).role_arn == READER
    )


def test_rules_custom_role_among_matching_rules() -> None:
    p = pool(
        role_mappings=rules(
            MappingRule("custom:dept", "StartsWith", "e", READER),
            MappingRule("custom:dept", "Equals", "eng", ADMIN),
        )
    )
    login = user_pool_login(**{"custom:dept": "eng"})
    assert choose_role(p, True, [login], ADMIN).role_arn == ADMIN


@pytest.mark.parametrize(("ambiguous", "expected"), [("AuthenticatedRole", AUTH), ("Deny", None)])
def test_rules_no_match(ambiguous: str, expected: str | None) -> None:
    p = pool(role_mappings=rules(MappingRule("x", "Equals", "y", ADMIN), ambiguous=ambiguous))
    if expected is None:
        with pytest.raises(NotAuthorizedException):
            choose_role(p, True, [user_pool_login()], None)
    else:
        assert choose_role(p, True, [user_pool_login()], None).role_arn == expected


def test_mapping_for_other_client_does_not_apply() -> None:
    p = pool(role_mappings={f"{UP}:client2": RoleMapping("Token", "Deny")})
    assert (
        choose_role(p, True, [user_pool_login(**{"cognito:roles": [ADMIN]})], None).role_arn == AUTH
    )


def test_oidc_mapping_keyed_by_provider_arn() -> None:
    arn = "arn:aws:iam::123456789012:oidc-provider/idp.example.com"
    p = pool(
        open_id_connect_provider_arns=(arn,),
        role_mappings={
            arn: RoleMapping("Rules", "Deny", (MappingRule("sub", "Equals", "u1", ADMIN),))
        },
    )
    login = VerifiedLogin(
        provider="idp.example.com", subject="u1", claims={"sub": "u1"}, mapping_key=arn
    )
    assert choose_role(p, True, [login], None).role_arn == ADMIN


def test_first_login_with_a_mapping_decides() -> None:
    p = pool(
        supported_login_providers={"accounts.google.com": "g"},
        role_mappings={
            "accounts.google.com": RoleMapping(
                "Rules", "Deny", (MappingRule("sub", "Equals", "g1", READER),)
            )
        },
    )
    logins = [
        user_pool_login(),
        VerifiedLogin(provider="accounts.google.com", subject="g1", claims={"sub": "g1"}),
    ]
    assert choose_role(p, True, logins, None).role_arn == READER


SAML = "arn:aws:iam::123456789012:saml-provider/corp"
SAML_ROLE = "https://aws.amazon.com/SAML/Attributes/Role"


def saml_login(*values: str, provider: str = SAML) -> VerifiedLogin:
    return VerifiedLogin(provider=provider, subject="n", claims={SAML_ROLE: list(values)})


def saml_pool(**kw: Any) -> Pool:
    return pool(account_id="123456789012", saml_provider_arns=(SAML,), **kw)


def test_saml_role_from_assertion() -> None:
    p = saml_pool(roles={})
    assert choose_role(p, True, [saml_login(f"{ADMIN},{SAML}")], None).role_arn == ADMIN
    assert choose_role(p, True, [saml_login(f"{SAML},{ADMIN}")], None).role_arn == ADMIN
    two = saml_login(f"{ADMIN},{SAML}", f"{READER},{SAML}")
    assert choose_role(p, True, [two], READER).role_arn == READER
    with pytest.raises(NotAuthorizedException):
        choose_role(p, True, [two], "arn:aws:iam::123456789012:role/nope")


def test_saml_several_roles_need_custom_role_arn() -> None:
    """AWS: with several roles in the assertion the client chooses; no silent default."""
    two = saml_login(f"{ADMIN},{SAML}", f"{READER},{SAML}")
    with pytest.raises(NotAuthorizedException) as info:
        choose_role(saml_pool(), True, [two], None)
    assert "choose one with CustomRoleArn" in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        f"arn:aws:iam::999999999999:role/admin,{SAML}",  # a role of another account
        f"{ADMIN},arn:aws:iam::123456789012:saml-provider/other",  # another provider's pair
        f"{ADMIN},arn:aws:iam::999999999999:saml-provider/corp",
        "not-an-arn:role/admin",
    ],
)
def test_saml_roles_of_another_account_or_provider_are_not_usable(value: str) -> None:
    p = saml_pool()
    login = saml_login(value)
    with pytest.raises(NotAuthorizedException) as info:
        choose_role(p, True, [login], None)
    assert info.value.message == f"The assertion has no role for {SAML} in this account."
    foreign = value.split(",", maxsplit=1)[0]
    with pytest.raises(NotAuthorizedException):
        choose_role(p, True, [login], foreign)
    # Only the usable pair counts: no CustomRoleArn needed.
    assert choose_role(p, True, [saml_login(value, f"{READER},{SAML}")], None).role_arn == READER


def test_saml_without_role_attribute_gets_the_authenticated_role() -> None:
    login = VerifiedLogin(provider=SAML, subject="n", claims={"department": "eng"})
    assert choose_role(saml_pool(), True, [login], None).role_arn == AUTH


# --- the reason the role was chosen (audit trail, debug log, console) ----------------------


def test_every_rule_is_named_with_its_mapping() -> None:
    from idpool.service.roles import RoleChoice

    assert choose_role(pool(), False, [], None) == RoleChoice(UNAUTH, "unauthenticated")
    assert choose_role(pool(), True, [user_pool_login()], None) == RoleChoice(AUTH, "default")
    token = pool(role_mappings={UP_KEY: RoleMapping("Token", "AuthenticatedRole")})
    preferred = user_pool_login(**{"cognito:roles": [ADMIN], "cognito:preferred_role": ADMIN})
    assert choose_role(token, True, [preferred], None) == RoleChoice(ADMIN, "token", UP_KEY)
    assert choose_role(token, True, [preferred], ADMIN) == RoleChoice(ADMIN, "custom", UP_KEY)
    plain = user_pool_login(**{"cognito:roles": [ADMIN, READER]})
    assert choose_role(token, True, [plain], None) == RoleChoice(AUTH, "ambiguous", UP_KEY)
    p = pool(
        role_mappings=rules(
            MappingRule("custom:dept", "Equals", "ops", ADMIN),
            MappingRule("custom:dept", "StartsWith", "e", READER),
            MappingRule("custom:dept", "Contains", "n", ADMIN),
            ambiguous="AuthenticatedRole",
        )
    )
    eng = user_pool_login(**{"custom:dept": "eng"})
    assert choose_role(p, True, [eng], None) == RoleChoice(READER, "rules", UP_KEY, 2)
    assert choose_role(p, True, [eng], ADMIN) == RoleChoice(ADMIN, "custom", UP_KEY, 3)
    other = user_pool_login(**{"custom:dept": "hr"})
    assert choose_role(p, True, [other], None) == RoleChoice(AUTH, "ambiguous", UP_KEY)


def test_reason_reads_as_a_sentence_and_round_trips_the_role() -> None:
    from idpool.service.roles import RoleChoice

    choice = RoleChoice(READER, "rules", UP_KEY, 2)
    assert choice.describe() == f"Rules mapping of {UP_KEY}, rule 2"
    assert RoleChoice.split_detail(choice.detail()) == (READER, choice.describe())
    assert RoleChoice(AUTH, "default").describe() == "default authenticated role"
    assert "AmbiguousRoleResolution" in RoleChoice(AUTH, "ambiguous", UP_KEY).describe()
