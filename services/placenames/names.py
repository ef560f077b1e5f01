"""Standard names, publicly readable: search, one name with its history, the historical protection list and the
yearly statistics. Only names in force (status ``standard``) are found by search."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import ColumnElement, extract, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from civic.app import SessionDep
from civic.auth import CurrentUser, Principal, caseworker_of
from civic.clock import Today
from civic.problems import Conflict, NotFound
from services.placenames import rules, search
from services.placenames.models import NamingCase, Place, PlaceNameHistory, PlateCertificate, ProtectedName
from services.placenames.rules import Action, CaseStatus, Kind
from services.placenames.schemas import (
    DOMAIN,
    NamePage,
    NamePublic,
    ProtectedNameCreate,
    ProtectedNamePublic,
    Statistics,
)
from services.placenames.store import division_versions

router = APIRouter(tags=["standard names"])
Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]


def name_public(place: Place, **extra: object) -> NamePublic:
    return NamePublic(
        code=place.code,
        name=place.name,
        pinyin=place.pinyin,
        initials=place.initials.upper(),
        kind=Kind(place.kind),
        region_code=place.region_code,
        division_code=place.division_code,
        origin=place.origin,
        status=place.status,
        standard_since=place.standard_since,
        cancelled_on=place.cancelled_on,
        **extra,
    )


@router.get("/names")
async def search_names(
    session: SessionDep,
    user: CurrentUser,
    q: Annotated[
        str | None, Query(min_length=1, max_length=60, description="name text, pinyin, initials or code")
    ] = None,
    prefix: Annotated[str | None, Query(min_length=1, max_length=60)] = None,
    division: Annotated[str | None, Query(pattern=r"^[0-9]{6,12}$")] = None,
    kind: Kind | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NamePage:
    """Search the standard names in force: ``q`` matches part of the name, the start of its pinyin ("xinhua")
    or of its initials ("xhl"), or its code; ``prefix`` the start of the name; ``division`` includes everything
    under that division."""
    where: list[ColumnElement[bool]] = [col(Place.status) == "standard"]
    if prefix is not None:
        where.append(search.name_prefix_filter(prefix))
    if division is not None:
        where.append(col(Place.division_code).like(f"{rules.division_prefix(division)}%"))
    if kind is not None:
        where.append(col(Place.kind) == kind.value)
    found, more = await search.matching(session, q, where)
    # At most a thousand (code, name) pairs: sorted here, and only the page's rows read in full.
    shown = [code for code, _ in sorted(found, key=lambda pair: (pair[1], pair[0]))[offset : offset + limit]]
    places = {p.code: p for p in (await session.exec(select(Place).where(col(Place.code).in_(shown)))).all()}
    return NamePage(total=len(found), more=more, items=[name_public(places[code]) for code in shown])


@router.get("/names/{code}")
async def read_name(code: str, session: SessionDep, today: Today, user: CurrentUser) -> NamePublic:
    """A standard name (in force or cancelled), its division path today, former names and protection."""
    place = await session.get(Place, code)
    if place is None or place.status not in ("standard", "cancelled"):
        raise NotFound("standard name")
    history = await session.exec(
        select(PlaceNameHistory.name)
        .where(PlaceNameHistory.place_code == code, col(PlaceNameHistory.valid_until).is_not(None))
        .order_by(col(PlaceNameHistory.valid_from))
    )
    tree = rules.as_of(await division_versions(session), today)
    protected = await session.exec(select(ProtectedName.id).where(ProtectedName.place_code == code))
    return name_public(
        place,
        division_path=[d.name for d in rules.path_to_root(tree, place.division_code)],
        former_names=[n for n in history.all() if n != place.name],
        protected=protected.first() is not None,
    )


@router.post("/protected-names", status_code=status.HTTP_201_CREATED)
async def list_as_protected(
    body: ProtectedNameCreate, session: SessionDep, today: Today, user: Caseworker
) -> ProtectedNamePublic:
    """Put a historical place name on the protection list; a protected standard name is not renamed or cancelled."""
    if body.place_code is not None and await session.get(Place, body.place_code) is None:
        raise NotFound("place", f"no place {body.place_code}")
    row = ProtectedName(
        **body.model_dump(), name_key=rules.name_key(body.name), listed_on=today, listed_by=user.subject
    )
    session.add(row)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("already-protected", "The name is on the protection list already", field="name") from exc
    return ProtectedNamePublic(**row.model_dump())


@router.get("/protected-names")
async def protected_names(
    session: SessionDep, user: CurrentUser, region_code: str | None = None
) -> list[ProtectedNamePublic]:
    query = select(ProtectedName).order_by(col(ProtectedName.region_code), col(ProtectedName.name))
    if region_code is not None:
        query = query.where(ProtectedName.region_code == region_code)
    return [ProtectedNamePublic(**p.model_dump()) for p in (await session.exec(query)).all()]


@router.get("/statistics")
async def statistics(
    session: SessionDep, today: Today, user: CurrentUser, year: int | None = None, region_code: str | None = None
) -> Statistics:
    """What the yearly reports count (e.g. Weihai: 69 roads named, 5 renamed, 3 cancelled, 103 communities named):
    decisions that took effect in the year, and door-plate certificates issued."""
    year = year or today.year
    base = [
        col(NamingCase.status) == CaseStatus.EFFECTIVE.value,
        extract("year", col(NamingCase.effective_on)) == year,
    ]
    if region_code is not None:
        base.append(col(NamingCase.region_code).like(f"{rules.division_prefix(region_code)}%"))

    async def count(action: Action, kinds: frozenset[str]) -> int:
        query = select(func.count()).select_from(NamingCase).where(*base, col(NamingCase.action) == action.value)
        return int((await session.exec(query.where(col(NamingCase.kind).in_(kinds)))).one())

    roads = frozenset(k.value for k in rules.ROAD_KINDS)
    certificates = (
        select(func.count())
        .select_from(PlateCertificate)
        .where(
            col(PlateCertificate.issued_on) >= date(year, 1, 1), col(PlateCertificate.issued_on) <= date(year, 12, 31)
        )
    )
    if region_code is not None:
        certificates = certificates.where(col(PlateCertificate.number).like(f"{rules.division_prefix(region_code)}%"))
    return Statistics(
        year=year,
        region_code=region_code,
        roads_named=await count(Action.NAME, roads),
        roads_renamed=await count(Action.RENAME, roads),
        roads_cancelled=await count(Action.CANCEL, roads),
        communities_named=await count(Action.NAME, frozenset({Kind.COMMUNITY.value})),
        certificates_issued=int((await session.exec(certificates)).one()),
    )
