"""Funeral's projection of assistance's benefit events under duplicates: the same fact again under a new event id
(assistance's relay re-sent it, or a replay from the dead-letter topic) and the same message redelivered change
nothing; what counts for a deceased is whether they were in difficulty on the day of death."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaProducer

from civic.broker import EmbeddedBroker
from civic.events import Event
from contracts.assistance import BenefitApproved, BenefitTerminated
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_funeral_deaths import death, funeral, published
from tests.kit import Message, message_of


async def send(broker: EmbeddedBroker, messages: list[Message]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for m in messages:
            await producer.send_and_wait(m.topic, m.value, key=m.key, headers=m.headers)
    finally:
        await producer.stop()


async def test_duplicated_assistance_facts_change_the_projection_once(broker: EmbeddedBroker, tmp_path: Path) -> None:
    applicant, spouse = resident_id(date(1946, 6, 6)), resident_id(date(1947, 7, 7), female=True)
    case_id, household_id = str(uuid.uuid4()), str(uuid.uuid4())
    approved = BenefitApproved(resident_id=applicant, case_id=case_id, benefit="dibao", household_id=household_id,
                               members=[applicant, spouse], region_code="371002", monthly_amount=Decimal("1060.00"),
                               effective_from=date(2025, 1, 1))  # fmt: skip
    terminated = BenefitTerminated(resident_id=applicant, case_id=case_id, benefit="dibao", household_id=household_id,
                                   members=[applicant, spouse], effective_from=date(2026, 11, 1),
                                   reason="income above the standard")  # fmt: skip
    async with funeral(broker, tmp_path) as f:

        def fresh(event: Event) -> Message:
            return message_of(event, f.settings)

        first = fresh(approved)
        # The approval three times (the same message redelivered, then the same fact under a new id), then the
        # termination twice, then the approval's first message once more, as a replay would send it.
        await send(broker, [first, first, fresh(approved), fresh(terminated), fresh(terminated), first])

        async def settled() -> bool:
            r = await f.client.get(f"/entitlements/{spouse}", headers=f.caseworker, params={"on": "2026-10-31"})
            basis = r.json()["basis"]
            return bool(basis and basis[0]["ended_from"] == "2026-11-01")

        await eventually(settled, what="the termination projected")

        async def replay_seen() -> bool:
            return f.service.runners[0].stats.duplicates >= 2

        await eventually(replay_seen, what="both redeliveries of the first message absorbed")
        for person in (applicant, spouse):
            state = (await f.client.get(f"/entitlements/{person}", headers=f.caseworker)).json()
            assert [(b["case_id"], b["effective_from"], b["ended_from"]) for b in state["basis"]] == [
                (case_id, "2025-01-01", "2026-11-01")
            ], "one interval per member, whatever was delivered twice"
            assert state["free_basic_funeral_services"] is False

        # The spouse died in October, while the household still had 低保: the basic services are free.
        reg = (await f.report(f.caseworker, **death(spouse, date_of_death="2026-10-20"))).json()
        benefit = (await f.client.get(f"/deaths/{reg['id']}/benefits", headers=f.caseworker)).json()
        assert benefit["funeral_benefit"]["kind"] == "free_basic_services"
        # The applicant died after the benefit ended: nothing in Weihai for someone not in difficulty.
        late = (await f.report(f.caseworker, **death(applicant, date_of_death="2026-11-03"))).json()
        assert (await f.client.get(f"/deaths/{late['id']}/benefits", headers=f.caseworker)).json()[
            "funeral_benefit"
        ] is None


async def test_an_approval_arriving_after_the_death_grants_the_free_services_once(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """Assistance's approval was delayed (its relay waited out a broker outage): the death was registered first
    and got nothing. When the approval arrives and covers the day of death, the free services are granted, to the
    relative who reported; the same approval again grants nothing more."""
    poor, son = resident_id(date(1943, 3, 3)), resident_id(date(1969, 9, 9))
    approved = BenefitApproved(resident_id=poor, case_id=str(uuid.uuid4()), benefit="tekun",
                               household_id=str(uuid.uuid4()), members=[poor], region_code="371002",
                               monthly_amount=Decimal("900.00"), effective_from=date(2026, 1, 1))  # fmt: skip
    async with funeral(broker, tmp_path) as f:
        reg = (await f.report(f.citizen(son), **death(poor))).json()
        url = f"/deaths/{reg['id']}/benefits"
        assert (await f.client.get(url, headers=f.caseworker)).json()["funeral_benefit"] is None
        await send(broker, [message_of(approved, f.settings), message_of(approved, f.settings)])

        async def granted() -> bool:
            return (await f.client.get(url, headers=f.caseworker)).json()["funeral_benefit"] is not None

        await eventually(granted, what="the free services granted on the late approval")

        async def both_handled() -> bool:
            return f.service.runners[0].stats.handled >= 2

        await eventually(both_handled, what="the second copy of the approval handled")
        benefit = (await f.client.get(url, headers=f.citizen(son))).json()["funeral_benefit"]
        assert (benefit["kind"], benefit["amount"], benefit["status"]) == ("free_basic_services", "1200.00", "granted")
        assert benefit["payee"] == {"name": "王芳", "relation": "子女", "resident_id": son}
        await f.drained()

    events = [e for e in await published(broker, {poor}) if e["type"].endswith("funeral-benefit-granted.v1")]
    assert len(events) == 1, "granted once, whatever was delivered twice"
    assert events[0]["headers"]["ce_correlationid"] == reg["journey_id"]
