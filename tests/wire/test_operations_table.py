"""The 23-row operations table: one row per operation of the model, each fact in its row."""

from __future__ import annotations

from idpool.service.rate_keys import RateKey
from idpool.wire.model import is_public, service_model
from idpool.wire.operations import OPERATIONS, Issues, published_rates


def test_operations_table_equals_the_model() -> None:
    assert set(OPERATIONS) == set(service_model().operation_names)
    assert len(OPERATIONS) == 23
    assert all(name == row.name for name, row in OPERATIONS.items())


def test_public_is_the_models_word() -> None:
    public = {name for name, row in OPERATIONS.items() if row.public}
    assert public == {name for name in service_model().operation_names if is_public(name)}
    assert public == {"GetId", "GetOpenIdToken", "GetCredentialsForIdentity", "UnlinkIdentity"}


def test_every_public_call_has_a_service_charged_quota_and_no_other_does() -> None:
    """The edge never throttles public calls: without a service key one would go unthrottled."""
    for row in OPERATIONS.values():
        assert (row.service_key is not None) == row.public, row.name
    assert {row.service_key for row in OPERATIONS.values() if row.service_key} == set(RateKey)


def test_rate_keys_are_distinct_and_the_rates_published() -> None:
    keys = [row.rate_key for row in OPERATIONS.values()]
    assert len(set(keys)) == len(keys)
    assert published_rates() == {
        "get-id": 25.0,
        "open-id-token": 200.0,
        "credentials": 200.0,
        "GetOpenIdTokenForDeveloperIdentity": 200.0,
        "TagResource": 5.0,
        "UntagResource": 5.0,
        "ListTagsForResource": 10.0,
    }


def test_what_each_operation_issues() -> None:
    issued = {name: row.issues for name, row in OPERATIONS.items() if row.issues}
    assert issued == {
        "GetOpenIdToken": Issues.TOKEN,
        "GetOpenIdTokenForDeveloperIdentity": Issues.TOKEN,
        "GetCredentialsForIdentity": Issues.CREDENTIALS,
    }
