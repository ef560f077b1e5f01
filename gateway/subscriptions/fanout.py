"""The gateway's consumer (group ``gateway``): every published event is matched against the active subscriptions
and, for each match, stored as a scoped CloudEvent in that subscription's feed with a webhook delivery row, in the
runner's transaction (so the inbox makes a redelivered event change nothing). Nothing is sent from here."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

import contracts  # noqa: F401 - fills the event registry
from civic.bus import Handler, HandlerContext, Handlers
from civic.events import SPECVERSION, Envelope, Event
from civic.ids import new_id
from gateway.subscriptions.tables import Delivery, FeedEntry, Subscription


def matches(filter_: dict[str, str], data: dict[str, Any]) -> bool:
    """Every filter field must be present; codes are hierarchical, so a prefix matches (region 3710 ⊃ 371002)."""
    return all(isinstance(data.get(k), str) and data[k].startswith(v) for k, v in filter_.items())


def scoped_cloudevent(envelope: Envelope, data: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    # The subject (a pseudonym) and the journey ids stay inside: a department gets only what its scope names.
    return {
        "specversion": SPECVERSION, "id": envelope.id, "source": envelope.source, "type": envelope.type,
        "time": envelope.time.isoformat().replace("+00:00", "Z"), "datacontenttype": "application/json",
        "data": {f: data[f] for f in fields if f in data},
    }  # fmt: skip


_ACTIVE = "civic_active_subscriptions"


async def _active_subscriptions(session: AsyncSession) -> list[Subscription]:
    """Read once per consumer transaction (up to ``consumer_transaction_size`` events), not once per event: every
    published event comes here, and most match no subscription. A subscription added meanwhile applies from the
    next transaction on."""
    active: list[Subscription] | None = session.info.get(_ACTIVE)
    if active is None:
        active = session.info[_ACTIVE] = list(
            (await session.exec(select(Subscription).where(Subscription.active == True))).all()  # noqa: E712
        )
    return active


async def deliver_to_subscribers(event: Event, ctx: HandlerContext) -> None:
    subscriptions = await _active_subscriptions(ctx.session)
    if not subscriptions:
        return
    data = event.model_dump(mode="json")
    now = datetime.now(UTC)
    for sub in subscriptions:
        if ctx.envelope.type not in json.loads(sub.event_types) or not matches(json.loads(sub.filter), data):
            continue
        payload = scoped_cloudevent(ctx.envelope, data, json.loads(sub.fields))
        entry = FeedEntry(subscription_id=sub.id, event_id=ctx.envelope.id, type=ctx.envelope.type,
                          payload=json.dumps(payload, ensure_ascii=False), created_at=now)  # fmt: skip
        ctx.session.add(entry)
        await ctx.session.flush()
        if sub.webhook_url:
            assert entry.seq is not None
            ctx.session.add(Delivery(id=new_id(), subscription_id=sub.id, seq=entry.seq, state="pending",
                                     next_attempt_at=now))  # fmt: skip


def subscription_handlers() -> Handlers:
    handler: list[Handler] = [deliver_to_subscribers]
    return {cls: handler for cls in Event.registry.values() if cls.published}
