"""A marriage registration corrected to name another person (the register had a mistyped resident ID): assistance
re-checks the households of the person wrongly named, the person corrected in and the other party — a review
each, one HouseholdsRechecked per correction, also when the correction is delivered twice."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from civic.auth import identity_headers
from civic.broker import EmbeddedBroker
from contracts.marriage import RegistrationPartyCorrected
from services.assistance.main import build_app
from tests.apps import serving
from tests.conftest import eventually
from tests.factories import resident_id
from tests.integration.test_assistance_workflows import CASEWORKER, RECHECKED, household, on_topic, publish
from tests.kit import inbox_ids, outbox_pending, settings_for

CORRECTED = "civic.marriage.registration-party-corrected.v1"


async def test_a_corrected_party_has_the_households_of_everyone_named_rechecked_once(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    settings = settings_for(f"assistance-{uuid.uuid4().hex[:6]}", tmp_path, broker.bootstrap)
    marriage = settings_for("marriage", tmp_path / "marriage", broker.bootstrap)
    cw = identity_headers(CASEWORKER, settings)
    wrongly_named, corrected_in, spouse = (
        resident_id(date(1985, 2, 3)),
        resident_id(date(1985, 2, 4)),
        resident_id(female=True),
    )
    app = build_app(settings)
    async with serving(app) as api:
        households = {}
        for person in (wrongly_named, corrected_in):
            made = await api.post("/households", json=household([person]), headers=cw)
            assert made.status_code == 201, made.text
            households[person] = made.json()["id"]

        correction = RegistrationPartyCorrected(
            resident_id=corrected_in, previous_resident_id=wrongly_named, spouse_resident_id=spouse,
            marriage_registration_id=uuid.uuid4().hex, marriage_status="married", registered_on=date(2025, 5, 20),
            corrected_on=date(2026, 3, 2),
        )  # fmt: skip
        ids = await publish(marriage, correction, correction)  # delivered twice, under two event ids

        async def rechecks() -> list[dict[str, Any]]:
            return await on_topic(broker.bootstrap, "civic.assistance",
                                  lambda t, d: t == RECHECKED and d["resident_id"] == corrected_in)  # fmt: skip

        async def both_handled() -> bool:
            return set(ids) <= set(await inbox_ids(app.state.service.engine))

        async def rechecked() -> bool:
            return len(await rechecks()) >= 1

        await eventually(rechecked, what="HouseholdsRechecked after the correction")
        await eventually(both_handled, what="both copies of the correction handled")
        await eventually(lambda: _relayed(app), what="assistance's outbox relayed")
        [outcome] = await rechecks()  # one, though the correction came twice
        assert outcome["data"]["trigger"] == CORRECTED
        assert outcome["data"]["households_rechecked"] == 2, "the wrongly named person's household and the other"
        for person, household_id in households.items():
            reviews = (await api.get(f"/households/{household_id}/reviews", headers=cw)).json()
            assert len(reviews) == 1, person
            assert "corrected to name another person" in reviews[0]["reason"]
            assert "verify" in reviews[0]["reason"]


async def _relayed(app: Any) -> bool:
    return await outbox_pending(app.state.service.engine) == 0
