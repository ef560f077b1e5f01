"""Public cemeteries (公益性公墓): plots with one code per grave (一墓一码), assigned to a registered death and
never sold twice, eco-grave certificates for tree, lawn, wall and flower graves.

Public cemeteries do not sell plots to the living in advance: a plot is assigned to a registered death, to be
held by a named family member. Two requests for one plot, or two plots for one deceased, are refused by unique
columns (``active_plot_id``, ``active_registration_id``), not by a read before the write.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, status
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.app import OutboxDep, SessionDep
from civic.auth import CurrentUser
from civic.outbox import Outbox
from civic.problems import Conflict, NotFound, Problem
from contracts.funeral import PlotAssigned, PlotReleased
from services.funeral import rules
from services.funeral.access import Caseworker, FamilyOrCaseworker, in_journey, registration_for_family_action
from services.funeral.models import Cemetery, DeathRegistration, Plot, PlotAssignment
from services.funeral.schemas import (
    CemeteryCreate,
    CemeteryPublic,
    GravePublic,
    PlotAssignmentCreate,
    PlotPublic,
    PlotsCreate,
)

router = APIRouter(tags=["cemeteries"])


async def cemetery_or_404(session: AsyncSession, cemetery_id: str) -> Cemetery:
    cemetery = await session.get(Cemetery, cemetery_id)
    if cemetery is None:
        raise NotFound("cemetery")
    return cemetery


async def plot_by_code(session: AsyncSession, code: str) -> Plot:
    plot = (await session.exec(select(Plot).where(Plot.code == code))).first()
    if plot is None:
        raise NotFound("grave")
    return plot


def plot_public(plot: Plot) -> PlotPublic:
    return PlotPublic.of(plot, rules.is_eco_plot(plot.plot_type))


@router.post("/cemeteries", status_code=status.HTTP_201_CREATED)
async def add_cemetery(body: CemeteryCreate, session: SessionDep, user: Caseworker) -> CemeteryPublic:
    cemetery = Cemetery(code=body.code, name=body.name, region_code=body.region_code, public=body.public)
    session.add(cemetery)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("cemetery-code-taken", "Another cemetery has this code", field="code") from exc
    return CemeteryPublic.of(cemetery)


@router.post("/cemeteries/{cemetery_id}/plots", status_code=status.HTTP_201_CREATED)
async def add_plots(cemetery_id: str, body: PlotsCreate, session: SessionDep, user: Caseworker) -> list[PlotPublic]:
    """Lay out a row of plots; each gets its code (一墓一码)."""
    cemetery = await cemetery_or_404(session, cemetery_id)
    plots = [
        Plot(
            code=rules.plot_code(cemetery.code, body.section, body.row, n),
            cemetery_id=cemetery.id,
            section=body.section,
            row=body.row,
            number=n,
            plot_type=body.plot_type,
        )
        for n in range(body.first_number, body.first_number + body.count)
    ]
    if plots[-1].number > 999:
        raise Problem(422, "plot-number-too-large", "Plot numbers go up to 999", field="count")
    session.add_all(plots)
    try:
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise Conflict("plot-exists", "Some of these plots already exist", field="first_number") from exc
    return [plot_public(p) for p in plots]


@router.get("/cemeteries/{cemetery_id}/plots")
async def list_plots(
    cemetery_id: str,
    session: SessionDep,
    user: CurrentUser,
    plot_status: str | None = Query(default=None, alias="status", pattern=r"^(available|assigned)$"),
) -> list[PlotPublic]:
    await cemetery_or_404(session, cemetery_id)
    query = select(Plot).where(Plot.cemetery_id == cemetery_id)
    if plot_status is not None:
        query = query.where(Plot.status == plot_status)
    plots = await session.exec(query.order_by(col(Plot.section), col(Plot.row), col(Plot.number)))
    return [plot_public(p) for p in plots.all()]


@router.post("/plots/{code}/assignment", status_code=status.HTTP_201_CREATED)
async def assign_plot(
    code: str, body: PlotAssignmentCreate, session: SessionDep, outbox: OutboxDep, user: FamilyOrCaseworker
) -> GravePublic:
    """Assign a plot to a registered death, held by the family member named. An eco grave gets its certificate."""
    plot = await plot_by_code(session, code)
    reg = await registration_for_family_action(session, body.death_registration_id, user)
    cemetery = await cemetery_or_404(session, plot.cemetery_id)
    eco = rules.is_eco_plot(plot.plot_type)
    assignment = PlotAssignment(
        plot_id=plot.id,
        active_plot_id=plot.id,
        registration_id=reg.id,
        active_registration_id=reg.id,
        resident_id=reg.resident_id,
        holder_name=body.holder.name,
        holder_relation=body.holder.relation,
        holder_resident_id=body.holder.resident_id,
        assigned_by=user.subject,
    )
    if eco:
        assignment.eco_certificate_number = f"ECO-{plot.code}-{assignment.id[:8].upper()}"
    plot_id = plot.id  # the objects expire on a rollback
    plot.status = "assigned"
    session.add_all([assignment, plot])
    try:
        await session.flush()
    except IntegrityError as exc:
        await session.rollback()
        if (await session.exec(select(PlotAssignment.id).where(PlotAssignment.active_plot_id == plot_id))).first():
            raise Conflict("plot-taken", "This plot is already assigned", "a plot is never sold twice",
                           field="code") from exc  # fmt: skip
        raise Conflict("already-has-grave", "This deceased already has a grave",
                       field="death_registration_id") from exc  # fmt: skip
    with in_journey(reg.journey_id):
        await outbox.add(
            session,
            PlotAssigned(resident_id=reg.resident_id, death_registration_id=reg.id, plot_code=plot.code,
                         cemetery_id=cemetery.id, plot_type=plot.plot_type,
                         eco_certificate_number=assignment.eco_certificate_number),
        )  # fmt: skip
    await session.commit()
    return GravePublic.of(plot, eco, cemetery, assignment, reg, user)


@router.get("/graves/{code}")
async def resolve_grave(code: str, session: SessionDep, user: CurrentUser) -> GravePublic:
    """What a grave's code resolves to (the QR plate on the grave, 网络祭扫): the plot and who lies there. The
    deceased's ID is masked; the holder is shown only to funeral caseworkers and to the holder."""
    plot = await plot_by_code(session, code)
    cemetery = await cemetery_or_404(session, plot.cemetery_id)
    assignment = (await session.exec(select(PlotAssignment).where(PlotAssignment.active_plot_id == plot.id))).first()
    reg = await session.get(DeathRegistration, assignment.registration_id) if assignment else None
    return GravePublic.of(plot, rules.is_eco_plot(plot.plot_type), cemetery, assignment, reg, user)


async def release_for_revoked_death(session: AsyncSession, outbox: Outbox, reg: DeathRegistration, reason: str) -> None:
    assignments = await session.exec(
        select(PlotAssignment).where(PlotAssignment.registration_id == reg.id, PlotAssignment.status == "assigned")
    )
    for assignment in assignments.all():
        plot = await session.get(Plot, assignment.plot_id)
        assert plot is not None
        assignment.status, assignment.active_plot_id, assignment.active_registration_id = "released", None, None
        assignment.released_at, assignment.release_reason = datetime.now(UTC), reason[:500]
        plot.status = "available"
        session.add_all([assignment, plot])
        await outbox.add(
            session,
            PlotReleased(resident_id=reg.resident_id, death_registration_id=reg.id, plot_code=plot.code,
                         reason=reason[:500]),
        )  # fmt: skip
