"""Hypothesis strategies built from botocore's shapes, for any of the 23 operations.

* `valid_input(op)`   params that satisfy every modelled constraint of the operation's input.
* `invalid_input(op)` a `Mutation`: valid params with exactly one member broken (too long or
  short, pattern, range, enum, list/map size, missing required member, bad map key), plus the
  member path and clause text the ValidationException must name.
* `fuzzed_input(op)`  shape-guided junk: modelled member names carrying arbitrary JSON at any
  depth, with unknown members mixed in; for "never crashes" properties.
* `json_values()`     arbitrary JSON documents.

Strings are generated from the model's patterns with Java's ASCII meaning of `\\w`, `\\d`, `\\s`.
Patterns Python's `re` cannot compile (ClaimName's `\\p{L}` classes) are generated from a safe
ASCII alphabet and filtered through the checker's own `java_regex`.
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import regex
from botocore.model import Shape
from hypothesis import strategies as st

from idpool.wire.constraint_nodes import NOT_NULL
from idpool.wire.java import java_regex
from idpool.wire.model import operation_model

SearchStrategy = st.SearchStrategy

# Letters, digits, punctuation and symbols: inside every Unicode-class pattern of the model.
_SAFE_ALPHABET = string.ascii_letters + string.digits + string.punctuation
# Characters tried, in order, to break a pattern without changing a value's length.
_PATTERN_BREAKERS = (" ", "!", "a", "\x00", "~", "#", ":")
_UNBOUNDED_EXTRA = 24
_MAX_COLLECTION_EXTRA = 3
_NOT_IN_ENUM = "NotAModelledEnumValue"

Locator = tuple[Any, ...]


@dataclass(frozen=True)
class Mutation:
    """Valid params with one member broken, and what the single clause must say."""

    params: dict[str, Any]
    path: str
    fragment: str
    kind: str


# --- valid values -------------------------------------------------------------------------------


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _java_pattern(shape: Shape) -> regex.Pattern[str] | None:
    pattern = shape.metadata.get("pattern")
    return None if pattern is None else java_regex(pattern)


def _length_bounds(shape: Shape) -> tuple[int, int]:
    low = int(shape.metadata.get("min", 0))
    high = shape.metadata.get("max")
    return low, (low + _UNBOUNDED_EXTRA if high is None else int(high))


def _strings(shape: Shape) -> SearchStrategy[str]:
    if shape.enum:
        return st.sampled_from(list(shape.enum))
    low, high = _length_bounds(shape)
    checker = _java_pattern(shape)
    if checker is None:
        text = st.characters(exclude_categories=["Cs"])
        return st.text(alphabet=text, min_size=low, max_size=min(high, low + _UNBOUNDED_EXTRA))
    pattern = shape.metadata["pattern"]
    try:
        base = st.from_regex(re.compile(pattern, re.ASCII), fullmatch=True)
    except re.error:
        size = min(high, max(low, 1) + _UNBOUNDED_EXTRA)
        base = st.text(alphabet=_SAFE_ALPHABET, min_size=max(low, 1), max_size=size)
    return base.filter(lambda s: low <= len(s) <= high and checker.fullmatch(s) is not None)


def _numbers(shape: Shape) -> SearchStrategy[Any]:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    if shape.type_name in ("integer", "long"):
        return st.integers(
            min_value=-(2**31) if low is None else low,
            max_value=2**31 - 1 if high is None else high,
        )
    return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)


@cache
def shape_values(shape: Shape) -> SearchStrategy[Any]:
    """Values of `shape` that satisfy all of its constraints."""
    kind = shape.type_name
    if kind == "structure":
        required = set(shape.required_members)
        members = {name: shape_values(member) for name, member in shape.members.items()}
        return st.fixed_dictionaries(
            {name: s for name, s in members.items() if name in required},
            optional={name: s for name, s in members.items() if name not in required},
        )
    if kind in ("list", "map"):
        low, high = _length_bounds(shape)
        high = min(high, low + _MAX_COLLECTION_EXTRA)
        if kind == "list":
            return st.lists(shape_values(shape.member), min_size=low, max_size=high)
        return st.dictionaries(
            shape_values(shape.key), shape_values(shape.value), min_size=low, max_size=high
        )
    if kind == "string":
        return _strings(shape)
    if kind in ("integer", "long", "float", "double"):
        return _numbers(shape)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(min_value=0, max_value=2**32)
    return st.text(alphabet=string.ascii_letters)


def _input_shape(operation_name: str) -> Shape:
    return operation_model(operation_name).input_shape


def valid_input(operation_name: str) -> SearchStrategy[dict[str, Any]]:
    return shape_values(_input_shape(operation_name))


# --- one broken member --------------------------------------------------------------------------

_Edit = Callable[[dict[str, Any]], None]
# (AWS member path, text the clause must contain, kind, edit applied to a deep copy)
_Candidate = tuple[str, str, str, _Edit]


def _container(params: dict[str, Any], locator: Locator) -> Any:
    node: Any = params
    for step in locator:
        node = node[step]
    return node


def _setter(locator: Locator, value: Any) -> _Edit:
    def edit(params: dict[str, Any]) -> None:
        _container(params, locator[:-1])[locator[-1]] = value

    return edit


def _deleter(locator: Locator) -> _Edit:
    def edit(params: dict[str, Any]) -> None:
        del _container(params, locator[:-1])[locator[-1]]

    return edit


def _key_renamer(locator: Locator, old: str, new: str) -> _Edit:
    def edit(params: dict[str, Any]) -> None:
        mapping = _container(params, locator)
        mapping[new] = mapping.pop(old)

    return edit


def _scalar_breaks(shape: Shape, value: Any) -> list[tuple[str, Any, str]]:
    """(kind, broken value, clause text) for each way to break exactly one rule of `value`."""
    meta = shape.metadata
    breaks: list[tuple[str, Any, str]] = []
    if shape.type_name in ("integer", "long"):
        if "max" in meta:
            text = f"Member must have value less than or equal to {meta['max']}"
            breaks.append(("above_max", meta["max"] + 1, text))
        if "min" in meta:
            text = f"Member must have value greater than or equal to {meta['min']}"
            breaks.append(("below_min", meta["min"] - 1, text))
        return breaks
    if shape.type_name != "string":
        return breaks
    if shape.enum:
        enum = ", ".join(shape.enum)
        breaks.append(("enum", _NOT_IN_ENUM, f"Member must satisfy enum value set: [{enum}]"))
        return breaks
    checker = _java_pattern(shape)
    if "max" in meta:
        longer = value + (value[-1:] or "a") * (meta["max"] + 1 - len(value))
        if checker is None or checker.fullmatch(longer):
            text = f"Member must have length less than or equal to {meta['max']}"
            breaks.append(("too_long", longer, text))
    if meta.get("min", 0) > 0 and checker is None:
        text = f"Member must have length greater than or equal to {meta['min']}"
        breaks.append(("too_short", value[: meta["min"] - 1], text))
    if checker is not None and value:
        for char in _PATTERN_BREAKERS:
            broken = char + value[1:]
            if checker.fullmatch(broken) is None:
                text = f"Member must satisfy regular expression pattern: {meta['pattern']}"
                breaks.append(("pattern", broken, text))
                break
    return breaks


def _size_breaks(shape: Shape, value: Any) -> list[tuple[str, Any, str]]:
    low = shape.metadata.get("min", 0)
    high = shape.metadata.get("max")
    breaks: list[tuple[str, Any, str]] = []
    if low > 0:
        shorter = list(value)[: low - 1]
        fewer = shorter if shape.type_name == "list" else {k: value[k] for k in shorter}
        text = f"Member must have length greater than or equal to {low}"
        breaks.append(("too_few", fewer, text))
    if high is None or not value:
        return breaks
    text = f"Member must have length less than or equal to {high}"
    missing = high + 1 - len(value)
    if shape.type_name == "list":
        breaks.append(("too_many", list(value) + [value[0]] * missing, text))
        return breaks
    key = shape.key
    if key.enum or "pattern" in key.metadata:
        return breaks  # the key language may be too small (RolesMap has two possible keys)
    filler = next(iter(value.values()))
    extra = [f"extra-key-{i}" for i in range(missing + len(value))]
    new_keys = [k for k in extra if k not in value][:missing]
    low_key, high_key = _length_bounds(key)
    if all(low_key <= len(k) <= high_key for k in new_keys):
        breaks.append(("too_many", {**value, **dict.fromkeys(new_keys, filler)}, text))
    return breaks


def _candidates(
    shape: Shape, value: Any, locator: Locator, path: str, role: str, out: list[_Candidate]
) -> None:
    """Every single-member break reachable at `value`, which satisfies `shape`."""
    kind = shape.type_name
    if kind == "structure":
        prefix = f"{path}." if path else ""
        for name in shape.required_members:
            out.append(
                (prefix + _lower_camel(name), NOT_NULL, "missing", _deleter((*locator, name)))
            )
        for name, member in shape.members.items():
            if value.get(name) is not None:
                member_path = prefix + _lower_camel(name)
                _candidates(member, value[name], (*locator, name), member_path, "member", out)
        return
    if kind in ("list", "map"):
        for size_kind, broken, text in _size_breaks(shape, value):
            out.append((path, text, size_kind, _setter(locator, broken)))
    if kind == "list":
        item = shape.member
        scalar = item.type_name not in ("structure", "list", "map")
        for index, element in enumerate(value):
            item_path = path if scalar else f"{path}.{index + 1}.member"
            _candidates(item, element, (*locator, index), item_path, "item", out)
        return
    if kind == "map":
        for key in value:
            for key_kind, new_key, _ in _scalar_breaks(shape.key, key):
                if new_key not in value:
                    edit = _key_renamer(locator, key, new_key)
                    out.append(
                        (path, "Map keys must satisfy constraint: [", f"key_{key_kind}", edit)
                    )
        item = shape.value
        scalar = item.type_name not in ("structure", "list", "map")
        for key, element in value.items():
            item_path = path if scalar else f"{path}.{key}.member"
            _candidates(item, element, (*locator, key), item_path, "value", out)
        return
    # A scalar inside a list or map is reported for the whole collection, with every rule.
    collection_text = {
        "item": "Member must satisfy constraint: [",
        "value": "Map value must satisfy constraint: [",
    }.get(role)
    for break_kind, broken, text in _scalar_breaks(shape, value):
        out.append((path, collection_text or text, break_kind, _setter(locator, broken)))


def _apply(params: dict[str, Any], candidate: _Candidate) -> Mutation:
    path, fragment, kind, edit = candidate
    broken = copy.deepcopy(params)
    edit(broken)
    return Mutation(broken, path, fragment, kind)


def invalid_input(operation_name: str) -> SearchStrategy[Mutation]:
    shape = _input_shape(operation_name)

    def mutations(params: dict[str, Any]) -> SearchStrategy[Mutation]:
        found: list[_Candidate] = []
        _candidates(shape, params, (), "", "member", found)
        # Kind first, so that rare kinds (enum, map keys) are not drowned by `missing`.
        by_kind: dict[str, list[_Candidate]] = {}
        for candidate in found:
            by_kind.setdefault(candidate[2], []).append(candidate)
        kinds = st.sampled_from(sorted(by_kind))
        chosen = kinds.flatmap(lambda kind: st.sampled_from(by_kind[kind]))
        return chosen.map(lambda candidate: _apply(params, candidate))

    return valid_input(operation_name).flatmap(mutations)


# --- junk ---------------------------------------------------------------------------------------


def json_values(max_leaves: int = 12) -> SearchStrategy[Any]:
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=12)
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )


@cache
def _fuzz(shape: Shape) -> SearchStrategy[Any]:
    kind = shape.type_name
    junk = json_values(max_leaves=4)
    if kind == "structure":
        members = {name: _fuzz(member) for name, member in shape.members.items()}
        modelled = st.fixed_dictionaries({}, optional=members)
        unknown = st.dictionaries(st.text(max_size=6), junk, max_size=2)
        merged = st.builds(lambda known, extra: {**extra, **known}, modelled, unknown)
        return st.one_of(merged, merged, junk)
    if kind == "list":
        return st.one_of(st.lists(_fuzz(shape.member), max_size=4), junk)
    if kind == "map":
        keys = st.one_of(shape_values(shape.key), st.text(max_size=6))
        return st.one_of(st.dictionaries(keys, _fuzz(shape.value), max_size=4), junk)
    return st.one_of(shape_values(shape), shape_values(shape), junk)


def fuzzed_input(operation_name: str) -> SearchStrategy[Any]:
    return _fuzz(_input_shape(operation_name))
