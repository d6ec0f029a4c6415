"""Credentials from a real STS: `AssumeRoleWithWebIdentity` with idpool's own token.

This is what Cognito does in the enhanced flow (docs/tokens.md, "Credentials", and AWS's
"Identity pools authentication flow" in the Cognito Developer Guide): session name
``CognitoIdentityCredentials``, the identity's token as the web identity, and for guests an
inline session policy that scopes the role down to the services AWS allows unauthenticated
identities (listed in docs/tokens.md). Principal tags need no parameter: STS reads them from
the token's ``https://aws.amazon.com/tags`` claim.

The STS must trust idpool's issuer (for AWS: an IAM OIDC provider for the issuer URL with
the pool ids as audiences); see docs/tokens.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from idpool.domain.errors import (
    INVALID_POOL_CONFIG,
    ExternalServiceException,
    InvalidIdentityPoolConfigurationException,
)
from idpool.domain.ports import VendRequest
from idpool.domain.records import Credentials

log = logging.getLogger("idpool.vending")

SESSION_NAME = "CognitoIdentityCredentials"
STS_UNAVAILABLE = "The security token service is not responding. Try again later."

# The services AWS leaves to unauthenticated identities (the Cognito Developer Guide's "IAM roles"
# page; docs/tokens.md lists them), as one statement.
GUEST_ACTIONS = (
    "cognito-identity:*",
    "cognito-idp:*",
    "cognito-sync:*",
    "s3:*",
    "dynamodb:*",
    "sdb:*",
    "sqs:*",
    "sns:*",
    "ses:*",
    "lambda:*",
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "firehose:*",
    "kinesisanalytics:*",
    "mobileanalytics:*",
    "sumerian:View*",
    "appsync:*",
    "geo:*",
    "gamelift:*",
    "iot:*",
    "codewhisperer:*",
    "comprehend:*",
    "lex:*",
    "machinelearning:*",
    "personalize:*",
    "polly:*",
    "rekognition:*",
    "sagemaker:InvokeEndpoint",
    "textract:DetectDocumentText",
    "textract:AnalyzeDocument",
    "transcribe:*",
    "translate:*",
    "cloudwatch:*",
    "logs:*",
    "execute-api:*",
    "rum:PutRumEvents",
)
GUEST_SESSION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(GUEST_ACTIONS), "Resource": "*"}],
    },
    separators=(",", ":"),
)

# STS answers that say "not now" rather than "this role is misconfigured".
_TRANSIENT_CODES = frozenset(
    {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable"}
)


class StsCredentialVendor:
    """The CredentialVendor port backed by STS at `endpoint_url` (None: AWS's own endpoint).

    The call is unsigned, as AssumeRoleWithWebIdentity always is, so idpool needs no AWS
    credentials of its own. Errors: a refusal by STS (trust policy, missing sts:TagSession,
    unknown role, packed policy too large) is the pool's configuration →
    InvalidIdentityPoolConfigurationException with AWS's message; an unreachable, throttling
    or failing STS → ExternalServiceException, since the configuration may be fine.
    """

    def __init__(
        self,
        *,
        endpoint_url: str | None,
        region: str,
        client: Any = None,
        timeout: float = 5.0,
        max_attempts: int = 3,
    ) -> None:
        if client is None:
            client = botocore.session.get_session().create_client(
                "sts",
                region_name=region,
                endpoint_url=endpoint_url,
                config=Config(
                    signature_version=UNSIGNED,
                    connect_timeout=timeout,
                    read_timeout=timeout,
                    retries={"max_attempts": max_attempts, "mode": "standard"},
                ),
            )
        self._client = client

    @property
    def needs_token(self) -> bool:
        return True

    async def vend(self, request: VendRequest) -> Credentials:
        if request.token is None:
            raise ValueError("the sts vendor needs the identity's OpenID token")
        params: dict[str, Any] = {
            "RoleArn": request.role_arn,
            "RoleSessionName": SESSION_NAME,
            "WebIdentityToken": request.token,
            "DurationSeconds": request.duration_seconds,
        }
        if not request.authenticated:
            params["Policy"] = GUEST_SESSION_POLICY
        try:
            response = await asyncio.to_thread(self._client.assume_role_with_web_identity, **params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            log.warning(
                "STS refused role %s for %s: %s %s",
                request.role_arn,
                request.identity.identity_id,
                error.get("Code"),
                error.get("Message"),
            )
            if error.get("Code") in _TRANSIENT_CODES or status >= 500:
                raise ExternalServiceException(STS_UNAVAILABLE) from exc
            raise InvalidIdentityPoolConfigurationException(INVALID_POOL_CONFIG) from exc
        except ParamValidationError as exc:
            # A role ARN STS would never accept (the pool's configuration, again).
            log.warning("STS parameters rejected for role %s: %s", request.role_arn, exc)
            raise InvalidIdentityPoolConfigurationException(INVALID_POOL_CONFIG) from exc
        except BotoCoreError as exc:
            log.warning("STS call failed: %s", exc)
            raise ExternalServiceException(STS_UNAVAILABLE) from exc
        creds = response["Credentials"]
        return Credentials(
            access_key_id=creds["AccessKeyId"],
            secret_key=creds["SecretAccessKey"],
            session_token=creds["SessionToken"],
            expiration=creds["Expiration"].timestamp(),
        )
