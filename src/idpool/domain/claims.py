"""Claim names of the OpenID tokens idpool issues that are not standard JWT claims.

Both are AWS's: the identity pool's ARN, and the principal tags session-tag claim that STS's
AssumeRoleWithWebIdentity reads (IAM User Guide, "Passing session tags using
AssumeRoleWithWebIdentity").
"""

from __future__ import annotations

POOL_ARN_CLAIM = "https://cognito-identity.amazonaws.com/identity-pool-arn"
TAGS_CLAIM = "https://aws.amazon.com/tags"
