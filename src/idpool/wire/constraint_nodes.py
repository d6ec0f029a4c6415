"""The compiled form of the model's input shapes: one small checker node per shape.

`compile_shape` turns a botocore shape into a tree of nodes once, at start-up; a request walks
that tree (wire/constraints.py describes the conventions each node follows, all taken from
AWS's answers; wire/java.py supplies Java's regex semantics and Jackson's type-error texts).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.model import Shape

from idpool.wire.java import container_mismatch, java_regex, scalar_mismatch

NOT_NULL = "Member must not be null"

# (member path, offending value or None, node that renders it, constraint text)
Violation = tuple[str, Any, "Node", str]


# --- nodes --------------------------------------------------------------------------------------


class Node:
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

    def walk(self, value: Any, path: str, out: list[Violation]) -> None:
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


class AnyNode(Node):
    """Document members: any JSON is accepted as is."""

    __slots__ = ()


class _ScalarNode(Node):
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
            raise scalar_mismatch(value, self._target)


class _StringNode(Node):
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
            raise scalar_mismatch(value, "a String")

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


class _NumberNode(Node):
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
            raise scalar_mismatch(value, self._target)

    def failures(self, value: Any) -> list[str]:
        found = []
        if self._max is not None and value > self._max:
            found.append(self.texts[0])
        if self._min is not None and value < self._min:
            found.append(self.texts[-1])
        return found


class _ListNode(Node):
    __slots__ = ("_max", "_min", "item")

    is_container = True

    def __init__(self, shape: Shape, item: Node) -> None:
        super().__init__()
        self._min: int | None = shape.metadata.get("min")
        self._max: int | None = shape.metadata.get("max")
        self.item = item

    def walk(self, value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, list):
            raise container_mismatch(value, is_list=True)
        _size_violations(self, value, path, self._min, self._max, out)
        item = self.item
        if item.is_container:
            _walk_members(item, enumerate(value, start=1), path, out)
            return
        broken, has_null = _scan_scalars(item, value)
        if broken or has_null:
            text = f"Member must satisfy constraint: {_bracket(item, has_null)}"
            out.append((path, value, self, text))

    def render(self, value: Any) -> str:
        return "[" + ", ".join(_render_item(self.item, element) for element in value) + "]"


class _MapNode(Node):
    __slots__ = ("_max", "_min", "key", "value")

    is_container = True

    def __init__(self, shape: Shape, key: Node, value: Node) -> None:
        super().__init__()
        self._min: int | None = shape.metadata.get("min")
        self._max: int | None = shape.metadata.get("max")
        self.key = key
        self.value = value

    def walk(self, value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            raise container_mismatch(value, is_list=False)
        _size_violations(self, value, path, self._min, self._max, out)
        keys_broken, _ = _scan_scalars(self.key, value)
        if keys_broken:
            text = f"Map keys must satisfy constraint: {_bracket(self.key, False)}"
            out.append((path, value, self, text))
        item = self.value
        if item.is_container:
            _walk_members(item, value.items(), path, out)
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


class _StructNode(Node):
    __slots__ = ("members",)

    is_container = True

    def __init__(self) -> None:
        super().__init__()
        # (model name, lowerCamel path segment, node, required); filled after registration so
        # that a recursive shape compiles to a cycle instead of recursing forever.
        self.members: tuple[tuple[str, str, Node, bool], ...] = ()

    def walk(self, value: Any, path: str, out: list[Violation]) -> None:
        if not isinstance(value, dict):
            raise container_mismatch(value, is_list=False)
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
    node: Node,
    value: list[Any] | dict[str, Any],
    path: str,
    minimum: int | None,
    maximum: int | None,
    out: list[Violation],
) -> None:
    size = len(value)
    if maximum is not None and size > maximum:
        out.append((path, value, node, _max_length(maximum)))
    if minimum is not None and size < minimum:
        out.append((path, value, node, _min_length(minimum)))


def _walk_members(
    item: Node, members: Iterable[tuple[object, Any]], path: str, out: list[Violation]
) -> None:
    """Containers inside a list or map, each reported on its own at `<path>.<label>.member`."""
    for label, element in members:
        element_path = f"{path}.{label}.member"
        if element is None:
            out.append((element_path, None, item, NOT_NULL))
        else:
            item.walk(element, element_path, out)


def _scan_scalars(item: Node, values: Any) -> tuple[bool, bool]:
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


def _bracket(item: Node, has_null: bool) -> str:
    texts = (*item.texts, NOT_NULL) if has_null else item.texts
    return "[" + ", ".join(texts) + "]"


def _render_item(node: Node, value: Any) -> str:
    return "null" if value is None else node.render(value)


# --- compiling ----------------------------------------------------------------------------------

Compiled = dict[str, Node]


def lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def compile_shape(shape: Shape, compiled: Compiled) -> Node:
    known = compiled.get(shape.name)
    if known is not None:
        return known
    kind = shape.type_name
    node: Node
    if kind == "structure" and shape.metadata.get("document"):
        node = AnyNode()
    elif kind == "structure":
        struct = _StructNode()
        compiled[shape.name] = struct
        required = set(shape.required_members)
        struct.members = tuple(
            (name, lower_camel(name), compile_shape(member, compiled), name in required)
            for name, member in shape.members.items()
        )
        return struct
    elif kind == "list":
        node = _ListNode(shape, compile_shape(shape.member, compiled))
    elif kind == "map":
        node = _MapNode(
            shape,
            compile_shape(shape.key, compiled),
            compile_shape(shape.value, compiled),
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
        node = AnyNode()
    compiled[shape.name] = node
    return node
