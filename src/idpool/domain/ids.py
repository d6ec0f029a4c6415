"""Identifiers of the service: pool and identity ids (`<region>:<uuid>`), account ids and ARNs.

Unsigned public calls carry no credential scope, so the region of such a call is read from the
id itself; these helpers are the one place that knows the formats.
"""

from __future__ import annotations

import re
import uuid

DEFAULT_ACCOUNT = "000000000000"
# The Logins key under which tokens idpool issued itself are presented back.
OWN_TOKEN_PROVIDER = "cognito-identity.amazonaws.com"

_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-\d+")
_POOL_ARN_RE = re.compile(
    r"arn:aws[a-z-]*:cognito-identity:(?P<region>[^:]+):(?P<account>\d{12}):identitypool/(?P<pool>.+)"
)


def region_of(prefixed_id: str) -> str:
    """The region part of a `<region>:<uuid>` id (the text before the first colon)."""
    return prefixed_id.split(":", 1)[0]


def is_region_uuid(value: str) -> bool:
    """True when the id has a region-shaped prefix and a well-formed UUID after the colon."""
    region, sep, rest = value.partition(":")
    if not sep or not _REGION_RE.fullmatch(region):
        return False
    try:
        return str(uuid.UUID(rest)) == rest
    except ValueError:
        return False


def pool_arn(region: str, account_id: str, pool_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:cognito-identity:{region}:{account_id}:identitypool/{pool_id}"


def parse_pool_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, pool id) of an identity pool ARN, or None when it is not one."""
    match = _POOL_ARN_RE.fullmatch(arn)
    if match is None:
        return None
    return match["region"], match["account"], match["pool"]


def is_region(value: str) -> bool:
    return _REGION_RE.fullmatch(value) is not None


# IAM names hold letters, digits and `+=,.@_-` (role paths also `/`), never a colon.
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/[\w+=,.@/-]+")
SAML_PROVIDER_ARN = re.compile(r"arn:aws[a-z-]*:iam::(?P<account>\d{12}):saml-provider/[\w+=,.@-]+")
# The SAML attribute whose values name the roles an assertion allows, as AWS documents it.
SAML_ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
# A comma that starts the second half of a Role value: names may hold commas, not colons.
_PAIR_SPLIT = re.compile(r"\s*,\s*(?=arn:)")


def saml_role_pair(value: str) -> tuple[str, str] | None:
    """(role ARN, SAML provider ARN) of one SAML Role attribute value; None when malformed.

    AWS documents each value as `role ARN,provider ARN`, in either order.
    """
    halves = _PAIR_SPLIT.split(value.strip())
    if len(halves) != 2:
        return None
    for role, provider in (halves, halves[::-1]):
        if ROLE_ARN.fullmatch(role) and SAML_PROVIDER_ARN.fullmatch(provider):
            return role, provider
    return None


def account_of_role(role_arn: str) -> str | None:
    """The account id of an IAM role ARN, or None when it is not one."""
    match = ROLE_ARN.fullmatch(role_arn)
    return match["account"] if match else None
