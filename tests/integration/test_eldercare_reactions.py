"""Eldercare's reactions to other departments' facts, read off the real broker: a death stops the allowances and
says so once (also for someone eldercare never knew), its revocation restores them with back-pay; an assistance
approval enrols the household's elders in the difficult-elderly subsidy and its termination ends it. Each event
is also delivered twice (same id, as a relay restart would) and registered twice (new id): one effect."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from aiokafka import AIOKafkaProducer

from civic.broker import EmbeddedBroker
from civic.events import Event
from contracts.assistance import BenefitApproved, BenefitReinstated, BenefitTerminated
from contracts.funeral import DeathRegistered, DeathRevoked, Reporter
from services.eldercare.rules import first_day_of_next_month, first_of_month
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import Eldercare, eldercare
from tests.kit import message_of, settings_for

ENDED = "civic.eldercare.care-of-deceased-ended.v1"
RESTORED = "civic.eldercare.care-of-deceased-restored.v1"


async def deliver(broker: EmbeddedBroker, source: str, *events: Event, twice: bool = True) -> None:
    """Publish as ``source`` would; each message twice (same event id), as after a relay restart."""
    settings = settings_for(source, Path("unused"), broker.bootstrap)  # only the envelope is built from it
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            msg = message_of(event, settings)
            for _ in range(2 if twice else 1):
                await producer.send_and_wait(msg.topic, msg.value, key=msg.key, headers=msg.headers)
    finally:
        await producer.stop()


def death(rid: str, registration: str, died: date) -> DeathRegistered:
    return DeathRegistered(resident_id=rid, registration_id=registration, date_of_death=died,
                           registered_at=datetime.now(UTC), reported_by=Reporter(name="张伟", relation="子女"))  # fmt: skip


async def status_of(ec: Eldercare, rid: str, kind: str = "age") -> str | None:
    for a in await ec.allowances(rid):
        if a["allowance"] == kind:
            return str(a["status"])
    return None


async def test_death_stops_the_allowance_and_revocation_restores_it_with_back_pay(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    elder, stranger = resident_id(date(1941, 4, 4)), resident_id(date(1939, 9, 9))
    async with eldercare(broker, tmp_path) as ec:
        # Someone who becomes known after turning 80 is paid from the month they became known: this month.
        this_month = first_of_month(ec.today)
        next_month = first_day_of_next_month(this_month)
        assert (await ec.register(elder)).status_code == 201
        granted = await ec.run_birthday_job(this_month)  # others too, if its consumers enrolled older elders first
        [allowance] = await ec.allowances(elder)
        allowance_id = allowance["id"]
        assert allowance_id in granted
        await ec.api.post("/allowance-payment-runs", json={"month": this_month.isoformat()}, headers=ec.cw)

        registration = f"d-{elder[-6:]}"
        twice_registered = [death(elder, registration, ec.today)] * 2  # two event ids, one death
        await deliver(broker, "funeral", *twice_registered)
        await deliver(broker, "funeral", death(stranger, f"d-{stranger[-6:]}", ec.today), twice=False)

        async def stopped() -> bool:
            return await status_of(ec, elder) == "stopped"

        await eventually(stopped, what="the deceased's age allowance stopped")
        [allowance] = await ec.allowances(elder)
        assert allowance["stopped_from"] == next_month.isoformat() and registration in allowance["stop_reason"]
        # (The job may grant others: elders this service learnt of from other tests' events on the shared broker.)
        granted = await ec.run_birthday_job(next_month)
        assert [a["id"] for a in await ec.allowances(elder)] == [allowance_id] and allowance_id not in granted, (
            "nothing granted to a dead person"
        )
        await ec.api.post("/allowance-payment-runs", json={"month": next_month.isoformat()}, headers=ec.cw)
        payments = (await ec.api.get(f"/allowances/{allowance_id}/payments", headers=ec.cw)).json()
        assert [p["month"] for p in payments] == [this_month.isoformat()], "the month of death is paid, the next is not"

        await deliver(broker, "funeral", DeathRevoked(resident_id=elder, registration_id=registration,
                                                      reason="wrong person", revoked_at=datetime.now(UTC)))  # fmt: skip

        async def restored() -> bool:
            return await status_of(ec, elder) == "active"

        await eventually(restored, what="the allowance restored")
        payments = (await ec.api.get(f"/allowances/{allowance_id}/payments", headers=ec.cw)).json()
        assert [(p["month"], p["kind"], p["amount"]) for p in payments] == [
            (this_month.isoformat(), "regular", "100.00"),
            (next_month.isoformat(), "back_pay", "100.00"),
        ]

        async def both_facts() -> bool:
            kinds = [k for k, _ in await ec.published({elder, stranger})]
            return kinds.count(ENDED) >= 2 and RESTORED in kinds

        await eventually(both_facts, what="the facts of eldercare's steps")
        events = await ec.published({elder, stranger})
        ended = {d["resident_id"]: d for k, d in events if k == ENDED}
        assert [k for k, _ in events].count(ENDED) == 2, "one fact per death, not per delivery"
        assert [a["allowance_id"] for a in ended[elder]["allowances"]] == [allowance_id]
        assert ended[stranger]["allowances"] == [] and ended[stranger]["released_bed_id"] is None
        [restored_fact] = [d for k, d in events if k == RESTORED]
        assert Decimal(restored_fact["back_pay"]) == Decimal("100.00")
        assert restored_fact["back_pay_months"] == [next_month.isoformat()]
        kinds = [k for k, d in events if d["resident_id"] == elder]
        assert kinds.count("civic.eldercare.allowance-stopped.v1") == 1


async def test_assistance_approval_enrols_elderly_members_and_termination_ends_it(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    grandma, father, child = resident_id(date(1950, 2, 2), female=True), resident_id(date(1975, 1, 1)), \
        resident_id(date(2010, 1, 1))  # fmt: skip
    members = [grandma, father, child]
    case_id = f"case-{grandma[-6:]}"
    async with eldercare(broker, tmp_path) as ec:
        approved = BenefitApproved(resident_id=father, case_id=case_id, benefit="dibao", household_id="h-1",
                                   members=members, region_code="371002", monthly_amount="870.00",
                                   effective_from=date(2026, 11, 1))  # fmt: skip
        await deliver(broker, "assistance", approved, approved)

        async def enrolled() -> bool:
            return (await ec.api.get(f"/elders/{grandma}", headers=ec.cw)).status_code == 200 and await status_of(
                ec, grandma, "difficult_elderly") == "active"  # fmt: skip

        await eventually(enrolled, what="grandmother enrolled in the difficult-elderly subsidy")
        [subsidy] = await ec.allowances(grandma)
        assert (subsidy["granted_from"], subsidy["monthly_amount"]) == ("2026-11-01", "150.00")
        assert (await ec.api.get(f"/elders/{father}", headers=ec.cw)).status_code == 404, "not elderly"

        await deliver(broker, "assistance", BenefitTerminated(
            resident_id=father, case_id=case_id, benefit="dibao", household_id="h-1", members=members,
            effective_from=date(2027, 2, 15), reason="income above the standard"))  # fmt: skip

        async def ended() -> bool:
            return await status_of(ec, grandma, "difficult_elderly") == "ended"

        await eventually(ended, what="the subsidy ended")
        [subsidy] = await ec.allowances(grandma)
        assert subsidy["stopped_from"] == "2027-03-01", "the month already begun is paid"
        events = await ec.published(set(members))
        kinds = [k for k, _ in events]
        assert kinds.count("civic.eldercare.allowance-granted.v1") == 1
        assert kinds.count("civic.eldercare.allowance-stopped.v1") == 1
        assert kinds.count("civic.eldercare.elder-registered.v1") == 1


async def test_a_reinstated_benefit_brings_back_the_subsidy_its_termination_ended(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    grandma, son = resident_id(date(1949, 5, 5), female=True), resident_id(date(1972, 2, 2))
    case_id = f"case-{grandma[-6:]}-r"
    household = {"case_id": case_id, "benefit": "dibao", "household_id": "h-2", "members": [son, grandma]}
    async with eldercare(broker, tmp_path) as ec:
        await deliver(broker, "assistance", BenefitApproved(resident_id=son, **household, region_code="371002",
                                                            monthly_amount="690.00", effective_from=date(2026, 11, 1)))  # fmt: skip

        async def subsidy_is(status: str) -> bool:
            return (await ec.api.get(f"/elders/{grandma}", headers=ec.cw)).status_code == 200 and await status_of(
                ec, grandma, "difficult_elderly") == status  # fmt: skip

        await eventually(lambda: subsidy_is("active"), what="the subsidy granted")
        await deliver(broker, "assistance", BenefitTerminated(resident_id=son, **household, reason="income rose",
                                                              effective_from=date(2027, 2, 15)))  # fmt: skip
        await eventually(lambda: subsidy_is("ended"), what="the subsidy ended")
        await deliver(broker, "assistance", BenefitReinstated(
            resident_id=son, **household, monthly_amount="690.00", reinstated_from=date(2027, 2, 15),
            back_pay="0.00", back_pay_months=[], reason="the termination was a mistake"))  # fmt: skip
        await eventually(lambda: subsidy_is("active"), what="the subsidy back")
        [subsidy] = await ec.allowances(grandma)
        assert (subsidy["granted_from"], subsidy["stopped_from"]) == ("2026-11-01", None), "it never lapsed"
        kinds = [k for k, _ in await ec.published({grandma})]
        assert kinds.count("civic.eldercare.allowance-granted.v1") == 2, "granted, then granted again once"
        assert kinds.count("civic.eldercare.allowance-stopped.v1") == 1


async def test_revocation_gives_the_bed_back_only_if_nobody_took_it_meanwhile(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    taken_over, waiting, kept = resident_id(date(1936, 1, 1)), resident_id(date(1937, 2, 2)), \
        resident_id(date(1938, 3, 3), female=True)  # fmt: skip
    async with eldercare(broker, tmp_path) as ec:
        for rid in (taken_over, waiting, kept):
            assert (await ec.register(rid)).status_code == 201

        async def institution() -> str:
            got = await ec.api.post("/institutions", headers=ec.cw, json={
                "name": "颐养院", "region_code": "371002", "ownership": "public", "beds": {"nursing": 1}})  # fmt: skip
            return str(got.json()["id"])

        async def admit(inst: str, rid: str) -> dict[str, str]:
            got = await ec.api.post(f"/institutions/{inst}/admissions", headers=ec.cw,
                                    json={"resident_id": rid, "bed_kind": "nursing", "admitted_on": "2026-11-02"})  # fmt: skip
            assert got.status_code == 201, got.text
            return dict(got.json())

        async def free(inst: str) -> int:
            return int((await ec.api.get(f"/institutions/{inst}", headers=ec.cw)).json()["free"]["nursing"])

        x, y = await institution(), await institution()
        first, third = await admit(x, taken_over), await admit(y, kept)
        deaths = {rid: f"d-{rid[-6:]}" for rid in (taken_over, kept)}
        await deliver(broker, "funeral", *(death(rid, reg, date(2026, 11, 10)) for rid, reg in deaths.items()))

        async def both_released() -> bool:
            return await free(x) == 1 and await free(y) == 1

        await eventually(both_released, what="both beds released")
        await admit(x, waiting)
        await deliver(broker, "funeral", *(DeathRevoked(resident_id=rid, registration_id=reg, reason="wrong person",
                                                        revoked_at=datetime.now(UTC)) for rid, reg in deaths.items()))  # fmt: skip

        async def both_restored() -> bool:
            return [k for k, _ in await ec.published({taken_over, kept})].count(RESTORED) >= 2

        await eventually(both_restored, what="both deaths' care restored")
        restored = {d["resident_id"]: d for k, d in await ec.published({taken_over, kept}) if k == RESTORED}
        assert [k for k, _ in await ec.published({taken_over, kept})].count(RESTORED) == 2, "once per death"
        assert (restored[kept]["restored_admission_id"], restored[kept]["bed_restored"]) == (third["id"], True)
        assert restored[taken_over]["restored_admission_id"] == first["id"]
        assert restored[taken_over]["bed_restored"] is False, "the bed went to someone else: a caseworker readmits"
        assert await free(x) == 0 and await free(y) == 0
        again = await ec.api.post(f"/institutions/{y}/admissions", headers=ec.cw,
                                  json={"resident_id": kept, "bed_kind": "nursing", "admitted_on": "2026-11-20"})  # fmt: skip
        assert again.status_code == 409 and again.json()["type"].endswith("/already-admitted"), "resident again"
