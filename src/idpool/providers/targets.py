"""What a pool's configuration says about one Logins key, and how a checked token becomes a login.

The router resolves a key to a `Target` (which checks apply: issuers, audiences, key source);
a verifier turns the token into a `Checked` (subject, claims, audience); `login_of` then writes
the `amr` entry and RoleMappings key in AWS's formats (docs/login-providers.md, "Claims, amr
and role mappings"). Keeping the
formats here means trust mode and real verification produce identical logins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from idpool.domain.errors import (
    LOGINS_DONT_MATCH,
    NOT_A_PUBLIC_PROVIDER,
    InvalidParameterException,
    NotAuthorizedException,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from idpool.domain.login_keys import (
    AMAZON,
    APPLE,
    DIGITS,
    FACEBOOK,
    GOOGLE,
    TWITTER,
    user_pool_id_of,
    user_pool_mapping_key,
)
from idpool.domain.provider_urls import OIDC_ARN
from idpool.domain.records import Pool, VerifiedLogin
from idpool.providers.config import ProvidersConfig
from idpool.providers.jwks_cache import KeySource


class Kind(StrEnum):
    USER_POOL = "user_pool"
    OIDC = "oidc"
    GOOGLE = "google"
    APPLE = "apple"
    FACEBOOK = "facebook"
    AMAZON = "amazon"
    TWITTER = "twitter"
    DIGITS = "digits"
    SAML = "saml"


_PUBLIC = {
    GOOGLE: Kind.GOOGLE,
    APPLE: Kind.APPLE,
    FACEBOOK: Kind.FACEBOOK,
    AMAZON: Kind.AMAZON,
    TWITTER: Kind.TWITTER,
    DIGITS: Kind.DIGITS,
}
JWT_KINDS = frozenset({Kind.USER_POOL, Kind.OIDC, Kind.GOOGLE, Kind.APPLE})


@dataclass(frozen=True, slots=True)
class Target:
    """The checks one Logins key gets on this pool.

    `audiences` are the accepted client/app ids; None means any (a user-pool provider
    configured without a ClientId). `app_secret` is the Twitter/Digits consumer secret.
    `revocation_checked` holds the client ids whose ServerSideTokenCheck is on (None stands
    for a provider entry without a client id).
    """

    kind: Kind
    key: str
    issuers: tuple[str, ...] = ()
    audiences: tuple[str, ...] | None = ()
    source: KeySource | None = None
    arn: str | None = None
    app_secret: str | None = None
    revocation_checked: frozenset[str | None] = frozenset()


@dataclass(frozen=True, slots=True)
class Checked:
    """A token a verifier accepted: the provider's user id, its claims, the client it was for."""

    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)
    audience: str | None = None


def resolve(pool: Pool, key: str, config: ProvidersConfig) -> Target:
    """The target of `key` on `pool`, or the refusal AWS gives.

    The pool's developer provider name is not a public provider: AWS answers
    `InvalidParameterException: Please provide a valid public provider.` when a public call
    (GetId, GetOpenIdToken, GetCredentialsForIdentity, UnlinkIdentity) carries it, since
    developer user ids only arrive through the signed developer operation (which never routes
    them here). idpool's own tokens are delegated by the router; any other unknown key gets
    AWS's "Logins don't match".
    """
    if key and key == pool.developer_provider_name:
        raise InvalidParameterException(NOT_A_PUBLIC_PROVIDER)
    if not key or key == OWN_TOKEN_PROVIDER:
        raise NotAuthorizedException(LOGINS_DONT_MATCH)
    user_pool = [p for p in pool.cognito_identity_providers if p.provider_name == key]
    if user_pool:
        issuer = f"https://{key}"
        client_ids = [p.client_id for p in user_pool if p.client_id]
        return Target(
            kind=Kind.USER_POOL,
            key=key,
            issuers=(issuer,),
            audiences=tuple(client_ids) if len(client_ids) == len(user_pool) else None,
            source=_key_source(config, issuer, default_jwks=_user_pool_jwks(config, key)),
            revocation_checked=frozenset(
                p.client_id for p in user_pool if p.server_side_token_check
            ),
        )
    if key in pool.supported_login_providers and key in _PUBLIC:
        return _public(key, pool.supported_login_providers[key], config)
    for arn in pool.open_id_connect_provider_arns:
        match = OIDC_ARN.match(arn)
        if match is not None and match["issuer"] == key:
            return _oidc(key, arn, config)
    if key in pool.saml_provider_arns:
        return Target(kind=Kind.SAML, key=key, arn=key)
    raise NotAuthorizedException(LOGINS_DONT_MATCH)


def _user_pool_jwks(config: ProvidersConfig, key: str) -> str:
    """Where a user pool's keys are when no `issuers` entry says otherwise: the emulator of
    `user_pool_endpoint` (moto's and LocalStack's layout), else the pool's own URL at AWS.

    Only an ASCII pool id is put into the emulator's URL, so a provider name can never add a
    path segment, a query or another host to an operator-configured address.
    """
    endpoint = config.user_pool_endpoint
    pool_id = user_pool_id_of(key)
    if endpoint is not None and pool_id is not None:
        return f"{endpoint}/{pool_id}/.well-known/jwks.json"
    return f"https://{key}/.well-known/jwks.json"


def _issuers_for(config: ProvidersConfig, key: str) -> tuple[str, ...]:
    """`https://<key>`, plus `http://<key>` when an operator configured that issuer explicitly
    (a local Keycloak without TLS); never plain HTTP by default."""
    issuers = [f"https://{key}"]
    if f"http://{key}" in config.issuers:
        issuers.append(f"http://{key}")
    return tuple(issuers)


def _key_source(config: ProvidersConfig, issuer: str, *, default_jwks: str | None) -> KeySource:
    entry = config.issuers.get(issuer)
    if entry is not None and (entry.jwks_url or entry.jwks_file or entry.discovery_url):
        return KeySource(
            jwks_url=entry.jwks_url, jwks_file=entry.jwks_file, discovery_url=entry.discovery_url
        )
    if default_jwks is not None:
        return KeySource(jwks_url=default_jwks)
    return KeySource(discovery_url=f"{issuer}/.well-known/openid-configuration")


def _source_for(config: ProvidersConfig, issuers: tuple[str, ...]) -> KeySource:
    configured = [i for i in issuers if i in config.issuers]
    return _key_source(config, configured[0] if configured else issuers[0], default_jwks=None)


def _oidc(key: str, arn: str, config: ProvidersConfig) -> Target:
    issuers = _issuers_for(config, key)
    registered = config.oidc_providers.get(arn)
    if registered is not None:
        audiences = registered.client_ids
    else:
        audiences = tuple(
            cid for i in issuers if i in config.issuers for cid in config.issuers[i].client_ids
        )
    return Target(
        kind=Kind.OIDC,
        key=key,
        issuers=issuers,
        audiences=audiences,
        source=_source_for(config, issuers),
        arn=arn,
    )


def _public(key: str, configured: str, config: ProvidersConfig) -> Target:
    kind = _PUBLIC[key]
    if kind in (Kind.TWITTER, Kind.DIGITS):
        consumer_key, _, secret = configured.partition(";")
        return Target(kind=kind, key=key, audiences=(consumer_key,), app_secret=secret or None)
    app_ids = tuple(a.strip() for a in configured.split(",") if a.strip())
    if kind in (Kind.GOOGLE, Kind.APPLE):
        issuers = _issuers_for(config, key)
        if kind is Kind.GOOGLE:
            issuers = (*issuers, GOOGLE)
        return Target(
            kind=kind,
            key=key,
            issuers=issuers,
            audiences=app_ids,
            source=_source_for(config, issuers),
        )
    return Target(kind=kind, key=key, audiences=app_ids)


def login_of(target: Target, checked: Checked) -> VerifiedLogin:
    """The verified login with AWS's `amr` entry and RoleMappings key for this provider."""
    subject = checked.subject
    if target.kind is Kind.USER_POOL:
        amr = f"{target.key}:CognitoSignIn:{subject}"
        mapping_key = (
            user_pool_mapping_key(target.key, checked.audience) if checked.audience else None
        )
    elif target.kind is Kind.OIDC:
        amr = f"{target.arn}:OIDC:{subject}"
        mapping_key = target.arn
    elif target.kind is Kind.SAML:
        amr = f"{target.arn}:SAML:{subject}"
        mapping_key = target.arn
    else:
        amr = f"{target.key}:{checked.audience or ''}:{subject}"
        mapping_key = target.key
    return VerifiedLogin(
        provider=target.key,
        subject=subject,
        claims=dict(checked.claims),
        amr=amr,
        mapping_key=mapping_key,
    )
