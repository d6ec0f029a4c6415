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

Conventions, each taken from real AWS answers (docs/compatibility.md, "Wire", and the public
threads cited below):

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

from botocore.model import OperationModel, ServiceModel

from idpool.wire.constraint_nodes import AnyNode, Compiled, Node, Violation, compile_shape

# --- public API ---------------------------------------------------------------------------------


class ConstraintChecker:
    """The compiled input constraints of one operation."""

    __slots__ = ("_root", "operation_name")

    def __init__(self, operation: OperationModel, *, _shared: Compiled | None = None) -> None:
        self.operation_name: str = operation.name
        shape = operation.input_shape
        compiled = _shared if _shared is not None else {}
        self._root: Node = compile_shape(shape, compiled) if shape is not None else AnyNode()

    def check(self, params: Mapping[str, Any]) -> list[str]:
        """Clauses for every violated constraint, in model order; empty when the input is valid.

        Raises SerializationException when a value has the wrong JSON type (see module notes);
        nothing else, whatever JSON value it is given.
        """
        if isinstance(params, Mapping) and not isinstance(params, dict):
            params = dict(params)
        found: list[Violation] = []
        self._root.walk(params, "", found)
        return [_clause(*violation) for violation in found]


def _clause(path: str, value: Any, node: Node, text: str) -> str:
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
    shared: Compiled = {}
    return {
        name: ConstraintChecker(model.operation_model(name), _shared=shared)
        for name in model.operation_names
    }
