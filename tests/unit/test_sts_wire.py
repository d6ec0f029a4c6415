"""idpool's STS wire: what botocore's own Query parser reads back, and the form decoder's errors."""

from __future__ import annotations

import pytest
from botocore.parsers import QueryParser

from idpool.domain.errors import InvalidAction, StsAccessDenied, StsValidationError
from idpool.domain.records import VerifiedLogin
from idpool.service.credentials import authentication_provider
from idpool.wire import sts


def _parse(operation: str, status: int, body: bytes) -> dict[str, object]:
    model = sts.sts_model().operation_model(operation)
    response = {"status_code": status, "headers": {}, "body": body}
    return dict(QueryParser().parse(response, model.output_shape))


def test_result_xml_is_what_botocore_parses() -> None:
    body = sts.encode_result(
        "GetCallerIdentity",
        {"UserId": "AROAX:s", "Account": "123456789012", "Arn": "arn:aws:sts::1:a<&>"},
        "req-1",
    )
    parsed = _parse("GetCallerIdentity", 200, body)
    assert parsed["Arn"] == "arn:aws:sts::1:a<&>"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"  # type: ignore[index]


def test_error_xml_carries_code_message_and_status() -> None:
    status, body = sts.encode_error(StsAccessDenied("Not authorized <x>"), "req-2")
    assert status == 403
    parsed = _parse("AssumeRoleWithWebIdentity", status, body)
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "AccessDenied",
        "Message": "Not authorized <x>",
    }


def test_model_statuses_are_used() -> None:
    from idpool.domain.errors import InvalidIdentityTokenError

    assert sts.encode_error(InvalidIdentityTokenError("x"), "r")[0] == 400


@pytest.mark.parametrize(
    ("body", "error", "fragment"),
    [
        (
            b"Action=AssumeRole&Version=2011-06-15",
            InvalidAction,
            "Could not find operation AssumeRole",
        ),
        (b"Action=GetCallerIdentity&Version=2010-01-01", InvalidAction, "for version 2010-01-01"),
        (b"\xff\xfe", InvalidAction, "not a valid form"),
        (
            b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/r"
            b"&RoleSessionName=ok&WebIdentityToken=abcd&DurationSeconds=ten",
            StsValidationError,
            "at 'durationSeconds' failed to satisfy constraint: Member must be a number",
        ),
        (
            b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleSessionName=ok",
            StsValidationError,
            "Value null at 'roleArn' failed to satisfy constraint: Member must not be null",
        ),
        (
            b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn:aws:iam::123456789012:role/r"
            b"&RoleSessionName=ok&WebIdentityToken=abcd&PolicyArns.member.1.arn=x",
            StsValidationError,
            "Session policies",
        ),
    ],
)
def test_decode_refuses_with_sts_errors(body: bytes, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=None) as caught:
        sts.decode(body)
    assert fragment in str(caught.value)


def test_decode_types_members_by_the_model() -> None:
    action, params = sts.decode(
        b"Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr"
        b"&RoleSessionName=ok&WebIdentityToken=abcd&DurationSeconds=900&Unknown=1"
    )
    assert action == "AssumeRoleWithWebIdentity"
    assert params == {
        "RoleArn": "arn:aws:iam::123456789012:role/r",
        "RoleSessionName": "ok",
        "WebIdentityToken": "abcd",
        "DurationSeconds": 900,
    }


def test_authentication_provider_in_api_gateway_form() -> None:
    user_pool = "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC"
    logins = [
        VerifiedLogin(provider=user_pool, subject="sub-1"),
        VerifiedLogin("graph.facebook.com", "f"),
    ]
    assert authentication_provider(logins) == (
        f"{user_pool},{user_pool}:CognitoSignIn:sub-1,graph.facebook.com"
    )
    assert authentication_provider([]) == ""
