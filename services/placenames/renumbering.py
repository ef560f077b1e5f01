"""Route: changing a door plate's number (门牌变更) — the same plate and smart code, another number on the same road.
The former number is kept (``door_plate_change``) and ``DoorPlateChanged`` tells the departments that hold
addresses by road and number to move them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy.exc import IntegrityError

from civic.app import OutboxDep, SessionDep
from civic.auth import Principal, caseworker_of
from civic.clock import Today
from civic.problems import Conflict, NotFound, Problem
from contracts.placenames import DoorPlateChanged
from services.placenames import rules
from services.placenames.divisions import refused
from services.placenames.models import DoorPlate, DoorPlateChange
from services.placenames.plates import plate_view, road_of
from services.placenames.schemas import DOMAIN, PlatePublic, PlateRenumbering

router = APIRouter(tags=["door plates"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


@router.post("/plates/{plate_id}/renumbering")
async def renumber_plate(
    plate_id: str, body: PlateRenumbering, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> PlatePublic:
    """Give a plate another number on its road. A number already on the road is refused (409), as when assigning."""
    plate = await session.get(DoorPlate, plate_id)
    if plate is None:
        raise NotFound("door plate")
    if (body.number, body.suffix) == (plate.number, plate.suffix):
        raise Problem(422, "no-change", "The plate already has this number", field="number")
    road = await road_of(session, plate.road_code)
    try:
        rules.check_road_may_carry_plates(road.kind, road.status)
        rules.check_number(body.number, None)
    except rules.RuleBroken as exc:
        raise refused(exc, "The new number is refused") from exc
    old_number, old_suffix = plate.number, plate.suffix
    plate.number, plate.suffix, plate.side = body.number, body.suffix, rules.side_of(body.number).value
    try:  # the unique key on road, number and suffix is the last word (the view's query may flush the change)
        view = await plate_view(session, plate, road, today)
        session.add(plate)
        session.add(DoorPlateChange(plate_id=plate.id, old_number=old_number, old_suffix=old_suffix,
                                    number=body.number, suffix=body.suffix, reason=body.reason, changed_on=today,
                                    changed_by=user.subject))  # fmt: skip
        await outbox.add(session, DoorPlateChanged(
            plate_id=plate.id, road_code=road.code, region_code=road.region_code, old_number=old_number,
            old_suffix=old_suffix, number=body.number, suffix=body.suffix, address=view.address,
            smart_code=plate.smart_code, changed_on=today,
        ))  # fmt: skip
        await session.commit()
    except IntegrityError as exc:  # the number is someone else's on this road
        await session.rollback()
        raise Conflict("door-number-taken", f"{body.number}{'-' + body.suffix if body.suffix else ''} is already "
                       "a plate on this road", field="number") from exc  # fmt: skip
    return view
