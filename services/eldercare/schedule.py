"""The birthday job by itself (免申即享): at start-up, catching up on downtime, then every hour, everyone known,
alive and 80 or over today gets the age allowance. ``POST /age-allowance-runs`` runs the same job for a given day
(an operator catching up by hand, and the tests)."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from civic.clock import clock_of
from civic.schedule import periodic
from services.eldercare import grants
from services.eldercare.policy_store import current_policy

log = logging.getLogger("services.eldercare.schedule")
INTERVAL_S = 3600.0


async def grant_age_allowances_due_today(app: FastAPI) -> None:
    service = app.state.service
    today = clock_of(app)()  # birthdays are counted in the elders' calendar, whatever the server's zone
    async with service.sessions() as session:
        granted = await grants.grant_age_allowances_due(session, service.outbox, today,
                                                        await current_policy(session), "daily birthday job")  # fmt: skip
        await session.commit()
    if granted:
        log.info("birthday job: %d age allowances granted for %s", len(granted), today)


birthday_job = periodic("age-allowance-daily-job", grant_age_allowances_due_today, INTERVAL_S)
