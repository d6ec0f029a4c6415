"""Every error idpool answers with, as the AWS error code and message clients match on.

The service raises these; the wire layer turns them into `{"__type", "message"}` bodies and
picks the HTTP status from its own table, so nothing here knows about HTTP.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error that reaches the client with an AWS error code and a message."""

    code: str = "InternalErrorException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class InvalidParameterException(ServiceError):
    code = "InvalidParameterException"


class NotAuthorizedException(ServiceError):
    code = "NotAuthorizedException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ResourceConflictException(ServiceError):
    code = "ResourceConflictException"


class LimitExceededException(ServiceError):
    code = "LimitExceededException"


class TooManyRequestsException(ServiceError):
    code = "TooManyRequestsException"


class DeveloperUserAlreadyRegisteredException(ServiceError):
    code = "DeveloperUserAlreadyRegisteredException"


class ExternalServiceException(ServiceError):
    code = "ExternalServiceException"


class InvalidIdentityPoolConfigurationException(ServiceError):
    code = "InvalidIdentityPoolConfigurationException"


class InternalErrorException(ServiceError):
    code = "InternalErrorException"


class StoreFailure(InternalErrorException):
    """The store failed in a way that running the transaction again cannot fix: unreachable,
    no answer within the deadline, unable to write, a broken schema.

    Clients get the plain InternalErrorException; `cause` is one line for the operator's log
    (the driver's own words, never SQL text or parameters) and `cannot_write` says that the
    database refused to write (full disk, read-only) while it may still answer reads.
    """

    def __init__(self, cause: str, *, cannot_write: bool = False) -> None:
        super().__init__("The identity store is unavailable.")
        self.cause = cause
        self.cannot_write = cannot_write


# Protocol-level errors: raised by the wire and auth layers, never by business rules.


class ProtocolError(ServiceError):
    """One of AWS's common errors, answered before (or instead of) running an operation.

    Any operation may answer these (AWS lists them once, as the API's common errors), so they
    are not in an operation's model `errors`; every other ServiceError an operation raises
    must be (tests/reliability/support.py checks each answer against botocore's model).
    """


class ValidationException(ProtocolError):
    code = "ValidationException"


class SerializationException(ProtocolError):
    code = "SerializationException"


class UnknownOperationException(ProtocolError):
    code = "UnknownOperationException"


class MissingAuthenticationTokenException(ProtocolError):
    code = "MissingAuthenticationTokenException"


class IncompleteSignatureException(ProtocolError):
    code = "IncompleteSignatureException"


class InvalidSignatureException(ProtocolError):
    code = "InvalidSignatureException"


class UnrecognizedClientException(ProtocolError):
    code = "UnrecognizedClientException"


class ExpiredTokenException(ProtocolError):
    code = "ExpiredTokenException"


class AccessDeniedException(ProtocolError):
    code = "AccessDeniedException"


class RequestEntityTooLargeException(ProtocolError):
    code = "RequestEntityTooLargeException"


class RequestHeaderFieldsTooLargeException(ProtocolError):
    code = "RequestHeaderFieldsTooLargeException"


class RequestTimeoutException(ProtocolError):
    code = "RequestTimeoutException"


# Messages AWS is observed to send; kept in one place because clients branch on them.

UNAUTH_NOT_SUPPORTED = "Unauthenticated access is not supported for this identity pool."
LOGINS_DONT_MATCH = (
    "Logins don't match. Please include at least one valid login for this identity "
    "or identity pool."
)
INVALID_POOL_CONFIG = "Invalid identity pool configuration. Check assigned IAM roles for this pool."
CLASSIC_FLOW_DISABLED = "Basic (classic) flow is not enabled, please use enhanced flow."
CLASSIC_FLOW_ROLE_MAPPINGS = (
    "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow."
)
NOT_A_PUBLIC_PROVIDER = "Please provide a valid public provider."
UNSUPPORTED_DEVELOPER_PROVIDER = (
    "This identity pool does not support the specified developer provider."
)


def pool_not_found(pool_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"IdentityPool '{pool_id}' not found.")


def identity_not_found(identity_id: str) -> ResourceNotFoundException:
    return ResourceNotFoundException(f"Identity '{identity_id}' not found.")


def identity_forbidden(identity_id: str) -> NotAuthorizedException:
    return NotAuthorizedException(f"Access to Identity '{identity_id}' is forbidden.")


# --- idpool's STS endpoint (AWS Query protocol): STS's own error codes --------------------


class InvalidIdentityTokenError(ServiceError):
    code = "InvalidIdentityToken"


class StsAccessDenied(ServiceError):
    code = "AccessDenied"


class StsValidationError(ServiceError):
    code = "ValidationError"


class InvalidAction(ServiceError):
    code = "InvalidAction"


ASSUME_DENIED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
