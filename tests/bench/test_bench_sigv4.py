"""The benchmark's fast SigV4 signer must produce exactly botocore's signature.

If it did not, a strict-mode server would reject every signed benchmark request and the
benchmark would measure error handling instead of the operation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.client import Endpoint
from bench.sigv4_fast import CONTENT_TYPE, FastSigner, body_hash
from bench.wire import TARGET_PREFIX, Credentials, RequestBuilder

OPERATIONS = ["GetOpenIdTokenForDeveloperIdentity", "ListIdentities", "DescribeIdentity"]


def botocore_headers(
    url: str, target: str, body: bytes, access: str, secret: str, region: str, when: datetime
) -> dict[str, str]:
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": target},
    )
    naive = when.astimezone(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        SigV4Auth(BotoCredentials(access, secret), "cognito-identity", region).add_auth(request)
    return {
        "X-Amz-Date": request.headers["X-Amz-Date"],
        "Authorization": request.headers["Authorization"],
    }


@settings(max_examples=150, deadline=None)
@given(
    body=st.binary(max_size=300),
    operation=st.sampled_from(OPERATIONS),
    access=st.from_regex(r"[A-Z0-9]{4,20}", fullmatch=True),
    secret=st.text(
        st.characters(codec="ascii", exclude_characters="\x00"), min_size=1, max_size=40
    ),
    region=st.sampled_from(["us-east-1", "eu-west-3", "ap-southeast-2"]),
    port=st.integers(1, 65535),
    epoch=st.integers(1_600_000_000, 2_000_000_000),
)
def test_fast_signer_equals_botocore(
    body: bytes, operation: str, access: str, secret: str, region: str, port: int, epoch: int
) -> None:
    host = Endpoint.parse(f"http://127.0.0.1:{port}").netloc
    target = TARGET_PREFIX + operation
    amz_date, authorization = FastSigner(access, secret, region, host).sign(
        target, body_hash(body), now=epoch + 0.5
    )
    expected = botocore_headers(
        f"http://127.0.0.1:{port}/",
        target,
        body,
        access,
        secret,
        region,
        datetime.fromtimestamp(epoch, UTC),
    )
    assert amz_date == expected["X-Amz-Date"]
    assert authorization == expected["Authorization"]


def test_signer_rolls_date_and_scope_across_midnight() -> None:
    """The cached signing key is per day: a request after midnight must use the new scope."""
    signer = FastSigner("AKIDEXAMPLE", "secret", "us-east-1", "127.0.0.1:4599")
    before = datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC)
    after = datetime(2026, 11, 23, 0, 0, 1, tzinfo=UTC)
    target = TARGET_PREFIX + "ListIdentities"
    digest = body_hash(b"{}")
    for when in (before, after, before):
        date, authorization = signer.sign(target, digest, now=when.timestamp())
        expected = botocore_headers(
            "http://127.0.0.1:4599/", target, b"{}", "AKIDEXAMPLE", "secret", "us-east-1", when
        )
        assert (date, authorization) == (expected["X-Amz-Date"], expected["Authorization"])


def test_signed_request_bytes_carry_the_signed_headers() -> None:
    """The wire request has exactly the header values that were signed, and the body after them."""
    endpoint = Endpoint.parse("http://127.0.0.1:4599")
    builder = RequestBuilder(endpoint, Credentials("AKIDEXAMPLE", "secret", "eu-west-1"))
    body = b'{"IdentityPoolId":"eu-west-1:x","MaxResults":60}'
    with mock.patch("bench.sigv4_fast.time.time", return_value=1_790_000_000.25):
        raw = builder.signed("ListIdentities", body)
    head, _, sent_body = raw.partition(b"\r\n\r\n")
    assert sent_body == body
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST / HTTP/1.1"
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Host"] == "127.0.0.1:4599"
    assert headers["Content-Length"] == str(len(body))
    expected = botocore_headers(
        "http://127.0.0.1:4599/",
        headers["X-Amz-Target"],
        body,
        "AKIDEXAMPLE",
        "secret",
        "eu-west-1",
        datetime.fromtimestamp(1_790_000_000, UTC),
    )
    assert headers["X-Amz-Date"] == expected["X-Amz-Date"]
    assert headers["Authorization"] == expected["Authorization"]


def test_host_header_is_the_one_botocore_signs() -> None:
    """botocore leaves the default port out of Host; signing "host:80" would not verify."""
    assert Endpoint.parse("http://127.0.0.1:80").netloc == "127.0.0.1"
    assert Endpoint.parse("http://127.0.0.1").netloc == "127.0.0.1"
    assert Endpoint.parse("http://127.0.0.1:4599/").netloc == "127.0.0.1:4599"
    assert Endpoint.parse("http://[::1]:4599").netloc == "[::1]:4599"
