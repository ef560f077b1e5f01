"""Funeral's step of 救助一件事 against the real broker: every assistance approval funeral consumes is answered by
exactly one HouseholdMarkedForBasicFuneralServices, in the approval's journey; a redelivery is absorbed, the same
approval under a new event id is answered as a repeat that marks nothing new; a benefit that does not make a
household one in difficulty is answered too, covering nobody."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from civic.broker import EmbeddedBroker
from civic.events import current_correlation_id
from contracts.assistance import BenefitApproved
from tests.conftest import eventually
from tests.factories import resident_id
from tests.fault.test_funeral_projection_replay import send
from tests.integration.test_funeral_deaths import funeral, published
from tests.kit import inbox_ids, message_of

MARKED = "civic.funeral.household-marked-for-basic-funeral-services.v1"


def approval(applicant: str, members: list[str], benefit: str = "dibao") -> BenefitApproved:
    return BenefitApproved(resident_id=applicant, case_id=str(uuid.uuid4()), benefit=benefit,
                           household_id=str(uuid.uuid4()), members=members, region_code="371002",
                           monthly_amount=Decimal("1060.00"), effective_from=date(2026, 1, 1))  # fmt: skip


async def marks(broker: EmbeddedBroker, applicant: str) -> list[dict[str, Any]]:
    return [e for e in await published(broker, {applicant}) if e["type"] == MARKED]


async def test_an_approval_is_answered_once_in_its_journey_and_a_copy_as_a_repeat(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    applicant, spouse = resident_id(date(1950, 5, 5)), resident_id(date(1952, 2, 2), female=True)
    approved = approval(applicant, [applicant, spouse])
    async with funeral(broker, tmp_path) as f:
        token = current_correlation_id.set(f"journey-{uuid.uuid4()}")
        try:
            first = message_of(approved, f.settings)
            again = message_of(approved, f.settings)  # the same fact under a new event id (a relay's re-send)
            journey = current_correlation_id.get()
        finally:
            current_correlation_id.reset(token)
        # Redelivered as is, then once more under a new id, then the first message again as a replay sends it.
        await send(broker, [first, first, again, first])

        async def all_handled() -> bool:  # the counts include other tests' events this new group catches up on
            stats = f.service.runners[0].stats
            ours = {first.event_id, again.event_id} <= set(await inbox_ids(f.service.engine))
            return ours and stats.handled + stats.duplicates >= 4

        await eventually(all_handled, what="every copy of the approval consumed")
        await f.drained()
        # The redeliveries are absorbed; the copy under a new id is answered as a repeat, marking nothing new.
        marked, repeat = await marks(broker, applicant)
        assert repeat["headers"]["ce_causationid"] == again.event_id
        assert (repeat["data"]["repeated"], repeat["data"]["members_covered"]) == (True, 2)
        data = marked["data"]
        assert data["repeated"] is False
        assert (data["case_id"], data["household_id"], data["benefit"]) == (
            approved.case_id,
            approved.household_id,
            "dibao",
        )
        assert data["members_covered"] == 2 and data["effective_from"] == "2026-01-01"
        assert marked["headers"]["ce_correlationid"] == journey, "the step lands on the approval's journey"
        assert marked["headers"]["ce_causationid"] == first.event_id

        state = (await f.client.get(f"/entitlements/{spouse}", headers=f.caseworker)).json()
        assert state["free_basic_funeral_services"] is True


async def test_a_benefit_of_no_difficulty_is_answered_covering_nobody(broker: EmbeddedBroker, tmp_path: Path) -> None:
    applicant = resident_id(date(1980, 8, 8))
    approved = approval(applicant, [applicant], benefit="temporary")
    async with funeral(broker, tmp_path) as f:
        await send(broker, [message_of(approved, f.settings)])

        async def answered() -> bool:
            return len(await marks(broker, applicant)) == 1

        await eventually(answered, what="funeral's answer to the temporary-assistance approval")
        (marked,) = await marks(broker, applicant)
        assert (marked["data"]["case_id"], marked["data"]["members_covered"]) == (approved.case_id, 0)
        state = (await f.client.get(f"/entitlements/{applicant}", headers=f.caseworker)).json()
        assert state["free_basic_funeral_services"] is False
