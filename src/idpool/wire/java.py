"""What AWS's Java frameworks do that idpool's checks must reproduce.

Model patterns are matched with java.util.regex's defaults, and a JSON value of the wrong type
fails with the Jackson token names AWS puts in its SerializationException messages
(wire/constraints.py lists the texts and where they come from).
"""

from __future__ import annotations

from typing import Any

import regex

from idpool.domain.errors import SerializationException

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


def scalar_mismatch(value: Any, target: str) -> SerializationException:
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    return SerializationException(f"{_token(value)} can not be converted to {target}")


def container_mismatch(value: Any, *, is_list: bool) -> SerializationException:
    if isinstance(value, list):
        return SerializationException("Start of list found where not expected")
    if isinstance(value, dict):
        return SerializationException("Start of structure or map found where not expected.")
    return SerializationException("Expected list or null" if is_list else "Expected null")
