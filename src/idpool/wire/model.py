"""botocore's cognito-identity 2014-06-30 model: the one source of truth for the wire layer.

Loaded once per process. Operation names, the target prefix, the JSON version and which
operations are public all come from the model, so nothing here keeps its own list that could
drift from what the SDKs send.
"""

from __future__ import annotations

from functools import cache

import botocore.loaders
from botocore.model import OperationModel, ServiceModel

SERVICE_NAME = "cognito-identity"
API_VERSION = "2014-06-30"

# Smithy's marker for "no authentication", as botocore copies it into the operation's `auth`.
_NO_AUTH = "smithy.api#noAuth"


@cache
def service_model() -> ServiceModel:
    """The service model, loaded from botocore's bundled data on first use."""
    loader = botocore.loaders.create_loader()
    data = loader.load_service_model(SERVICE_NAME, "service-2", API_VERSION)
    return ServiceModel(data, service_name=SERVICE_NAME)


@cache
def operation_names() -> tuple[str, ...]:
    return tuple(service_model().operation_names)


def operation_model(operation_name: str) -> OperationModel:
    """Raises botocore's OperationNotFoundError for names outside the model."""
    return service_model().operation_model(operation_name)


def target_prefix() -> str:
    """The part of X-Amz-Target before the dot (`AWSCognitoIdentityService`)."""
    return str(service_model().metadata["targetPrefix"])


def json_version() -> str:
    return str(service_model().metadata["jsonVersion"])


def content_type() -> str:
    """Content type of requests and responses: `application/x-amz-json-1.1`."""
    return f"application/x-amz-json-{json_version()}"


def signing_name() -> str:
    """The SigV4 service name in credential scopes (`cognito-identity`)."""
    return str(service_model().signing_name)


@cache
def is_public(operation_name: str) -> bool:
    """True when the model says the operation needs no AWS credentials.

    Newer models say so with `auth: [smithy.api#noAuth]`, older ones with `authtype: none`;
    either is enough.
    """
    operation = operation_model(operation_name)
    auth = getattr(operation, "auth", None) or ()  # older botocore has no `auth`
    return operation.auth_type == "none" or _NO_AUTH in auth


def public_operations() -> frozenset[str]:
    return frozenset(name for name in operation_names() if is_public(name))
