"""Test data: valid resident IDs and the like, built with the real check-character rule."""

from __future__ import annotations

import itertools
from datetime import date

from civic.identity import check_character

_sequence = itertools.count(50)


def resident_id(born: date = date(1950, 3, 1), region: str = "371002", female: bool = False) -> str:
    """A valid, unique resident ID (sequence numbers count up per test session)."""
    seq = (2 * next(_sequence) + (0 if female else 1)) % 1000  # odd sequence = male (GB 11643)
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + check_character(first17)
