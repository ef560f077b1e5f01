"""Eldercare's answers in the one-thing workflows, read off the real broker: a road renamed updates the displayed
address of every elder held on it by door plate and is answered once per rename (0 when no elder lives there);
every assistance approval is answered once with how many elders it enrolled (0 when none qualifies). Each answer
carries the journey id (correlation id) and the subject of the event it answers, so the tracker can mark the step."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from civic.broker import EmbeddedBroker
from civic.events import Event
from contracts.assistance import BenefitApproved
from contracts.placenames import DoorPlateChanged, RoadRenamed
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_eldercare_allowances import Eldercare, eldercare
from tests.kit import Message, message_of, settings_for

ADDRESSES_UPDATED = "civic.eldercare.elder-addresses-updated.v1"
ENROLLED = "civic.eldercare.household-elders-enrolled.v1"
GRANTED = "civic.eldercare.allowance-granted.v1"


@dataclass(frozen=True)
class Record:
    type: str
    data: dict[str, Any]
    headers: dict[str, str]


async def send(broker: EmbeddedBroker, source: str, *messages: Message) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for msg in messages:
            await producer.send_and_wait(msg.topic, msg.value, key=msg.key, headers=msg.headers)
    finally:
        await producer.stop()


def as_published_by(source: str, broker: EmbeddedBroker, event: Event) -> Message:
    """The event as ``source``'s relay would publish it: a new event id, which is also its journey id."""
    return message_of(event, settings_for(source, Path("unused"), broker.bootstrap))


async def records(ec: Eldercare, wanted: str) -> list[Record]:
    """Every event of type ``wanted`` on eldercare's topic, once its outbox has published all it holds."""
    await eventually(ec._drained, what="eldercare's outbox published")
    consumer = AIOKafkaConsumer(bootstrap_servers=ec.broker.bootstrap, enable_auto_commit=False,
                                group_id=f"t-{uuid.uuid4().hex[:8]}")  # fmt: skip
    await consumer.start()
    found: list[Record] = []
    try:
        await consumer.topics()
        topic = "civic.eldercare"
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)

        async def behind() -> bool:
            return any([await consumer.position(tp) < end[tp] for tp in partitions])

        while await behind():
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                for r in batch:
                    headers = {k: v.decode() for k, v in r.headers}
                    if headers["ce_type"] == wanted:
                        found.append(Record(wanted, json.loads(r.value or b"{}"), headers))
    finally:
        await consumer.stop()
    return found


def header(msg: Message, name: str) -> str:
    return dict(msg.headers)[name].decode()


async def test_a_renamed_road_updates_the_elders_on_it_and_is_answered_once_per_rename(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    road, empty_road, other_road = (f"R{uuid.uuid4().hex[:8]}" for _ in range(3))
    on_road, next_door, free_text, elsewhere = (resident_id(date(1944, 5, n)) for n in (1, 2, 3, 4))
    async with eldercare(broker, tmp_path) as ec:
        plate = {"road_code": road, "road_name": "新华路", "number": 12, "suffix": "1", "detail": "3单元201室"}
        registered = await ec.register(on_road, door_plate=plate)
        assert registered.status_code == 201, registered.text
        assert registered.json()["address"] == "新华路12-1号3单元201室"
        assert registered.json()["door_plate"] == plate
        await ec.register(next_door, door_plate={"road_code": road, "road_name": "新华路", "number": 14})
        await ec.register(free_text, address="新华路16号")  # the old free-text input still works
        await ec.register(elsewhere, door_plate={"road_code": other_road, "road_name": "新华路", "number": 1})
        both = await ec.register(resident_id(date(1944, 5, 5)), address="新华路18号", door_plate=plate)
        assert both.status_code == 422 and both.json()["field"] == "address", "the address once, not twice"

        renamed = as_published_by("placenames", broker, RoadRenamed(
            road_code=road, region_code="371002", old_name="新华路", new_name="建设路",
            effective_on=date(2026, 12, 1)))  # fmt: skip
        nobody = as_published_by("placenames", broker, RoadRenamed(
            road_code=empty_road, region_code="371002", old_name="旧街", new_name="新街",
            effective_on=date(2026, 12, 1)))  # fmt: skip
        await send(broker, "placenames", renamed, renamed, nobody)  # the first delivered twice (same event id)

        async def moved() -> bool:
            got = (await ec.api.get(f"/elders/{on_road}", headers=ec.cw)).json()
            return bool(got["address"] == "建设路12-1号3单元201室")

        await eventually(moved, what="the elder's address shows the new road name")
        mine = (await ec.api.get(f"/elders/{on_road}", headers=ec.citizen(on_road))).json()
        assert mine["door_plate"]["road_name"] == "建设路" and mine["door_plate"]["road_code"] == road
        assert (await ec.api.get(f"/elders/{next_door}", headers=ec.cw)).json()["address"] == "建设路14号"
        assert (await ec.api.get(f"/elders/{free_text}", headers=ec.cw)).json()["address"] == "新华路16号"
        assert (await ec.api.get(f"/elders/{elsewhere}", headers=ec.cw)).json()["address"] == "新华路1号"

        async def answered() -> bool:
            got = {r.data["road_code"] for r in await records(ec, ADDRESSES_UPDATED)}
            return {road, empty_road} <= got

        await eventually(answered, what="both renames answered")
        answers = [r for r in await records(ec, ADDRESSES_UPDATED) if r.data["road_code"] in {road, empty_road}]
        by_road = {r.data["road_code"]: r for r in answers}
        assert len(answers) == 2, "one answer per rename, not per delivery"
        assert by_road[road].data == {"road_code": road, "new_name": "建设路", "elders_updated": 2}
        assert by_road[empty_road].data["elders_updated"] == 0, "answered also when no elder lives there"
        for msg, answer in ((renamed, by_road[road]), (nobody, by_road[empty_road])):
            assert answer.headers["ce_correlationid"] == header(msg, "ce_correlationid"), "the journey followed"
            assert answer.headers["ce_subject"] == header(msg, "ce_subject") == answer.data["road_code"]
            assert answer.headers["ce_causationid"] == msg.event_id

        # A later rename of the same road is a new fact, answered again.
        again = as_published_by("placenames", broker, RoadRenamed(
            road_code=road, region_code="371002", old_name="建设路", new_name="幸福路",
            effective_on=date(2027, 6, 1)))  # fmt: skip
        await send(broker, "placenames", again)

        async def second() -> bool:
            return len([r for r in await records(ec, ADDRESSES_UPDATED) if r.data["road_code"] == road]) == 2

        await eventually(second, what="the second rename answered")
        assert (await ec.api.get(f"/elders/{on_road}", headers=ec.cw)).json()["address"] == "幸福路12-1号3单元201室"


def approval(applicant: str, members: list[str], case_id: str, benefit: str = "dibao") -> BenefitApproved:
    return BenefitApproved(resident_id=applicant, case_id=case_id, benefit=benefit, household_id=f"h-{case_id}",
                           members=members, region_code="371002", monthly_amount="870.00",
                           effective_from=date(2026, 11, 1))  # fmt: skip


async def test_every_assistance_approval_is_answered_once_with_the_elders_it_enrolled(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:6]
    grandma, grandpa, father = resident_id(date(1950, 2, 2), female=True), resident_id(date(1948, 7, 7)), \
        resident_id(date(1975, 1, 1))  # fmt: skip
    young_applicant, temp_elder = resident_id(date(1990, 1, 1)), resident_id(date(1945, 1, 1))
    async with eldercare(broker, tmp_path) as ec:
        household = as_published_by("assistance", broker, approval(father, [father, grandma, grandpa], f"c1-{run}"))
        no_elder = as_published_by("assistance", broker, approval(young_applicant, [young_applicant], f"c2-{run}"))
        temporary = as_published_by("assistance", broker,
                                    approval(temp_elder, [temp_elder], f"c3-{run}", benefit="temporary"))  # fmt: skip
        await send(broker, "assistance", household, household, no_elder, temporary)

        cases = {f"c1-{run}", f"c2-{run}", f"c3-{run}"}

        async def all_answered() -> bool:
            return cases <= {r.data["case_id"] for r in await records(ec, ENROLLED)}

        await eventually(all_answered, what="every approval answered")
        answers = {r.data["case_id"]: r for r in await records(ec, ENROLLED) if r.data["case_id"] in cases}
        assert len([r for r in await records(ec, ENROLLED) if r.data["case_id"] in cases]) == 3, "once each"
        first = answers[f"c1-{run}"]
        assert (first.data["enrolled"], first.data["repeated"]) == (2, False)
        assert (first.data["household_id"], first.data["benefit"]) == (f"h-c1-{run}", "dibao")
        assert first.data["resident_id"] == father and first.data["effective_from"] == "2026-11-01"
        assert answers[f"c2-{run}"].data["enrolled"] == 0, "no elderly member"
        assert answers[f"c3-{run}"].data["enrolled"] == 0, "temporary assistance does not entitle"
        for msg, case in ((household, f"c1-{run}"), (no_elder, f"c2-{run}"), (temporary, f"c3-{run}")):
            answer = answers[case]
            assert answer.headers["ce_correlationid"] == header(msg, "ce_correlationid"), "the journey followed"
            assert answer.headers["ce_subject"] == header(msg, "ce_subject"), "the key assistance used"
            assert answer.headers["ce_causationid"] == msg.event_id

        # The same approval again under a new event id (another journey): answered with the first count, nothing
        # granted twice.
        copy = as_published_by("assistance", broker, approval(father, [father, grandma, grandpa], f"c1-{run}"))
        await send(broker, "assistance", copy)

        async def copy_answered() -> bool:
            return any(r.headers["ce_causationid"] == copy.event_id for r in await records(ec, ENROLLED))

        await eventually(copy_answered, what="the copy answered")
        [repeat] = [r for r in await records(ec, ENROLLED) if r.headers["ce_causationid"] == copy.event_id]
        assert (repeat.data["enrolled"], repeat.data["repeated"]) == (2, True)
        assert repeat.headers["ce_correlationid"] == header(copy, "ce_correlationid")
        for elder in (grandma, grandpa):
            [subsidy] = await ec.allowances(elder)
            assert (subsidy["allowance"], subsidy["status"]) == ("difficult_elderly", "active")
        granted = [d for k, d in await ec.published({grandma, grandpa, temp_elder}) if k == GRANTED]
        assert sorted(d["resident_id"] for d in granted) == sorted([grandma, grandpa]), "granted once each"
        assert (await ec.api.get(f"/elders/{temp_elder}", headers=ec.cw)).status_code == 404


async def test_an_elder_who_moves_is_followed_by_the_renames_of_the_new_road_only(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    old_road, new_road = f"R{uuid.uuid4().hex[:8]}", f"R{uuid.uuid4().hex[:8]}"
    elder = resident_id(date(1946, 6, 6))
    async with eldercare(broker, tmp_path) as ec:
        await ec.register(elder, address="戚家庄32号")  # known by free text first
        moved = await ec.api.put(f"/elders/{elder}/address", headers=ec.cw, json={
            "door_plate": {"road_code": old_road, "road_name": "统一路", "number": 7}})  # fmt: skip
        assert moved.status_code == 200 and moved.json()["address"] == "统一路7号"
        moved = await ec.api.put(f"/elders/{elder}/address", headers=ec.cw, json={
            "door_plate": {"road_code": new_road, "road_name": "文化路", "number": 21, "detail": "2单元"}})  # fmt: skip
        assert moved.json()["address"] == "文化路21号2单元"
        by_citizen = await ec.api.put(f"/elders/{elder}/address", headers=ec.citizen(elder), json={"address": "x"})
        assert by_citizen.status_code == 403

        renames = [as_published_by("placenames", broker, RoadRenamed(
            road_code=road, region_code="371002", old_name=old, new_name=new, effective_on=date(2027, 1, 1)))
            for road, old, new in ((old_road, "统一路", "统一中路"), (new_road, "文化路", "文化东路"))]  # fmt: skip
        await send(broker, "placenames", *renames)

        async def answered() -> bool:
            return {old_road, new_road} <= {r.data["road_code"] for r in await records(ec, ADDRESSES_UPDATED)}

        await eventually(answered, what="both renames answered")
        counts = {r.data["road_code"]: r.data["elders_updated"] for r in await records(ec, ADDRESSES_UPDATED)
                  if r.data["road_code"] in {old_road, new_road}}  # fmt: skip
        assert counts == {old_road: 0, new_road: 1}, "the road the elder left holds nobody now"
        assert (await ec.api.get(f"/elders/{elder}", headers=ec.cw)).json()["address"] == "文化东路21号2单元"
        back = await ec.api.put(f"/elders/{elder}/address", headers=ec.cw, json={"address": "敬老院"})
        assert back.json()["address"] == "敬老院" and back.json()["door_plate"] is None


async def test_a_changed_house_number_moves_the_elders_at_it(broker: EmbeddedBroker, tmp_path: Path) -> None:
    road = f"R{uuid.uuid4().hex[:8]}"
    at_3, at_5 = resident_id(date(1941, 1, 1)), resident_id(date(1942, 2, 2))
    async with eldercare(broker, tmp_path) as ec:
        for rid, number in ((at_3, 3), (at_5, 5)):
            plate = {"road_code": road, "road_name": "海港路", "number": number}
            assert (await ec.register(rid, door_plate=plate)).status_code == 201
        change = DoorPlateChanged(plate_id="p-1", road_code=road, region_code="371002", old_number=3, number=7,
                                  suffix="1", address="海港路7-1号", smart_code="SMART1", changed_on=date(2026, 11, 20))  # fmt: skip
        message = as_published_by("placenames", broker, change)
        await send(broker, "placenames", message, message)  # delivered twice (same event id)

        async def moved() -> bool:
            return (await ec.api.get(f"/elders/{at_3}", headers=ec.cw)).json()["address"] == "海港路7-1号"

        await eventually(moved, what="the elder at No. 3 shown at No. 7-1")
        assert (await ec.api.get(f"/elders/{at_5}", headers=ec.cw)).json()["address"] == "海港路5号"
