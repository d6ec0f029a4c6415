"""The production id source: identity ids are random version-4 UUIDs in canonical form."""

from __future__ import annotations

import uuid

from idpool.service.system import RandomIds


def test_uuids_are_canonical_random_version_4() -> None:
    ids = RandomIds()
    seen = {ids.uuid() for _ in range(2000)}
    assert len(seen) == 2000
    for text in seen:
        parsed = uuid.UUID(text)
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
        assert str(parsed) == text  # lowercase, hyphenated, 36 characters
