"""The roles file: default deny for admin calls, exact allow-lists, trust conditions, and clear errors."""

from __future__ import annotations

import pytest

from idpool.domain.errors import AccessDeniedException
from idpool.domain.records import VendedSession
from idpool.service.role_policy import RolesFileError, load_role_policy

ADMIN = frozenset({"DescribeIdentityPool", "DeleteIdentityPool", "ListIdentityPools"})
ROLE = "arn:aws:iam::123456789012:role/path/Reader"
POOL = "us-east-1:00000000-0000-4000-8000-000000000001"
SESSION = VendedSession("123456789012", ROLE, "s1", "us-east-1:x", POOL, True, "", 0.0)


def test_default_policy_denies_every_admin_operation() -> None:
    with pytest.raises(AccessDeniedException, match="assumed-role/Reader/s1 is not authorized"):
        load_role_policy(None, ADMIN).check_admin(
            SESSION, "DescribeIdentityPool", {"IdentityPoolId": POOL}, "us-east-1"
        )


def test_allow_list_is_exact() -> None:
    policy = load_role_policy(
        {"roles": [{"role_arn": ROLE, "admin_operations": ["DescribeIdentityPool"]}]}, ADMIN
    )
    policy.check_admin(SESSION, "DescribeIdentityPool", {"IdentityPoolId": POOL}, None)
    with pytest.raises(AccessDeniedException, match="identitypool/\\*"):
        policy.check_admin(SESSION, "ListIdentityPools", {}, "us-east-1")


def test_trust_conditions_on_aud_and_amr() -> None:
    policy = load_role_policy(
        {"roles": [{"role_arn": ROLE, "trust": {"aud": [POOL], "amr": ["auth*"]}}]}, ADMIN
    )
    assert policy.trusted(ROLE, POOL, ["authenticated", "dev"])
    assert not policy.trusted(ROLE, POOL, ["unauthenticated"])
    assert not policy.trusted(ROLE, "us-east-1:other", ["authenticated"])
    assert not policy.trusted("arn:aws:iam::123456789012:role/Other", POOL, ["authenticated"])


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ([], "mapping with one key"),
        ({"roles": {}}, "must be a list"),
        ({"roles": [{"role_arn": "arn:aws:iam::1:role/x"}]}, "IAM role ARN"),
        ({"roles": [{"role_arn": ROLE, "admin_operations": ["GetId"]}]}, "not an admin"),
        ({"roles": [{"role_arn": ROLE, "extra": 1}]}, "unknown keys extra"),
        ({"roles": [{"role_arn": ROLE}, {"role_arn": ROLE}]}, "declared twice"),
        ({"roles": [{"role_arn": ROLE, "trust": {"aud": "x"}}]}, "list of non-empty strings"),
    ],
)
def test_bad_files_are_refused_with_a_reason(document: object, problem: str) -> None:
    with pytest.raises(RolesFileError, match=problem):
        load_role_policy(document, ADMIN)


def test_another_accounts_role_never_borrows_its_allow_list() -> None:
    """Pool owner A names account B's allow-listed role: A's guests get no B admin rights."""
    policy = load_role_policy(
        {"roles": [{"role_arn": ROLE, "admin_operations": ["DescribeIdentityPool"]}]}, ADMIN
    )
    borrowed = VendedSession("999999999999", ROLE, "s1", "us-east-1:x", POOL, False, "", 0.0)
    with pytest.raises(AccessDeniedException, match="arn:aws:sts::123456789012:assumed-role"):
        policy.check_admin(borrowed, "DescribeIdentityPool", {"IdentityPoolId": POOL}, None)
