"""Properties of the constraint checker over all 23 operations, from strategies built on shapes."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idpool.domain.errors import SerializationException
from idpool.wire.constraints import compile_checkers, validation_message
from idpool.wire.model import operation_names, service_model
from tests.wire.strategies import (
    Mutation,
    fuzzed_input,
    invalid_input,
    json_values,
    valid_input,
)

CHECKERS = compile_checkers(service_model())
OPERATIONS = st.sampled_from(operation_names())
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _tagged(strategy: Any) -> Any:
    return OPERATIONS.flatmap(lambda op: st.tuples(st.just(op), strategy(op)))


@PROPERTY
@given(_tagged(valid_input))
def test_valid_input_has_no_clauses(case: tuple[str, dict[str, Any]]) -> None:
    operation, params = case
    assert CHECKERS[operation].check(params) == []


@PROPERTY
@given(_tagged(invalid_input))
def test_one_broken_member_gives_one_clause_naming_it(case: tuple[str, Mutation]) -> None:
    operation, mutation = case
    found = CHECKERS[operation].check(mutation.params)
    assert len(found) == 1, (mutation.kind, mutation.path, found)
    clause = found[0]
    assert f" at '{mutation.path}' failed to satisfy constraint: " in clause
    assert mutation.fragment in clause
    assert validation_message(found).startswith("1 validation error detected: Value")


@PROPERTY
@given(st.one_of(_tagged(fuzzed_input), _tagged(lambda _: json_values())))
def test_any_json_gives_clauses_or_a_serialization_error(case: tuple[str, Any]) -> None:
    operation, params = case
    try:
        found = CHECKERS[operation].check(params)
    except SerializationException as error:
        assert error.message
        return
    assert all(
        isinstance(clause, str) and " failed to satisfy constraint: " in clause for clause in found
    )
    if found:
        validation_message(found)
