"""Hostile request bodies, derived from botocore's input shapes: the attacker's view of the API.

tests/wire/strategies.py generates *plausible* input (valid, boundary, one field broken), which is
what proves the constraint checker right. This module generates what no SDK would send: every
member name the model knows, but filled with wrong types, huge and odd unicode strings, numbers
beyond 64 bits, NaN, deep nesting and unknown extra members. The server's only job with these is
to answer like AWS, quickly, and stay up.
"""

from __future__ import annotations

import json
import math
import operator
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

from tests.reliability.support import service_model

ODD_STRINGS = (
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: valid JSON escape, invalid UTF-16
    "\u202e\u200b\ufeff",
    "us-east-1:00000000-0000-0000-0000-000000000000",
    "us-east-1:ffffffff-ffff-ffff-ffff-ffffffffffff",
    "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/us-east-1:0-0",
    "graph.facebook.com",
    "cognito-identity.amazonaws.com",
    "' OR '1'='1' --",
    "%s%n%x",
    "../../../etc/passwd",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
)
# Repeated characters: emoji (4 UTF-8 bytes), just past common limits, digits for account ids.
REPEATED = st.builds(
    operator.mul,
    st.sampled_from(["\U0001f642", "A", "1", "\u00e9"]),
    st.sampled_from([55, 65, 129, 200, 2049]),
)

UNICODE = st.text(max_size=40) | st.sampled_from(ODD_STRINGS) | REPEATED
# Long strings are built by repetition: Hypothesis cannot draw 300 kB of choices per example.
HUGE = st.builds(operator.mul, st.text(min_size=1, max_size=3), st.integers(1_000, 120_000))
NUMBERS = (
    st.integers(-(2**80), 2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 1e308, -0.0, math.nan])
)
SMALL = st.none() | st.booleans() | st.integers() | UNICODE
SCALARS = st.none() | st.booleans() | NUMBERS | UNICODE | HUGE
ANY_JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(UNICODE, inner, max_size=4),
    max_leaves=10,
)


def _string(shape: Shape) -> st.SearchStrategy[Any]:
    options: list[st.SearchStrategy[Any]] = [UNICODE, HUGE]
    if shape.enum:
        options.append(st.sampled_from(list(shape.enum)))
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    for size in (low, high):
        if isinstance(size, int):
            # size - 1, size and size + 1 characters of one random character.
            options.append(
                st.builds(
                    operator.mul, st.characters(), st.sampled_from([size - 1, size, size + 1])
                )
            )
    return st.one_of(options)


def _integer(shape: Shape) -> st.SearchStrategy[Any]:
    edges = [
        edge + delta
        for edge in (shape.metadata.get("min"), shape.metadata.get("max"))
        if isinstance(edge, int)
        for delta in (-1, 0, 1)
    ]
    return NUMBERS | st.sampled_from(edges or [0])


def for_shape(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """Right type with wrong values most of the time, a wrong type the rest of the time."""
    if depth > 4:
        return ANY_JSON
    kind = shape.type_name
    typed: st.SearchStrategy[Any]
    if kind == "structure":
        typed = st.fixed_dictionaries(
            {},
            optional={name: for_shape(member, depth + 1) for name, member in shape.members.items()},
        )
    elif kind == "list":
        typed = st.lists(for_shape(shape.member, depth + 1), max_size=6) | st.builds(
            operator.mul, st.lists(SMALL, min_size=1, max_size=1), st.integers(50, 2_000)
        )
    elif kind == "map":
        typed = st.dictionaries(
            _string(shape.key) | UNICODE,
            for_shape(shape.value, depth + 1),
            max_size=6,
        )
    elif kind == "string":
        typed = _string(shape)
    elif kind in ("integer", "long"):
        typed = _integer(shape)
    elif kind == "boolean":
        typed = st.booleans()
    elif kind == "timestamp":
        typed = NUMBERS | UNICODE
    else:
        typed = ANY_JSON
    return st.one_of(typed, typed, typed, ANY_JSON)


def hostile_input(operation: str) -> st.SearchStrategy[dict[str, Any]]:
    """A top-level object: known members (hostile values) plus, sometimes, unknown ones."""
    shape = service_model().operation_model(operation).input_shape
    known = st.fixed_dictionaries(
        {}, optional={name: for_shape(member) for name, member in shape.members.items()}
    )
    extra = st.dictionaries(UNICODE, ANY_JSON, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


def to_body(document: Any, ascii_only: bool) -> bytes:
    """JSON the way a sloppy client might write it: NaN allowed, UTF-8 or \\u escapes."""
    if ascii_only:
        return json.dumps(document, ensure_ascii=True).encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


def nested(depth: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * depth + closer * depth).encode()


def nested_objects(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()
