"""Door plates (门牌): numbers along a named road, door-plate certificates (门牌证) and smart door plates (智慧门牌).

An address is composed when read, from the road's current standard name: a renamed road's plates show the new
name without anything being rewritten.
"""

from __future__ import annotations

import secrets
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser, Principal, Role, caseworker_of
from civic.clock import Today
from civic.problems import Conflict, NotFound
from contracts.placenames import DoorPlateAssigned, DoorPlateCertificateIssued
from services.placenames import rules
from services.placenames.divisions import public, refused
from services.placenames.models import DoorPlate, Place, PlateCertificate, PlateService
from services.placenames.schemas import (
    DOMAIN,
    CertificateCreate,
    CertificatePublic,
    PlateCreate,
    PlatePublic,
    ServiceAtPlate,
    ServicePublic,
    SmartPlatePublic,
    shown,
)
from services.placenames.store import division_versions

router = APIRouter(tags=["door plates"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
# Automatic numbers are computed from what is on the road; a concurrent assignment may take the same number
# first, and then the unique constraint refuses ours and we count again.
AUTO_NUMBER_TRIES = 8
_SMART_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed by people


def smart_code() -> str:
    return "".join(secrets.choice(_SMART_ALPHABET) for _ in range(10))


async def road_of(session: AsyncSession, road_code: str) -> Place:
    road = await session.get(Place, road_code)
    if road is None or road.status == "proposed":
        raise NotFound("road")
    return road


async def plate_of(session: AsyncSession, plate_id: str) -> DoorPlate:
    plate = await session.get(DoorPlate, plate_id)
    if plate is None:
        raise NotFound("door plate")
    return plate


async def plate_view(session: AsyncSession, plate: DoorPlate, road: Place, on: date) -> PlatePublic:
    tree = rules.as_of(await division_versions(session), on)
    address = rules.address_of(road.name, plate.number, plate.suffix)
    path = "".join(d.name for d in rules.path_to_root(tree, road.division_code))
    return PlatePublic(
        id=plate.id,
        road_code=road.code,
        road_name=road.name,
        number=plate.number,
        suffix=plate.suffix,
        side=rules.Side(plate.side),
        address=address,
        full_address=path + address,
        smart_code=plate.smart_code,
        region_code=road.region_code,
        division_code=road.division_code,
        assigned_on=plate.assigned_on,
    )


@router.post("/roads/{road_code}/plates", status_code=status.HTTP_201_CREATED)
async def assign_plate(
    road_code: str, body: PlateCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> PlatePublic:
    """Assign a house number on a road: the number given, or the next one on ``side`` (odd by default)."""
    road = await road_of(session, road_code)
    try:
        rules.check_road_may_carry_plates(road.kind, road.status)
        if body.number is not None:
            rules.check_number(body.number, body.side)
    except rules.RuleBroken as exc:
        raise refused(exc, "The door plate is refused") from exc
    for _ in range(AUTO_NUMBER_TRIES):
        number = body.number
        if number is None:
            taken = (await session.exec(select(DoorPlate.number).where(DoorPlate.road_code == road.code))).all()
            number = rules.next_number(taken, body.side or rules.Side.ODD)
        plate = DoorPlate(
            road_code=road.code,
            number=number,
            suffix=body.suffix,
            side=rules.side_of(number).value,
            smart_code=smart_code(),
            building=body.building,
            assigned_on=today,
            assigned_by=user.subject,
        )
        view = await plate_view(session, plate, road, today)  # before the add: its query would flush the plate
        session.add(plate)
        await outbox.add(
            session,
            DoorPlateAssigned(
                plate_id=plate.id,
                road_code=road.code,
                region_code=road.region_code,
                number=number,
                suffix=body.suffix,
                address=view.address,
                smart_code=plate.smart_code,
            ),
        )
        try:
            await session.commit()
            return view
        except IntegrityError:
            await session.rollback()  # which expires what the session held: read the road again
            road = await road_of(session, road_code)
            if body.number is not None:
                break
    raise Conflict(
        "door-number-taken",
        "The door number is taken",
        f"{rules.address_of(road.name, body.number or 0, body.suffix)} exists: a number is given once on a road",
        field="number",
    )


@router.get("/roads/{road_code}/plates")
async def plates_on_road(road_code: str, session: SessionDep, today: Today, user: CurrentUser) -> list[PlatePublic]:
    road = await road_of(session, road_code)
    plates = await session.exec(
        select(DoorPlate).where(DoorPlate.road_code == road.code).order_by(col(DoorPlate.number), col(DoorPlate.suffix))
    )
    return [await plate_view(session, p, road, today) for p in plates.all()]


@router.get("/plates/{plate_id}")
async def read_plate(plate_id: str, session: SessionDep, today: Today, user: CurrentUser) -> PlatePublic:
    plate = await plate_of(session, plate_id)
    return await plate_view(session, plate, await road_of(session, plate.road_code), today)


@router.get("/smart-plates/{code}")
async def resolve_smart_plate(code: str, session: SessionDep, today: Today, user: CurrentUser) -> SmartPlatePublic:
    """What scanning a smart door plate shows: the standard address today and the public services at it."""
    plate = (await session.exec(select(DoorPlate).where(DoorPlate.smart_code == code.upper()))).first()
    if plate is None:
        raise NotFound("smart door plate")
    road = await road_of(session, plate.road_code)
    view = await plate_view(session, plate, road, today)
    tree = rules.as_of(await division_versions(session), today)
    services = (await session.exec(select(PlateService).where(PlateService.plate_id == plate.id))).all()
    return SmartPlatePublic(
        smart_code=plate.smart_code,
        address=view.address,
        full_address=view.full_address,
        road_code=road.code,
        plate_id=plate.id,
        divisions=[public(d) for d in rules.path_to_root(tree, road.division_code)],
        services=[ServicePublic(name=s.name, category=s.category, phone=s.phone, hours=s.hours) for s in services],
    )


@router.post("/plates/{plate_id}/services", status_code=status.HTTP_201_CREATED)
async def register_service(
    plate_id: str, body: ServiceAtPlate, session: SessionDep, user: Caseworker
) -> list[ServicePublic]:
    """Register a public service at a plate, for its smart door plate to show."""
    plate = await plate_of(session, plate_id)
    session.add(PlateService(plate_id=plate.id, **body.model_dump()))
    await session.commit()
    services = (await session.exec(select(PlateService).where(PlateService.plate_id == plate.id))).all()
    return [ServicePublic(name=s.name, category=s.category, phone=s.phone, hours=s.hours) for s in services]


@router.post("/plates/{plate_id}/certificates", status_code=status.HTTP_201_CREATED)
async def issue_certificate(
    plate_id: str, body: CertificateCreate, session: SessionDep, outbox: OutboxDep, today: Today, user: Caseworker
) -> CertificatePublic:
    """Issue a door-plate certificate (门牌证) to the plate's owner; numbered per county and year."""
    plate = await plate_of(session, plate_id)
    road = await road_of(session, plate.road_code)
    prefix = f"{road.region_code}{today.year}"
    for _ in range(AUTO_NUMBER_TRIES):
        issued = (
            await session.exec(
                select(func.count())
                .select_from(PlateCertificate)
                .where(col(PlateCertificate.number).like(f"{prefix}%"))
            )
        ).one()
        certificate = PlateCertificate(
            number=rules.certificate_number(road.region_code, today.year, int(issued) + 1),
            plate_id=plate.id,
            owner_resident_id=body.owner_resident_id,
            owner_name=body.owner_name,
            issued_on=today,
            issued_by=user.subject,
        )
        session.add(certificate)
        await outbox.add(
            session,
            DoorPlateCertificateIssued(
                resident_id=body.owner_resident_id,
                certificate_number=certificate.number,
                plate_id=plate.id,
                road_code=road.code,
                issued_on=today,
            ),
        )
        try:
            await session.commit()
            return CertificatePublic(
                number=certificate.number,
                plate_id=plate.id,
                address=rules.address_of(road.name, plate.number, plate.suffix),
                owner_resident_id=shown(body.owner_resident_id, user),
                owner_name=body.owner_name,
                issued_on=today,
            )
        except IntegrityError:
            await session.rollback()  # another certificate took the number: count again
            plate = await plate_of(session, plate_id)
            road = await road_of(session, plate.road_code)
    raise Conflict("certificate-number-busy", "Too many certificates issued at once; try again")


@router.get("/certificates/{number}")
async def read_certificate(number: str, session: SessionDep, user: CurrentUser) -> CertificatePublic:
    """The owner and the place-name office see the owner's ID whole, other staff masked; other citizens get 404."""
    certificate = await session.get(PlateCertificate, number)
    if certificate is None or (user.role is Role.CITIZEN and not user.is_citizen(certificate.owner_resident_id)):
        raise NotFound("door-plate certificate")
    plate = await plate_of(session, certificate.plate_id)
    road = await road_of(session, plate.road_code)
    return CertificatePublic(
        number=certificate.number,
        plate_id=plate.id,
        address=rules.address_of(road.name, plate.number, plate.suffix),
        owner_resident_id=shown(certificate.owner_resident_id, user),
        owner_name=certificate.owner_name,
        issued_on=certificate.issued_on,
    )
