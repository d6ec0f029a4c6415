"""Response encoding: results are shaped by the operation's output shape in the model.

Each output shape is compiled once into a function that keeps only modelled members, omits
absent ones (AWS omits unset optional members) and writes timestamps as epoch-second numbers,
which is what every SDK expects from JSON 1.1 (the JavaScript SDK rejects strings).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson
from botocore.model import Shape

from idpool.domain.errors import ServiceError
from idpool.wire.errors_table import status_for
from idpool.wire.model import service_model

Shaper = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _timestamp(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def _compile(shape: Shape | None) -> Shaper:
    if shape is None:
        return _identity
    if shape.type_name == "structure":
        members = {name: _compile(member) for name, member in shape.members.items()}

        def structure(value: Any) -> Any:
            out = {}
            for name, shaper in members.items():
                item = value.get(name)
                if item is not None:
                    out[name] = shaper(item)
            return out

        return structure
    if shape.type_name == "list":
        item_shaper = _compile(shape.member)
        if item_shaper is _identity:
            return list
        return lambda value: [item_shaper(v) for v in value]
    if shape.type_name == "map":
        value_shaper = _compile(shape.value)
        if value_shaper is _identity:
            return dict
        return lambda value: {k: value_shaper(v) for k, v in value.items()}
    if shape.type_name == "timestamp":
        return _timestamp
    return _identity


def _output_shapers() -> dict[str, Shaper]:
    model = service_model()
    shapers = {}
    for name in model.operation_names:
        shapers[name] = _compile(model.operation_model(name).output_shape)
    return shapers


_SHAPERS = _output_shapers()


def encode_result(operation: str, result: Mapping[str, Any] | None) -> bytes:
    if not result:
        return b"{}"
    return orjson.dumps(_SHAPERS[operation](result))


def encode_error(error: ServiceError) -> tuple[int, bytes]:
    body = orjson.dumps({"__type": error.code, "message": error.message})
    return status_for(error.code), body
