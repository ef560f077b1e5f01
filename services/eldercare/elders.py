"""Routes: the registry of elders."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.identity import sex
from civic.problems import Conflict, NotFound, Problem
from services.eldercare import grants, rules
from services.eldercare.access import DOMAIN, check_may_read, shown_id
from services.eldercare.models import Elder
from services.eldercare.schemas import DoorPlatePublic, DoorPlateRef, ElderAddress, ElderCreate, ElderPublic

router = APIRouter(prefix="/elders", tags=["elders"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def public(elder: Elder, who: Principal, today: date) -> ElderPublic:
    plate = None
    if elder.road_code is not None and elder.house_number is not None:
        plate = DoorPlatePublic(road_code=elder.road_code, road_name=elder.road_name, number=elder.house_number,
                                suffix=elder.house_suffix, detail=elder.address_detail)  # fmt: skip
    return ElderPublic(
        resident_id=shown_id(elder.resident_id, who), born=elder.born, age=rules.age_on(elder.born, today),
        sex=sex(elder.resident_id), region_code=elder.region_code, community=elder.community,
        address=elder.address, door_plate=plate, living_situation=elder.living_situation,
        contact_phone=elder.contact_phone, died_on=elder.died_on,
    )  # fmt: skip


def address_columns(free_text: str, plate: DoorPlateRef | None) -> dict[str, str | int | None]:
    """The elder's address columns from what was given: a door plate (the shown text composed from it), or free
    text as before (which clears any door plate: a rename no longer reaches it)."""
    if plate is None:
        return {"address": free_text, "road_code": None, "road_name": "", "house_number": None, "house_suffix": "",
                "address_detail": ""}  # fmt: skip
    if free_text:
        raise Problem(422, "address-given-twice", "Give the address once",
                      "give either the free-text address or the door plate, not both", field="address")  # fmt: skip
    return {"address": rules.address_text(plate.road_name, plate.number, plate.suffix, plate.detail),
            "road_code": plate.road_code, "road_name": plate.road_name, "house_number": plate.number,
            "house_suffix": plate.suffix, "address_detail": plate.detail}  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_elder(
    body: ElderCreate, session: SessionDep, outbox: OutboxDep, who: Caseworker, today: Today
) -> ElderPublic:
    """Register a resident aged 60 or over (age and sex come from the resident ID)."""
    born = rules.birth_date_of(body.resident_id)
    if rules.age_on(born, today) < grants.ELDER_AGE:
        raise Problem(422, "not-elderly", "Not an elder", f"eldercare registers residents aged {grants.ELDER_AGE} "
                      "and over", field="resident_id")  # fmt: skip
    address = address_columns(body.address, body.door_plate)
    if await session.get(Elder, body.resident_id) is not None:
        raise Conflict("already-registered", "This elder is already registered", field="resident_id")
    if await grants.is_dead(session, body.resident_id):
        raise Conflict("deceased", "This person's death is registered", field="resident_id")
    elder = await grants.enrol_elder(session, outbox, body.resident_id, body.region_code, who.subject,
                                     community=body.community, living_situation=body.living_situation,
                                     contact_phone=body.contact_phone, **address)  # fmt: skip
    await session.commit()
    return public(elder, who, today)


@router.get("/{resident_id}")
async def read_elder(resident_id: str, session: SessionDep, who: CurrentUser, today: Today) -> ElderPublic:
    check_may_read(resident_id, who, "Elder")
    elder = await session.get(Elder, resident_id)
    if elder is None:
        raise NotFound("Elder")
    return public(elder, who, today)


@router.put("/{resident_id}/address")
async def move_elder(
    resident_id: str, body: ElderAddress, session: SessionDep, who: Caseworker, today: Today
) -> ElderPublic:
    """The elder moved (or the address is now known by its door plate): the old one is replaced whole."""
    elder = await session.get(Elder, resident_id)
    if elder is None:
        raise NotFound("Elder")
    for column, value in address_columns(body.address, body.door_plate).items():
        setattr(elder, column, value)
    session.add(elder)
    await session.commit()
    return public(elder, who, today)
