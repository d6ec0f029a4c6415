"""Which `Logins` keys a pool accepts, and the RoleMappings key each login maps under.

One place for these formats, read by pool validation (service/pools.py), role mappings
(service/roles.py) and login routing (providers/targets.py), so the three can never disagree.
AWS's formats are described in docs/login-providers.md ("Claims, amr and role mappings"):

- the public providers are named by their host (`graph.facebook.com`, …);
- a Cognito user pool is named `cognito-idp.<region>.amazonaws.com/<pool id>`, and its role
  mapping key is that name plus `:<app client id>`;
- an OIDC provider and a SAML provider are named by their IAM ARN in the pool and map under it.
"""

from __future__ import annotations

import re

from idpool.domain.records import Pool

GOOGLE = "accounts.google.com"
APPLE = "appleid.apple.com"
FACEBOOK = "graph.facebook.com"
AMAZON = "www.amazon.com"
TWITTER = "api.twitter.com"
DIGITS = "www.digits.com"
PUBLIC_PROVIDERS = frozenset({GOOGLE, APPLE, FACEBOOK, AMAZON, TWITTER, DIGITS})

# What CreateIdentityPool accepts as a user pool's ProviderName.
USER_POOL_PROVIDER_NAME = re.compile(
    r"cognito-idp\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?/[\w-]+_[0-9a-zA-Z]+"
)
# The pool id of a user pool's name in ASCII only: the form that may be put into a URL.
_USER_POOL_ID = re.compile(
    r"cognito-idp\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/(?P<pool_id>[a-z0-9-]+_[A-Za-z0-9]+)"
)


def user_pool_id_of(provider_name: str) -> str | None:
    """`us-east-1_AbC123` of `cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123`, or None
    when the name is not a user pool's in plain ASCII."""
    match = _USER_POOL_ID.fullmatch(provider_name)
    return match["pool_id"] if match is not None else None


def user_pool_mapping_key(provider_name: str, client_id: str) -> str:
    """The RoleMappings key of a user pool login: `ProviderName:ClientId`."""
    return f"{provider_name}:{client_id}"


def provider_names(pool: Pool) -> set[str]:
    """The provider names this pool configures: its Logins keys (OIDC by ARN) and the names
    its principal-tag maps may use."""
    names = set(pool.supported_login_providers)
    names.update(p.provider_name for p in pool.cognito_identity_providers)
    names.update(pool.open_id_connect_provider_arns)
    names.update(pool.saml_provider_arns)
    return names


def role_mapping_keys(pool: Pool) -> set[str]:
    """The RoleMappings keys AWS accepts for this pool (user pools need their client id)."""
    keys = set(pool.supported_login_providers)
    keys.update(
        user_pool_mapping_key(p.provider_name, p.client_id)
        for p in pool.cognito_identity_providers
        if p.client_id
    )
    keys.update(pool.open_id_connect_provider_arns)
    keys.update(pool.saml_provider_arns)
    return keys
