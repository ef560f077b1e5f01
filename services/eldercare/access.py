"""Who may see what: citizens their own records (others' are "not found"), eldercare's caseworkers and auditors
everyone's. Resident IDs are shown whole only to the person and eldercare's caseworkers."""

from __future__ import annotations

from civic.auth import Principal
from civic.identity import mask
from civic.problems import NotFound

DOMAIN = "eldercare"


def shown_id(resident_id: str, who: Principal) -> str:
    return resident_id if who.is_citizen(resident_id) or who.is_caseworker_of(DOMAIN) else mask(resident_id)


def check_may_read(resident_id: str, who: Principal, what: str) -> None:
    if not who.may_read_person(resident_id, DOMAIN):
        raise NotFound(what)
