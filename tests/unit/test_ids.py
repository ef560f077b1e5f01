"""Row ids sort, as the databases compare them (text), in the order they were made: rows created together sit
together in a primary-key index, which is what a batch job's walk by id reads."""

from __future__ import annotations

import uuid

from civic.ids import new_id


def test_ids_made_one_after_another_sort_as_text_in_that_order_and_are_version_7_uuids() -> None:
    made = [new_id() for _ in range(5000)]
    assert sorted(made) == made
    assert len(set(made)) == len(made)
    for text in made[:10]:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
