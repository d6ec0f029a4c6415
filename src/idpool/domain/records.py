"""The stored things of the service, as frozen values.

Times are epoch seconds (floats): the wire encodes them as JSON numbers, which is what the
JavaScript SDK requires, and the store keeps them as numbers too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CognitoProvider:
    """One entry of a pool's CognitoIdentityProviders (a user pool and one of its app clients)."""

    provider_name: str
    client_id: str | None = None
    server_side_token_check: bool = False


@dataclass(frozen=True, slots=True)
class MappingRule:
    claim: str
    match_type: str
    value: str
    role_arn: str


@dataclass(frozen=True, slots=True)
class RoleMapping:
    type: str
    ambiguous_role_resolution: str | None = None
    rules: tuple[MappingRule, ...] | None = None


@dataclass(frozen=True, slots=True)
class PrincipalTagMap:
    use_defaults: bool | None
    tags: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Pool:
    """An identity pool with everything configured on it (roles and tag maps included)."""

    pool_id: str
    account_id: str
    region: str
    name: str
    allow_unauthenticated: bool
    allow_classic_flow: bool | None = None
    supported_login_providers: Mapping[str, str] = field(default_factory=dict)
    developer_provider_name: str | None = None
    open_id_connect_provider_arns: tuple[str, ...] = ()
    cognito_identity_providers: tuple[CognitoProvider, ...] = ()
    saml_provider_arns: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    roles: Mapping[str, str] = field(default_factory=dict)
    role_mappings: Mapping[str, RoleMapping] = field(default_factory=dict)
    principal_tag_maps: Mapping[str, PrincipalTagMap] = field(default_factory=dict)
    created_at: float = 0.0
    version: int = 0


@dataclass(frozen=True, slots=True)
class Identity:
    """An identity of a pool.

    `authenticated` records that a login was ever linked: there is no way back to guest.
    `disabled` is set when the last login is unlinked or the identity is merged away.
    """

    identity_id: str
    pool_id: str
    account_id: str
    created_at: float
    modified_at: float
    authenticated: bool = False
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    """A login (provider key + the provider's user id) or a developer user id of an identity."""

    pool_id: str
    identity_id: str
    provider: str
    subject: str
    developer: bool = False
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class IdentityView:
    """An identity with the provider names of its links, as DescribeIdentity shows it."""

    identity: Identity
    providers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VerifiedLogin:
    """A login whose token was checked by a validator.

    `subject` is the stable user id inside the provider (an OIDC `sub`, a developer user id);
    `claims` are kept for role-mapping rules and principal tags; `amr` is the provider entry
    AWS writes into the token's `amr` claim; `mapping_key` is the RoleMappings key that applies.
    """

    provider: str
    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)
    amr: str = ""
    mapping_key: str | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    access_key_id: str
    secret_key: str
    session_token: str
    expiration: float


@dataclass(frozen=True, slots=True)
class VendedSession:
    """What credentials idpool vended stand for: an identity acting in a role until `expires_at`.

    `provider` is API Gateway's `cognitoAuthenticationProvider` ('' for guests). `account_id` is
    always the pool's account: a pool may name a role ARN of any account, and idpool has no IAM
    trust policy to prove that account agreed, so it vouches only for the pool's own account.
    """

    account_id: str
    role_arn: str
    session_name: str
    identity_id: str
    pool_id: str
    authenticated: bool
    provider: str
    expires_at: float

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    @property
    def role_account(self) -> str:
        """The account the role ARN names (the pool's account when it names none)."""
        parts = self.role_arn.split(":")
        return parts[4] if len(parts) > 5 and parts[4].isdigit() else self.account_id

    @property
    def assumed_role_arn(self) -> str:
        return f"arn:aws:sts::{self.role_account}:assumed-role/{self.role_name}/{self.session_name}"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the account of the SigV4 principal (or the default account when unsigned).

    `session` is set when the request was signed with credentials idpool vended.
    """

    account_id: str
    region: str | None = None
    access_key_id: str | None = None
    signed: bool = False
    session: VendedSession | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    next_token: str | None = None
