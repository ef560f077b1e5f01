"""Who may do what in funeral administration, and what a citizen may see.

Caseworkers of funeral (and auditors, read-only) see every registration. A citizen sees the registrations of
deaths they reported themselves (a relative who reported the death follows 身后一件事 with it); asking for any
other gets 404, as if it did not exist. Resident IDs of the deceased are always masked in answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal, Role, caseworker_of, require
from civic.events import current_correlation_id
from civic.problems import NotFound, Problem
from services.funeral.models import DeathRegistration, DeathReport

DOMAIN = "funeral"

Caseworker = Annotated[Principal, Depends(caseworker_of(DOMAIN))]
# Reporting a death, booking, asking for a subsidy: the family (as citizens) or a funeral caseworker.
FamilyOrCaseworker = Annotated[Principal, Depends(require(Role.CITIZEN, Role.CASEWORKER, domain=DOMAIN))]
Staff = Annotated[Principal, Depends(require(Role.CASEWORKER, Role.AUDITOR, domain=DOMAIN))]


def sees_everything(user: Principal) -> bool:
    return user.is_caseworker_of(DOMAIN) or user.role is Role.AUDITOR


async def reported_by(session: AsyncSession, registration_id: str, user: Principal) -> bool:
    if user.role is not Role.CITIZEN:
        return False
    found = await session.exec(
        select(DeathReport.id).where(
            DeathReport.registration_id == registration_id, DeathReport.reporter_subject == user.subject
        )
    )
    return found.first() is not None


async def visible_registration(session: AsyncSession, registration_id: str, user: Principal) -> DeathRegistration:
    reg = await session.get(DeathRegistration, registration_id)
    if reg is None or not (sees_everything(user) or await reported_by(session, reg.id, user)):
        raise NotFound("death registration")
    return reg


async def registration_for_family_action(
    session: AsyncSession, registration_id: str, user: Principal
) -> DeathRegistration:
    """A registration a caseworker or the reporting family acts on (a subsidy, a booking); it must stand."""
    reg = await visible_registration(session, registration_id, user)
    if reg.status != "registered":
        raise Problem(409, "death-revoked", "The death registration was revoked", field="death_registration_id")
    return reg


@contextlib.contextmanager
def in_journey(journey_id: str) -> Iterator[None]:
    """Events about a registered death belong to its 身后一件事 journey, whatever request writes them."""
    token = current_correlation_id.set(journey_id)
    try:
        yield
    finally:
        current_correlation_id.reset(token)
