"""Test data: valid resident IDs and the like, built with the real check-character rule."""

from __future__ import annotations

import itertools
from datetime import date

from civic.identity import check_character

_sequence = itertools.count(101)


def resident_id(born: date = date(1950, 3, 1), region: str = "371002", female: bool = False) -> str:
    """A valid, unique resident ID (sequence numbers count up per test session)."""
    seq = next(_sequence) % 1000
    if (seq % 2 == 0) != female:
        seq = (seq + 1) % 1000
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)
