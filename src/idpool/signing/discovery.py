"""The OpenID Connect discovery document of idpool's issuer, as plain data.

Relying parties (an AWS IAM OIDC provider, Vault, MinIO, any OIDC library) start from
``<iss>/.well-known/openid-configuration`` and follow `jwks_uri`; nothing else is needed to
verify our tokens. idpool is not an OAuth authorization server, so the document lists only
what a token verifier reads (no authorization or token endpoint).
"""

from __future__ import annotations

from typing import Any

from idpool.domain.claims import POOL_ARN_CLAIM, TAGS_CLAIM
from idpool.signing.keyring import ALGORITHM

CLAIMS_SUPPORTED = ("sub", "aud", "iss", "amr", "iat", "exp", POOL_ARN_CLAIM, TAGS_CLAIM)


def openid_configuration(issuer: str, jwks_uri: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "claims_supported": list(CLAIMS_SUPPORTED),
    }
