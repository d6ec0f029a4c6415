"""The LoginVerifier the service calls: one Logins entry → the verifier for its provider type.

Routing is by the Logins key against the pool's configuration (`targets.resolve`): user-pool
provider names, OIDC issuers of the pool's IAM OIDC provider ARNs, SAML provider ARNs and the
public providers in SupportedLoginProviders. idpool's own tokens
(`cognito-identity.amazonaws.com`) go to an injected verifier (the signing package). Anything
else, the developer provider name included, is refused with AWS's "Logins don't match".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import httpx

from idpool.domain.errors import (
    LOGINS_DONT_MATCH,
    ExternalServiceException,
    NotAuthorizedException,
)
from idpool.domain.ids import OWN_TOKEN_PROVIDER
from idpool.domain.ports import LoginVerifier
from idpool.domain.records import Pool, VerifiedLogin
from idpool.providers.cognito_user_pool import TokenRevocationCheck, UserPoolVerifier
from idpool.providers.config import ProvidersConfig
from idpool.providers.fetch import Fetcher
from idpool.providers.jwks_cache import JwksCache
from idpool.providers.oidc import JwtChecker, OidcVerifier
from idpool.providers.saml import SamlVerifier
from idpool.providers.social import SocialVerifier
from idpool.providers.targets import Checked, Kind, Target, login_of, resolve
from idpool.providers.trust import TrustVerifier


class TargetVerifier(Protocol):
    async def check(self, target: Target, token: str) -> Checked: ...


class LoginRouter:
    """Routes each login to the verifier of its provider type (or to trust mode)."""

    def __init__(
        self,
        config: ProvidersConfig,
        verifiers: dict[Kind, TargetVerifier],
        own_tokens: LoginVerifier | None,
    ) -> None:
        self._config = config
        self._verifiers = verifiers
        self._own_tokens = own_tokens
        self._trust = TrustVerifier() if config.trust_mode else None
        self.keys: JwksCache | None = None

    @classmethod
    def from_config(
        cls,
        config: ProvidersConfig,
        http: httpx.AsyncClient,
        clock: Callable[[], float],
        own_tokens: LoginVerifier | None,
        *,
        revocation_check: TokenRevocationCheck | None = None,
        previous: LoginVerifier | None = None,
    ) -> LoginRouter:
        """`previous` is the router this one replaces (a reloaded providers file): its cached
        keys are kept when nothing they depend on changed, so such a reload costs no fetches
        (the reused cache's fetcher then knows the same operator URLs as a new one would)."""
        fetcher = Fetcher(http, operator_urls=config.operator_urls())
        keys = None
        if isinstance(previous, LoginRouter) and _cache_settings(previous.config) == (
            _cache_settings(config)
        ):
            keys = previous.keys
        if keys is None:
            keys = JwksCache(
                fetcher,
                clock,
                ttl=config.jwks_ttl_seconds,
                refresh_interval=config.jwks_refresh_interval_seconds,
            )
        checker = JwtChecker(keys, clock, leeway=config.leeway_seconds)
        oidc = OidcVerifier(checker)
        social = SocialVerifier(fetcher, config.social, clock)
        verifiers: dict[Kind, TargetVerifier] = {
            Kind.USER_POOL: UserPoolVerifier(checker, revocation_check),
            Kind.OIDC: oidc,
            Kind.GOOGLE: oidc,
            Kind.APPLE: oidc,
            Kind.FACEBOOK: social,
            Kind.AMAZON: social,
            Kind.TWITTER: social,
            Kind.DIGITS: social,
        }
        if config.saml_providers:
            verifiers[Kind.SAML] = _saml_verifier(config, clock)
        router = cls(config, verifiers, own_tokens)
        router.keys = keys
        return router

    @property
    def config(self) -> ProvidersConfig:
        return self._config

    @property
    def trust_mode(self) -> bool:
        return self._trust is not None

    async def verify(self, pool: Pool, provider: str, token: str) -> VerifiedLogin:
        if provider == OWN_TOKEN_PROVIDER:
            if self._own_tokens is None:
                raise NotAuthorizedException(LOGINS_DONT_MATCH)
            return await self._own_tokens.verify(pool, provider, token)
        target = resolve(pool, provider, self._config)
        verifier = self._trust or self._verifiers.get(target.kind)
        if verifier is None:
            # A SAML ARN on the pool with no provider metadata configured: nothing to verify
            # the assertion against, so it cannot prove anything.
            raise NotAuthorizedException(LOGINS_DONT_MATCH)
        try:
            checked = await verifier.check(target, token)
        except ExternalServiceException as exc:
            raise ExternalServiceException(unreachable(exc.message, target, self._config)) from None
        return login_of(target, checked)


def unreachable(message: str, target: Target, config: ProvidersConfig) -> str:
    """The provider-unreachable message, naming the provider so a user sees what to fix.

    Only the Logins key and, for a user pool whose keys were looked for at AWS, AWS's public
    URL are named; addresses from the operator's configuration stay in the server log.
    """
    text = f"{message.rstrip('.')}: {target.key}."
    source = target.source.jwks_url if target.source is not None else None
    if (
        target.kind is Kind.USER_POOL
        and config.user_pool_endpoint is None
        and source == f"https://{target.key}/.well-known/jwks.json"
    ):
        text += (
            f" Its keys were looked for at {source}; for a local user-pool emulator set "
            "--user-pool-endpoint (IDPOOL_USER_POOL_ENDPOINT or user_pool_endpoint in the "
            "providers file)."
        )
    elif target.source is not None:
        text += " The server log names the address tried."
    return text


def _cache_settings(config: ProvidersConfig) -> tuple[Any, ...]:
    """What a key cache depends on: its timings and every address the configuration names
    (where keys are fetched from, and so how far each fetch is trusted). A reload that
    changes none of them keeps the cache; any other gets a fresh one."""
    return (
        config.jwks_ttl_seconds,
        config.jwks_refresh_interval_seconds,
        config.issuers,
        config.oidc_providers,
        config.social,
        config.user_pool_endpoint,
    )


def _saml_verifier(config: ProvidersConfig, clock: Callable[[], float]) -> SamlVerifier:
    return SamlVerifier(config.saml_providers, clock, leeway=config.leeway_seconds)


def build_login_verifier(
    config: ProvidersConfig,
    http_client: httpx.AsyncClient,
    clock: Callable[[], float],
    own_tokens: LoginVerifier | None,
    *,
    revocation_check: TokenRevocationCheck | None = None,
    previous: LoginVerifier | None = None,
) -> LoginVerifier:
    """The LoginVerifier the service uses: a router over every provider type.

    `own_tokens` verifies `cognito-identity.amazonaws.com` logins (idpool's own tokens);
    without it such logins are refused. `revocation_check` answers ServerSideTokenCheck;
    without it the flag is accepted and not enforced. `previous` is the verifier a reloaded
    configuration replaces (its cached keys are kept).
    """
    return LoginRouter.from_config(
        config,
        http_client,
        clock,
        own_tokens,
        revocation_check=revocation_check,
        previous=previous,
    )
