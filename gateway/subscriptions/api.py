"""Subscription routes: a department system registers and reads its subscriptions, streams its feed (SSE) and sees
its webhook deliveries; an operator sets each subscription's field scope and may re-send failed deliveries."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from civic.app import ServiceDep, SessionDep
from civic.auth import Principal, Role
from civic.events import Event
from civic.ids import new_id
from civic.problems import NotFound, Problem
from gateway import audit
from gateway.callers import caller
from gateway.settings import GatewaySettings
from gateway.subscriptions.sealing import seal
from gateway.subscriptions.tables import Delivery, FeedEntry, Subscription
from gateway.subscriptions.targets import UnsafeWebhookUrl, checked

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"])
Caller = Annotated[Principal, Depends(caller)]
_KEEPALIVE_S = 15.0


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_types: list[str] = Field(min_length=1, max_length=50)
    filter: dict[str, str] = Field(default_factory=dict, description="e.g. {'region_code': '3710'}")
    webhook_url: str | None = Field(None, max_length=2000, description="http(s), resolving to public addresses only")


class ScopeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[str] = Field(max_length=100)


class SubscriptionPublic(BaseModel):
    id: str
    department: str
    event_types: list[str]
    filter: dict[str, str]
    fields: list[str]
    webhook_url: str | None
    active: bool
    created_at: datetime


class SubscriptionCreated(SubscriptionPublic):
    secret: str = Field(description="the HMAC key of the webhook signatures; shown only now")


class DeliveryPublic(BaseModel):
    id: str
    seq: int
    state: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


def _public(sub: Subscription) -> dict[str, Any]:
    return {"id": sub.id, "department": sub.department, "event_types": json.loads(sub.event_types),
            "filter": json.loads(sub.filter), "fields": json.loads(sub.fields), "webhook_url": sub.webhook_url,
            "active": sub.active, "created_at": sub.created_at}  # fmt: skip


async def _visible(session: SessionDep, sub_id: str, principal: Principal) -> Subscription:
    """A department sees its own subscriptions; operators and auditors see all; anyone else sees none (404)."""
    sub = await session.get(Subscription, sub_id)
    if sub is None or not (principal.role in (Role.OPERATOR, Role.AUDITOR) or (
            principal.role is Role.DEPARTMENT and sub.department == principal.subject)):  # fmt: skip
        raise NotFound("Subscription")
    return sub


@router.post("", status_code=201, response_model=SubscriptionCreated)
async def register_subscription(
    body: SubscriptionCreate, principal: Caller, session: SessionDep, request: Request
) -> dict[str, Any]:
    if principal.role is not Role.DEPARTMENT:
        raise Problem(403, "forbidden", "Not allowed", "Subscriptions are registered by department systems.")
    unknown = [t for t in body.event_types if t not in Event.registry or not Event.registry[t].published]
    if unknown:
        raise Problem(422, "unknown-event-type", "Unknown event type", ", ".join(unknown), field="event_types")
    settings: GatewaySettings = request.app.state.gateway_settings
    if body.webhook_url is not None:
        try:
            await checked(body.webhook_url, settings.webhook_allow_private_networks)
        except UnsafeWebhookUrl as exc:
            raise Problem(422, "unsafe-webhook-url", "The webhook URL may not be called", str(exc),
                          field="webhook_url") from exc  # fmt: skip
    sub_id, secret = new_id(), secrets.token_urlsafe(32)
    sub = Subscription(
        id=sub_id, department=principal.subject, event_types=json.dumps(sorted(set(body.event_types))),
        filter=json.dumps(body.filter), webhook_url=body.webhook_url.strip() if body.webhook_url else None,
        secret=seal(settings, sub_id, secret), created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(sub)
    await session.commit()
    return {**_public(sub), "secret": secret}


class SecretRotated(BaseModel):
    secret: str = Field(description="the new HMAC key of the webhook signatures; shown only now")


@router.post("/{sub_id}/secret", response_model=SecretRotated)
async def rotate_secret(sub_id: str, principal: Caller, session: SessionDep, request: Request) -> SecretRotated:
    """A new signing secret (the old one lost or leaked); deliveries from now on are signed with it."""
    sub = await _visible(session, sub_id, principal)
    if principal.role is not Role.DEPARTMENT:
        raise Problem(403, "forbidden", "Not allowed", "Only the subscribing department rotates its secret.")
    secret = secrets.token_urlsafe(32)
    sub.secret = seal(request.app.state.gateway_settings, sub.id, secret)
    session.add(sub)
    await session.commit()
    return SecretRotated(secret=secret)


@router.get("", response_model=list[SubscriptionPublic])
async def list_subscriptions(principal: Caller, session: SessionDep) -> list[dict[str, Any]]:
    query = select(Subscription).order_by(col(Subscription.created_at))
    if principal.role is Role.DEPARTMENT:
        query = query.where(Subscription.department == principal.subject)
    elif principal.role not in (Role.OPERATOR, Role.AUDITOR):
        raise Problem(403, "forbidden", "Not allowed", "Subscriptions are for departments and operators.")
    return [_public(s) for s in (await session.exec(query)).all()]


@router.put("/{sub_id}/scope", response_model=SubscriptionPublic)
async def set_scope(sub_id: str, body: ScopeUpdate, principal: Caller, session: SessionDep) -> dict[str, Any]:
    """The fields a department may receive are decided by an operator, never by the department itself."""
    if principal.role is not Role.OPERATOR:
        raise Problem(403, "forbidden", "Not allowed", "Only an operator sets what a subscription may receive.")
    sub = await _visible(session, sub_id, principal)
    known = {f for t in json.loads(sub.event_types) for f in Event.registry[t].model_fields}
    unknown = sorted(set(body.fields) - known)
    if unknown:
        raise Problem(422, "unknown-field", "Not a field of the subscribed events", ", ".join(unknown), field="fields")
    sub.fields = json.dumps(sorted(set(body.fields)))
    session.add(sub)
    await session.commit()
    return _public(sub)


@router.get("/{sub_id}/deliveries", response_model=list[DeliveryPublic])
async def list_deliveries(
    sub_id: str, principal: Caller, session: SessionDep, state: str | None = None
) -> list[Delivery]:
    await _visible(session, sub_id, principal)
    query = select(Delivery).where(Delivery.subscription_id == sub_id)
    if state:
        query = query.where(Delivery.state == state)
    return list((await session.exec(query.order_by(col(Delivery.seq)).limit(1000))).all())


@router.post("/{sub_id}/deliveries/{delivery_id}/resend", response_model=DeliveryPublic)
async def resend_delivery(sub_id: str, delivery_id: str, principal: Caller, session: SessionDep) -> Delivery:
    await _visible(session, sub_id, principal)
    if principal.role not in (Role.OPERATOR, Role.DEPARTMENT):
        raise Problem(403, "forbidden", "Not allowed", "Auditors read deliveries; they do not send them.")
    delivery = await session.get(Delivery, delivery_id)
    if delivery is None or delivery.subscription_id != sub_id:
        raise NotFound("Delivery")
    if delivery.state != "failed":
        raise Problem(409, "not-failed", "Only failed deliveries are re-sent", f"This one is {delivery.state}.")
    delivery.state, delivery.attempts, delivery.next_attempt_at = "pending", 0, datetime.now(UTC)
    session.add(delivery)
    await session.commit()
    return delivery


@router.get("/{sub_id}/events", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})  # fmt: skip
async def stream_events(
    sub_id: str, request: Request, principal: Caller, session: SessionDep, service: ServiceDep,
    last_event_id: Annotated[str | None, Header()] = None,
) -> StreamingResponse:  # fmt: skip
    """Server-sent events of the subscription's feed; reconnect with ``Last-Event-ID`` to resume after it."""
    sub = await _visible(session, sub_id, principal)
    if principal.role is not Role.DEPARTMENT:
        raise Problem(403, "forbidden", "Not allowed", "The stream is for the subscribing department.")
    try:
        after = int(last_event_id or 0)
    except ValueError as exc:
        raise Problem(422, "invalid-last-event-id", "Invalid Last-Event-ID", field="Last-Event-ID") from exc
    await audit.record_read(service, request, principal, "subscriptions", request.url.path)
    poll_s: float = request.app.state.gateway_settings.delivery_poll_s

    async def events() -> AsyncIterator[str]:
        nonlocal after
        idle = 0.0
        yield "retry: 1000\n\n"
        while True:
            async with service.sessions() as db:
                entries = (await db.exec(select(FeedEntry).where(
                    FeedEntry.subscription_id == sub.id, col(FeedEntry.seq) > after,
                ).order_by(col(FeedEntry.seq)).limit(100))).all()  # fmt: skip
            for entry in entries:
                assert entry.seq is not None
                after = entry.seq
                yield f"id: {entry.seq}\nevent: {entry.type}\ndata: {entry.payload}\n\n"
            if entries:
                idle = 0.0
                continue
            if await request.is_disconnected():
                return
            await asyncio.sleep(poll_s)
            idle += poll_s
            if idle >= _KEEPALIVE_S:  # a comment line keeps proxies from closing a quiet stream
                idle = 0.0
                yield ": keepalive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"cache-control": "no-cache", "x-accel-buffering": "no"})  # fmt: skip
