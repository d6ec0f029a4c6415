"""Server-side checks of the model's input constraints, in the words of AWS's ValidationException.

botocore's client checks only `required` and minimums, and other clients check nothing, so the
server must enforce the whole model: required members, JSON types, string lengths (Unicode
code points), patterns, enums, numeric ranges and list/map sizes. Each operation's input shape
is compiled once, at start-up, into a tree of small checker nodes; a request walks that tree,
never the botocore shapes, and touches only the members the model knows.

    ConstraintChecker ── _StructNode ─┬─ _StringNode   length, pattern, enum
                                      ├─ _NumberNode   range (integer, long, double, float)
                                      ├─ _ScalarNode   boolean, timestamp, blob: type only
                                      ├─ _ListNode     size, then its items
                                      ├─ _MapNode      size, keys, values
                                      └─ _StructNode   required members, recursively

Conventions, each taken from real AWS answers (reference §1.4 and public threads):

* A clause reads `Value '<v>' at '<path>' failed to satisfy constraint: <text>`, `Value null at`
  for a missing member; the message is `N validation error(s) detected: ` + clauses joined
  by `; `. Every violated constraint is its own clause, so `''` for a `min 1` member with a
  pattern gives two (as cognito-idp answers for an empty ClientId). Clauses follow the
  model's member order.
* Paths are lowerCamelCase member names joined by dots (`sAMLOptions`: only the first letter
  changes). An item of a list of structures is `<list>.<n>.member` (1-based, `tags.6.member.value`);
  a structure value in a map is `<map>.<key>.member` (`requestItems.<table>.member.keys`).
* Scalar items of a list, and keys and scalar values of a map, are reported once for the whole
  collection, listing every constraint of the item shape:
  `Value '{k=}' at 'logins' failed to satisfy constraint: Map value must satisfy constraint:
  [Member must have length less than or equal to 50000, Member must have length greater than
  or equal to 1]` (seen verbatim from Cognito Identity, aws-amplify/amplify-js#7845), likewise
  `Map keys must satisfy constraint: [...]` and, for lists, `Member must satisfy constraint: [...]`.
  Constraint order inside the brackets is AWS's: length max, length min, pattern, value max,
  value min, enum. A null item adds `Member must not be null` (our choice: Coral lists it only
  where its model says the item is required; a null item is never valid for us).
* Sizes of lists and maps use the length wording (`Member must have length ...`).
* Values are shown as Java's toString would: `[a, b]`, `{k=v}`; a structure shows its modelled
  members present as `{Type=Token, AmbiguousRoleResolution=Deny}` (our choice).
* `sensitive` values (Logins tokens) are never echoed. A clause on a sensitive member itself
  says `Value at '<path>'` with no value, as AWS does for sensitive members; inside a rendered
  collection a non-empty sensitive value is shown as `***`, an empty one stays empty, which
  reproduces the real `{cognito-idp...=}` message above without ever printing a token.
* Unknown members are ignored, and a JSON null is the same as an absent member: AWS JSON
  services do both (measurements of Athena, another Coral JSON 1.1 service, published with a
  public emulator; the type-error texts below come from the same measurements).
* Type mismatches are not validation clauses: AWS fails the whole request while deserializing,
  before any constraint is checked, with a `SerializationException` whose message names the
  Jackson token: `STRING_VALUE can not be converted to an Integer`, `NUMBER_VALUE can not be
  converted to a String`, `TRUE_VALUE ...`, `Start of list found where not expected`,
  `Start of structure or map found where not expected.`, `Expected list or null` (scalar for a
  list), `Expected null` (scalar for a structure; we use it for maps too). `check` raises
  `idpool.domain.errors.SerializationException` with those texts at the first mismatch.
  One deliberate difference: AWS truncates a fraction given for an integer (1.5 → 1); we reject
  any JSON number with a fraction or exponent for integer/long members with
  `NUMBER_VALUE can not be converted to an Integer` (or `a Long`), so the service never sees a
  float where the model promises an integer.
* Patterns are whole-string matches with java.util.regex's defaults, which AWS's Java
  frameworks use: `\\w`, `\\d`, `\\s` and their negations are ASCII classes while `\\p{L}` and
  friends stay Unicode (`java_regex`; the `regex` package's ASCII flag would narrow `\\p{L}` too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import regex
from botocore.model import OperationModel, ServiceModel, Shape

from idpool.domain.errors import SerializationException, ValidationException

NOT_NULL = "Member must not be null"

# (member path, offending value or None, node that renders it, constraint text)
_Violation = tuple[str, Any, "_Node", str]


# --- patterns ----------------------------------------------------------------------------------

# java.util.regex shorthands without UNICODE_CHARACTER_CLASS, as class contents.
_JAVA_CLASSES = {
    "w": "a-zA-Z0-9_",
    "d": "0-9",
    "s": " \\t\\n\\x0B\\f\\r",
    "W": "\\x00-\\x2F\\x3A-\\x40\\x5B-\\x5E\\x60\\x7B-\\U0010FFFF",
    "D": "\\x00-\\x2F\\x3A-\\U0010FFFF",
    "S": "\\x00-\\x08\\x0E-\\x1F\\x21-\\U0010FFFF",
}


def java_regex(pattern: str) -> regex.Pattern[str]:
    """Compile a model pattern so that it matches what Java's default regex semantics match."""
    out: list[str] = []
    in_class = False
    class_start = 0
    after_shorthand = False  # Java reads `[\\w-z]` as \\w, '-', 'z', never as a range
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            escaped = pattern[index + 1]
            ranges = _JAVA_CLASSES.get(escaped)
            if ranges is None:
                out.append(pattern[index : index + 2])
            else:
                out.append(ranges if in_class else f"[{ranges}]")
            after_shorthand = ranges is not None and in_class
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
            class_start = index + 2 if pattern[index + 1 : index + 2] == "^" else index + 1
        elif char == "]" and in_class and index > class_start:
            in_class = False
        out.append("\\-" if char == "-" and after_shorthand else char)
        after_shorthand = False
        index += 1
    return regex.compile("".join(out))


# --- type errors --------------------------------------------------------------------------------


def _token(value: Any) -> str:
    """The Jackson token name AWS puts in its SerializationException messages."""
    if value is True:
        return "TRUE_VALUE"
    if value is False:
        return "FALSE_VALUE"
    if isinstance(value, str):
        return "STRING_VALUE"
    if isinstance(value, int | float):
        return "NUMBER_VALUE"
    return "VALUE"


def _scalar_mismatch(value: Any, target: str) -> SerializationException:
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    return SerializationException(f"{_token(value)} can not be converted to {target}")


def _container_mismatch(value: Any, *, is_list: bool) -> SerializationException:
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    return SerializationException("Expected list or null" if is_list else "Expected null")


# --- nodes --------------------------------------------------------------------------------------


class _Node:
    """One shape, compiled. `walk` type-checks a non-null value and records its violations."""

    __slots__ = ("sensitive", "texts")

    # Containers report their own items; scalars are reported by the collection holding them.
    is_container = False

    def __init__(self) -> None:
        self.sensitive = False
        # Every constraint of the shape, in AWS's order, for the `[...]` of collection clauses.
        self.texts: tuple[str, ...] = ()

    def type_check(self, value: Any) -> None:
        """Raise SerializationException when the JSON type is wrong; scalars only."""

    def failures(self, value: Any) -> list[str]:
        """Texts of the constraints a well-typed scalar value breaks."""
        return []

    def walk(self, value: Any, path: str, out: list[_Violation]) -> None:
        self.type_check(value)
        for text in self.failures(value):
            out.append((path, value, self, text))

    def render(self, value: Any) -> str:
        return _render_scalar(value)


def _render_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


class _AnyNode(_Node):
    """Document members: any JSON is accepted as is."""

    __slots__ = ()


class _ScalarNode(_Node):
    """Booleans, timestamps and blobs: the JSON type is all the model constrains."""

    __slots__ = ("_accepts", "_boolean", "_target")

    def __init__(self, accepts: tuple[type, ...], target: str, *, boolean: bool) -> None:
        super().__init__()
        self._accepts = accepts
        self._target = target
        # bool is an int subclass in Python, so "is it a JSON boolean" needs its own test.
        self._boolean = boolean

    def type_check(self, value: Any) -> None:
        if isinstance(value, bool) != self._boolean or not isinstance(value, self._accepts):
            raise _scalar_mismatch(value, self._target)


class _StringNode(_Node):
    __slots__ = ("_enum", "_enum_text", "_max", "_min", "_pattern", "_pattern_text")

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        meta = shape.metadata
        self.sensitive = bool(meta.get("sensitive"))
        self._min: int | None = meta.get("min")
        self._max: int | None = meta.get("max")
        pattern = meta.get("pattern")
        self._pattern = java_regex(pattern) if pattern is not None else None
        self._pattern_text = f"Member must satisfy regular expression pattern: {pattern}"
        enum = list(getattr(shape, "enum", None) or ())
        self._enum = frozenset(enum)
        self._enum_text = f"Member must satisfy enum value set: [{', '.join(enum)}]"
        texts = []
        if self._max is not None:
            texts.append(_max_length(self._max))
        if self._min is not None:
            texts.append(_min_length(self._min))
        if self._pattern is not None:
            texts.append(self._pattern_text)
        if self._enum:
            texts.append(self._enum_text)
        self.texts = tuple(texts)

    def type_check(self, value: Any) -> None:
        if not isinstance(value, str):
            raise _scalar_mismatch(value, "a String")

    def failures(self, value: Any) -> list[str]:
        found = []
        length = len(value)
        if self._max is not None and length > self._max:
            found.append(_max_length(self._max))
        if self._min is not None and length < self._min:
            found.append(_min_length(self._min))
        if self._pattern is not None and self._pattern.fullmatch(value) is None:
            found.append(self._pattern_text)
        if self._enum and value not in self._enum:
            found.append(self._enum_text)
        return found

    def render(self, value: Any) -> str:
        if self.sensitive and value:
            return "***"
        return _render_scalar(value)


class _NumberNode(_Node):
    __slots__ = ("_integral", "_max", "_min", "_target")

    def __init__(self, shape: Shape) -> None:
        super().__init__()
        meta = shape.metadata
        self.sensitive = bool(meta.get("sensitive"))
        self._integral = shape.type_name in ("integer", "long")
        self._target = {
            "integer": "an Integer",
            "long": "a Long",
            "float": "a Float",
            "double": "a Double",
        }[shape.type_name]
        self._min: int | float | None = meta.get("min")
        self._max: int | float | None = meta.get("max")
        texts = []
        if self._max is not None:
            texts.append(f"Member must have value less than or equal to {self._max}")
        if self._min is not None:
            texts.append(f"Member must have value greater than or equal to {self._min}")
        self.texts = tuple(texts)

    def type_check(self, value: Any) -> None:
        accepted = (int,) if self._integral else (int, float)
        if isinstance(value, bool) or not isinstance(value, accepted):
            raise _scalar_mismatch(value, self._target)

    def failures(self, value: Any) -> list[str]:
        found = []
        if self._max is not None and value > self._max:
            found.append(self.texts[0])
        if self._min is not None and value < self._min:
            found.append(self.texts[-1])
        return found


class _ListNode(_Node):
    __slots__ = ("_max", "_min", "item")

    is_container = True

    def __init__(self, shape: Shape, item: _Node) -> None:
        super().__init__()
        self._min: int | None = shape.metadata.get("min")
        self._max: int | None = shape.metadata.get("max")
        self.item = item

    def walk(self, value: Any, path: str, out: list[_Violation]) -> None:
        if not isinstance(value, list):
            raise _container_mismatch(value, is_list=True)
        _size_violations(self, value, path, self._min, self._max, out)
        item = self.item
        if item.is_container:
            for index, element in enumerate(value, start=1):
                element_path = f"{path}.{index}.member"
                if element is None:
                    out.append((element_path, None, item, NOT_NULL))
                else:
                    item.walk(element, element_path, out)
            return
        broken, has_null = _scan_scalars(item, value)
        if broken or has_null:
            text = f"Member must satisfy constraint: {_bracket(item, has_null)}"
            out.append((path, value, self, text))

    def render(self, value: Any) -> str:
        return "[" + ", ".join(_render_item(self.item, element) for element in value) + "]"


class _MapNode(_Node):
    __slots__ = ("_max", "_min", "key", "value")

    is_container = True

    def __init__(self, shape: Shape, key: _Node, value: _Node) -> None:
        super().__init__()
        self._min: int | None = shape.metadata.get("min")
        self._max: int | None = shape.metadata.get("max")
        self.key = key
        self.value = value

    def walk(self, value: Any, path: str, out: list[_Violation]) -> None:
        if not isinstance(value, dict):
            raise _container_mismatch(value, is_list=False)
        _size_violations(self, value, path, self._min, self._max, out)
        keys_broken, _ = _scan_scalars(self.key, value)
        if keys_broken:
            text = f"Map keys must satisfy constraint: {_bracket(self.key, False)}"
            out.append((path, value, self, text))
        item = self.value
        if item.is_container:
            for key, element in value.items():
                element_path = f"{path}.{key}.member"
                if element is None:
                    out.append((element_path, None, item, NOT_NULL))
                else:
                    item.walk(element, element_path, out)
            return
        broken, has_null = _scan_scalars(item, value.values())
        if broken or has_null:
            text = f"Map value must satisfy constraint: {_bracket(item, has_null)}"
            out.append((path, value, self, text))

    def render(self, value: Any) -> str:
        entries = (
            f"{_render_item(self.key, key)}={_render_item(self.value, element)}"
            for key, element in value.items()
        )
        return "{" + ", ".join(entries) + "}"


class _StructNode(_Node):
    __slots__ = ("members",)

    is_container = True

    def __init__(self) -> None:
        super().__init__()
        # (model name, lowerCamel path segment, node, required); filled after registration so
        # that a recursive shape compiles to a cycle instead of recursing forever.
        self.members: tuple[tuple[str, str, _Node, bool], ...] = ()

    def walk(self, value: Any, path: str, out: list[_Violation]) -> None:
        if not isinstance(value, dict):
            raise _container_mismatch(value, is_list=False)
        prefix = f"{path}." if path else ""
        for name, segment, node, required in self.members:
            member = value.get(name)
            if member is None:
                if required:
                    out.append((prefix + segment, None, node, NOT_NULL))
            else:
                node.walk(member, prefix + segment, out)

    def render(self, value: Any) -> str:
        entries = (
            f"{name}={_render_item(node, value[name])}"
            for name, _, node, _ in self.members
            if value.get(name) is not None
        )
        return "{" + ", ".join(entries) + "}"


def _max_length(limit: int) -> str:
    return f"Member must have length less than or equal to {limit}"


def _min_length(limit: int) -> str:
    return f"Member must have length greater than or equal to {limit}"


def _size_violations(
    node: _Node,
    value: list[Any] | dict[str, Any],
    path: str,
    minimum: int | None,
    maximum: int | None,
    out: list[_Violation],
) -> None:
    size = len(value)
    if maximum is not None and size > maximum:
        out.append((path, value, node, _max_length(maximum)))
    if minimum is not None and size < minimum:
        out.append((path, value, node, _min_length(minimum)))


def _scan_scalars(item: _Node, values: Any) -> tuple[bool, bool]:
    """Type-check every scalar item (a type error anywhere wins) and say if any breaks a rule."""
    broken = False
    has_null = False
    for element in values:
        if element is None:
            has_null = True
            continue
        item.type_check(element)
        if not broken and item.failures(element):
            broken = True
    return broken, has_null


def _bracket(item: _Node, has_null: bool) -> str:
    texts = (*item.texts, NOT_NULL) if has_null else item.texts
    return "[" + ", ".join(texts) + "]"


def _render_item(node: _Node, value: Any) -> str:
    return "null" if value is None else node.render(value)


# --- compiling ----------------------------------------------------------------------------------

_Compiled = dict[str, _Node]


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _compile(shape: Shape, compiled: _Compiled) -> _Node:
    known = compiled.get(shape.name)
    if known is not None:
        return known
    kind = shape.type_name
    node: _Node
    if kind == "structure" and shape.metadata.get("document"):
        node = _AnyNode()
    elif kind == "structure":
        struct = _StructNode()
        compiled[shape.name] = struct
        required = set(shape.required_members)
        struct.members = tuple(
            (name, _lower_camel(name), _compile(member, compiled), name in required)
            for name, member in shape.members.items()
        )
        return struct
    elif kind == "list":
        node = _ListNode(shape, _compile(shape.member, compiled))
    elif kind == "map":
        node = _MapNode(
            shape,
            _compile(shape.key, compiled),
            _compile(shape.value, compiled),
        )
    elif kind == "string":
        node = _StringNode(shape)
    elif kind in ("integer", "long", "float", "double"):
        node = _NumberNode(shape)
    elif kind == "boolean":
        node = _ScalarNode((bool,), "a Boolean", boolean=True)
    elif kind == "timestamp":
        # JSON 1.1 sends timestamps as epoch seconds.
        node = _ScalarNode((int, float), "a Date", boolean=False)
    elif kind == "blob":
        node = _ScalarNode((str,), "a ByteBuffer", boolean=False)
    else:
        node = _AnyNode()
    compiled[shape.name] = node
    return node


# --- public API ---------------------------------------------------------------------------------


class ConstraintChecker:
    """The compiled input constraints of one operation."""

    __slots__ = ("_root", "operation_name")

    def __init__(self, operation: OperationModel, *, _shared: _Compiled | None = None) -> None:
        self.operation_name: str = operation.name
        shape = operation.input_shape
        compiled = _shared if _shared is not None else {}
        self._root: _Node = _compile(shape, compiled) if shape is not None else _AnyNode()

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Clauses for every violated constraint, in model order; empty when the input is valid.

        Raises SerializationException when a value has the wrong JSON type (see module notes);
        nothing else, whatever JSON value it is given.
        """
        if isinstance(params, Mapping) and not isinstance(params, dict):
            params = dict(params)
        found: list[_Violation] = []
        self._root.walk(params, "", found)
        return [_clause(*violation) for violation in found]

    def validate(self, params: Mapping[str, Any]) -> None:
        """Raise the ValidationException AWS would send, or SerializationException for types."""
        clauses = self.check(params)
        if clauses:
            raise ValidationException(validation_message(clauses))


def _clause(path: str, value: Any, node: _Node, text: str) -> str:
    if value is None:
        shown = "Value null"
    elif node.sensitive and not node.is_container:
        shown = "Value"
    else:
        shown = f"Value '{node.render(value)}'"
    return f"{shown} at '{path}' failed to satisfy constraint: {text}"


def validation_message(clauses: list[str]) -> str:
    """The ValidationException message for one or more clauses from `check`."""
    if not clauses:
        raise ValueError("a validation message needs at least one clause")
    count = len(clauses)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(clauses)


def compile_checkers(model: ServiceModel) -> dict[str, ConstraintChecker]:
    """One checker per operation, sharing compiled shapes; call once at start-up."""
    shared: _Compiled = {}
    return {
        name: ConstraintChecker(model.operation_model(name), _shared=shared)
        for name in model.operation_names
    }
