"""Households' addresses, held by door-plate reference, and kept current when place names renames a road."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.bus import HandlerContext
from contracts.assistance import HouseholdAddressesUpdated
from contracts.placenames import DoorPlateChanged, RoadRenamed
from services.assistance import rules
from services.assistance.models import HouseholdAddress, RoadRenameApplied, now
from services.assistance.schemas import AddressIn


async def address_of(session: AsyncSession, household_id: str) -> HouseholdAddress | None:
    return await session.get(HouseholdAddress, household_id)


async def set_address(session: AsyncSession, household_id: str, body: AddressIn, actor: str) -> HouseholdAddress:
    row = await address_of(session, household_id) or HouseholdAddress(
        household_id=household_id, road_code=body.road_code, road_name=body.road_name, number=body.number, text=""
    )
    row.road_code, row.road_name, row.number = body.road_code, body.road_name, body.number
    row.suffix, row.detail = body.suffix, body.detail
    row.text = rules.address_text(body.road_name, body.number, body.suffix, body.detail)
    row.updated_at, row.updated_by = now(), actor
    session.add(row)
    return row


async def update_addresses_on_renamed_road(event: RoadRenamed, ctx: HandlerContext) -> None:
    """Every household on the road shows the new name; one HouseholdAddressesUpdated per rename, also for none.

    The inbox makes a redelivery a no-op; a second copy of the same rename under another event id (placenames
    publishing it again) is recognised by road, new name and date, and changes and publishes nothing.
    """
    session = ctx.session
    seen = await session.exec(
        select(RoadRenameApplied).where(
            RoadRenameApplied.road_code == event.road_code,
            RoadRenameApplied.new_name == event.new_name,
            RoadRenameApplied.effective_on == event.effective_on,
        )
    )
    if seen.first() is not None:
        return
    updated = 0
    rows = await session.exec(select(HouseholdAddress).where(HouseholdAddress.road_code == event.road_code))
    for row in rows.all():
        if row.road_name == event.new_name:
            continue  # already shown with the new name (entered after the rename took effect)
        row.road_name = event.new_name
        row.text = rules.address_text(event.new_name, row.number, row.suffix, row.detail)
        row.updated_at = now()
        row.updated_by = f"road renamed {event.old_name} → {event.new_name} from {event.effective_on}"[:200]
        session.add(row)
        updated += 1
    session.add(RoadRenameApplied(road_code=event.road_code, new_name=event.new_name,
                                  effective_on=event.effective_on, households_updated=updated))  # fmt: skip
    await ctx.publish(
        HouseholdAddressesUpdated(road_code=event.road_code, new_name=event.new_name, households_updated=updated)
    )


async def follow_renumbered_plate(event: DoorPlateChanged, ctx: HandlerContext) -> None:
    """A house number changed: the households at the old number are at the new one (same plate, same home). A copy
    of the change finds nobody left at the old number and changes nothing."""
    rows = await ctx.session.exec(select(HouseholdAddress).where(
        HouseholdAddress.road_code == event.road_code, HouseholdAddress.number == event.old_number,
        HouseholdAddress.suffix == event.old_suffix))  # fmt: skip
    for row in rows.all():
        row.number, row.suffix = event.number, event.suffix
        row.text = rules.address_text(row.road_name, row.number, row.suffix, row.detail)
        row.updated_at = now()
        row.updated_by = f"door plate renumbered on {event.changed_on}"
        ctx.session.add(row)
