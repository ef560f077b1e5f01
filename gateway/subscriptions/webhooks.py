"""Webhook deliveries: one worker task per subscription sends its due deliveries; a failure is retried with
exponential backoff until ``webhook_max_attempts``, then the delivery is marked failed (listed and re-sendable
through the API). A dead or slow receiver only ever occupies its own subscription's worker.

Signature: ``X-Civic-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`` with the timestamp in
``X-Civic-Timestamp`` (receivers refuse old timestamps to stop replays) and ``X-Civic-Delivery-Id`` the same on
every attempt, so receivers de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from civic.app import Service
from gateway.settings import GatewaySettings
from gateway.subscriptions.sealing import SecretUnreadable, seal_clear_secrets, unseal
from gateway.subscriptions.tables import Delivery, FeedEntry, Subscription
from gateway.subscriptions.targets import UnsafeWebhookUrl, pinned

log = logging.getLogger("gateway.webhooks")
_BATCH = 20


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class Deliverer:
    def __init__(self, service: Service, settings: GatewaySettings, client: httpx.AsyncClient) -> None:
        self.service, self.settings, self.client = service, settings, client
        self.workers: dict[str, asyncio.Task[None]] = {}

    async def supervise(self) -> None:
        """Keep one worker per subscription with a webhook (new subscriptions get theirs within a poll)."""
        while True:
            try:
                async with self.service.sessions() as session:
                    subs = (await session.exec(select(Subscription.id).where(
                        Subscription.active == True, col(Subscription.webhook_url).is_not(None)))).all()  # noqa: E712  # fmt: skip
                for sub_id in subs:
                    if sub_id not in self.workers or self.workers[sub_id].done():
                        self.workers[sub_id] = asyncio.create_task(self.work(sub_id), name=f"webhooks-{sub_id}")
            except Exception:
                log.exception("webhook supervisor could not read subscriptions; trying again")
            await asyncio.sleep(self.settings.delivery_poll_s)

    async def work(self, sub_id: str) -> None:
        while True:
            try:
                sent = await self._send_due(sub_id)
            except Exception:
                log.exception("webhook worker for %s failed; trying again", sub_id)
                sent = 0
            if not sent:
                await asyncio.sleep(self.settings.delivery_poll_s)

    async def _send_due(self, sub_id: str) -> int:
        async with self.service.sessions() as session:
            sub = await session.get(Subscription, sub_id)
            if sub is None or not sub.active or not sub.webhook_url:
                return 0
            due = (await session.exec(
                select(Delivery, FeedEntry).join(FeedEntry, col(FeedEntry.seq) == col(Delivery.seq))
                .where(Delivery.subscription_id == sub_id, Delivery.state == "pending",
                       col(Delivery.next_attempt_at) <= datetime.now(UTC))
                .order_by(col(Delivery.seq)).limit(_BATCH)
            )).all()  # fmt: skip
            for delivery, entry in due:
                if delivery.attempts >= self.settings.webhook_max_attempts:
                    # Its last attempt went out but its answer was never recorded: it has had its tries.
                    delivery.state, delivery.last_error = "failed", "the answer to the last attempt was not recorded"
                    await session.commit()
                    continue
                # The attempt is on record before the request leaves, with its retry already scheduled: whatever
                # happens after the send (the outcome's commit failing on a busy database, the process killed),
                # every request a receiver saw is counted and the retry waits its backoff instead of coming at once.
                delivery.attempts += 1
                delivery.next_attempt_at = self._retry_at(delivery.attempts)
                await session.commit()
                await self._attempt(sub, delivery, entry.payload.encode())
                await session.commit()
            return len(due)

    def _retry_at(self, attempts: int) -> datetime:
        backoff = self.settings.webhook_backoff_initial_s * 2 ** (attempts - 1)
        return datetime.now(UTC) + timedelta(seconds=min(backoff, self.settings.webhook_backoff_max_s))

    async def _attempt(self, sub: Subscription, delivery: Delivery, body: bytes) -> None:
        """Send one delivery (its attempt already counted) and record the answer."""
        try:
            assert sub.webhook_url is not None
            timestamp = str(int(time.time()))
            headers = {
                "content-type": "application/cloudevents+json; charset=utf-8",
                "x-civic-signature": signature(unseal(self.settings, sub.id, sub.secret), timestamp, body),
                "x-civic-timestamp": timestamp,
                "x-civic-delivery-id": delivery.id,
            }
            # Checked again now (DNS may answer differently than at registration), and sent to that address.
            target = await pinned(sub.webhook_url, self.settings.webhook_allow_private_networks)
            response = await self.client.post(target.url, content=body, headers={**headers, **target.headers},
                                              extensions=target.extensions,
                                              timeout=self.settings.webhook_timeout_s)  # fmt: skip
            delivery.last_status, delivery.last_error = response.status_code, None
            ok = response.is_success
        except UnsafeWebhookUrl as exc:
            delivery.last_status, delivery.last_error, ok = None, f"refused: {exc}"[:500], False
        except SecretUnreadable as exc:
            delivery.last_status, delivery.last_error, ok = None, f"not signed: {exc}"[:500], False
        except httpx.HTTPError as exc:
            delivery.last_status, delivery.last_error, ok = None, f"{type(exc).__name__}: {exc}"[:500], False
        if ok:
            delivery.state, delivery.delivered_at = "delivered", datetime.now(UTC)
        elif delivery.attempts >= self.settings.webhook_max_attempts:
            delivery.state = "failed"
        else:  # a failure: its backoff counts from now, not from the send (a timeout may outlast the backoff)
            delivery.next_attempt_at = self._retry_at(delivery.attempts)


@contextlib.asynccontextmanager
async def running_deliveries(app: FastAPI) -> AsyncIterator[None]:
    """A lifespan resource: the supervisor and its workers run while the gateway runs."""
    settings: GatewaySettings = app.state.gateway_settings
    sealed = await seal_clear_secrets(app.state.service, settings)
    if sealed:
        log.info("sealed the webhook secrets of %d subscriptions written before sealing", sealed)
    async with httpx.AsyncClient(follow_redirects=False) as client:
        deliverer = Deliverer(app.state.service, settings, client)
        supervisor = asyncio.create_task(deliverer.supervise(), name="webhook-supervisor")
        try:
            yield
        finally:
            tasks = [supervisor, *deliverer.workers.values()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
