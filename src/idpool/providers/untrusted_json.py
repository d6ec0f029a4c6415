"""JSON from outside (login tokens, provider answers), parsed with one failure mode.

`json.loads` raises `ValueError` for text that is not JSON but `RecursionError` for an array or
object nested thousands deep, which a 50 kB login token or a provider's 512 KiB answer can be.
Every caller here wants "not JSON" for both, so they call this instead of `json.loads`.
"""

from __future__ import annotations

import json
from typing import Any


def loads(raw: str | bytes) -> Any:
    """The parsed document; ValueError when `raw` is not JSON or is nested too deep to parse."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
