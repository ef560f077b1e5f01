"""What social assistance does when other departments publish facts. One function per event type."""

from __future__ import annotations

from sqlmodel import select

from civic.bus import HandlerContext, Handlers
from civic.money import from_fen
from contracts.assistance import BenefitsOfDeceasedStopped, StoppedBenefit
from contracts.funeral import DeathRegistered
from services.assistance import rules
from services.assistance.models import Case, CaseStatus


async def stop_benefits_of_deceased(event: DeathRegistered, ctx: HandlerContext) -> None:
    stopped_from = rules.benefit_stops_after_death(event.date_of_death)
    cases = (
        await ctx.session.exec(
            select(Case).where(Case.resident_id == event.resident_id, Case.status == CaseStatus.ACTIVE)
        )
    ).all()
    for case in cases:
        case.status = CaseStatus.STOPPED
        case.stopped_from = stopped_from
        case.stop_reason = f"death registered ({event.registration_id})"
        ctx.session.add(case)
    await ctx.publish(
        BenefitsOfDeceasedStopped(
            resident_id=event.resident_id,
            death_registration_id=event.registration_id,
            stopped_from=stopped_from,
            cases=[
                StoppedBenefit(case_id=c.id, benefit=c.benefit, monthly_amount=from_fen(c.monthly_amount_fen))
                for c in cases
            ],
        )
    )


HANDLERS: Handlers = {DeathRegistered: [stop_benefits_of_deceased]}
