"""Subscriptions, the per-subscription feed of scoped events (what SSE streams, by sequence number) and the webhook
deliveries (rows worked by a background task per subscription, so a slow receiver holds up nobody else)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from civic.db import table_of
from gateway.tables import GatewayBase


class Subscription(GatewayBase, table=True):
    __tablename__ = "subscription"

    id: str = Field(primary_key=True, max_length=40)
    department: str = Field(index=True, max_length=200)  # the department system's subject
    event_types: str  # JSON list of CloudEvents types
    filter: str  # JSON {field: value}; a value matches itself and every code under it (region 3710 ⊃ 371002)
    fields: str = "[]"  # JSON list: the data fields its scope allows, set by an operator; none until then
    webhook_url: str | None = Field(default=None, max_length=2000)
    # The HMAC key of the webhook signatures, sealed (gateway.subscriptions.sealing); given to the department once.
    secret: str = Field(max_length=200)
    active: bool = True
    created_at: datetime


class FeedEntry(GatewayBase, table=True):
    __tablename__ = "subscription_feed"
    __table_args__ = (UniqueConstraint("subscription_id", "event_id"),)

    seq: int | None = Field(default=None, primary_key=True)  # the SSE event id (Last-Event-ID resumes after it)
    subscription_id: str = Field(index=True, max_length=40)
    event_id: str = Field(max_length=80)
    type: str = Field(max_length=200)
    payload: str  # the CloudEvent (structured JSON) with only the scoped fields
    created_at: datetime


class Delivery(GatewayBase, table=True):
    __tablename__ = "webhook_delivery"

    id: str = Field(primary_key=True, max_length=40)  # X-Civic-Delivery-Id: the same on every attempt
    subscription_id: str = Field(index=True, max_length=40)
    seq: int
    state: str = Field(index=True, max_length=12)  # pending | delivered | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(index=True)
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = None


TABLES = [table_of(Subscription), table_of(FeedEntry), table_of(Delivery)]
