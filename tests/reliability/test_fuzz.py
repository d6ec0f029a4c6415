"""Fuzzing all 23 operations over raw HTTP: whatever arrives, the answer is AWS-shaped, never 5xx.

Bounded for CI (a few dozen examples per operation and property, derandomized so a run is
reproducible). The long run sets IDPOOL_FUZZ_EXAMPLES (e.g. 400), which also switches to
random seeds; docs/reliability.md records its last result.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.conftest import DEV, FB, FUZZ_ACCOUNT, Targets, assert_still_serving
from tests.reliability.hostile import hostile_input, to_body
from tests.reliability.support import api_headers, assert_aws_answer, aws_error, service_model
from tests.wire import strategies

OPERATIONS = sorted(service_model().operation_names)
LONG_RUN = "IDPOOL_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("IDPOOL_FUZZ_EXAMPLES", "25"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=list(HealthCheck),
)


# Members that name an existing resource or a configured provider: aiming some examples at real
# ones gets them past "not found" and "logins don't match" into the service code.
def _aimed_values(targets: Targets, operation: str) -> dict[str, Any]:
    developer = operation == "GetOpenIdTokenForDeveloperIdentity"
    return {
        "IdentityPoolId": targets.pool_id,
        "IdentityId": targets.member_id,
        "ResourceArn": targets.pool_arn,
        "IdentityIdsToDelete": [targets.guest_id],
        "Logins": {DEV: "fuzz-dev"} if developer else {FB: "fuzz-user"},
        "LoginsToRemove": [FB],
        "DeveloperProviderName": DEV,
        "DeveloperUserIdentifier": "fuzz-dev",
        "SourceUserIdentifier": "fuzz-dev",
        "DestinationUserIdentifier": "fuzz-dev-2",
        "IdentityProviderName": FB,
    }


AIMABLE = sorted(_aimed_values(Targets("", "", "", ""), "").keys())


def aim(
    params: dict[str, Any], targets: Targets, operation: str, which: frozenset[str]
) -> dict[str, Any]:
    real = _aimed_values(targets, operation)
    return {name: real[name] if name in which else value for name, value in params.items()}


def send(
    client: httpx.Client, operation: str, body: bytes, *, signed: bool | None
) -> httpx.Response:
    headers = api_headers(
        str(client.base_url), operation, body, access_key=FUZZ_ACCOUNT, sign=signed
    )
    return client.post("/", content=body, headers=headers)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_hostile_members(operation: str, http: httpx.Client, targets: Targets) -> None:
    """Wrong types, huge/odd strings, big numbers, NaN, extra members: AWS errors or a real 2xx."""

    @FUZZ
    @given(
        params=hostile_input(operation),
        aimed=st.frozensets(st.sampled_from(AIMABLE)),
        ascii_only=st.booleans(),
        signed=st.sampled_from([None, None, True, False]),
    )
    def prop(
        params: dict[str, Any], aimed: frozenset[str], ascii_only: bool, signed: bool | None
    ) -> None:
        body = to_body(aim(params, targets, operation, aimed), ascii_only)
        assert_aws_answer(send(http, operation, body, signed=signed), operation)

    prop()
    assert_still_serving(http)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_valid_input(operation: str, http: httpx.Client, targets: Targets) -> None:
    """Model-valid input, often aimed at real resources: a correct 2xx or a modelled 4xx."""
    seen: set[int] = set()

    @FUZZ
    @given(
        params=strategies.valid_input(operation),
        aimed=st.frozensets(st.sampled_from(AIMABLE)),
    )
    def prop(params: dict[str, Any], aimed: frozenset[str]) -> None:
        body = to_body(aim(params, targets, operation, aimed), ascii_only=False)
        response = send(http, operation, body, signed=None)
        assert_aws_answer(response, operation)
        if response.status_code >= 400:
            # Valid input never fails validation: any refusal is a semantic one.
            assert aws_error(response)[0] != "ValidationException", response.text
        seen.add(response.status_code)

    prop()
    assert_still_serving(http)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_one_broken_member(operation: str, http: httpx.Client) -> None:
    """Exactly one broken member: a ValidationException naming that member and the rule."""

    @FUZZ
    @given(mutation=strategies.invalid_input(operation))
    def prop(mutation: strategies.Mutation) -> None:
        response = send(http, operation, to_body(mutation.params, ascii_only=False), signed=None)
        assert_aws_answer(response, operation)
        code, message = aws_error(response)
        assert code == "ValidationException", (mutation, message)
        assert message.startswith("1 validation error detected: "), (mutation, message)
        assert f"at '{mutation.path}'" in message and mutation.fragment in message, (
            mutation,
            message,
        )

    prop()


@pytest.mark.parametrize("operation", OPERATIONS)
def test_shape_guided_junk(operation: str, http: httpx.Client) -> None:
    """The wire engineer's junk generator: any JSON at any depth under the modelled names."""

    @FUZZ
    @given(document=strategies.fuzzed_input(operation))
    def prop(document: Any) -> None:
        response = send(http, operation, to_body(document, ascii_only=True), signed=None)
        assert_aws_answer(response, operation)

    prop()
