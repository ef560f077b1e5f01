"""``Idempotency-Key`` on POST: the first request with a key claims it (a row whose primary key is the caller and
the key); a repeat, even one that arrives while the first is still with the service, waits for and returns the
first's stored response, so the service acts once. The same key with a different request is a client error.

Keys are kept for ``idempotency_ttl_s`` (a day by default): a key older than that acts as new, and
``purging_expired_keys`` deletes the old rows every ``idempotency_purge_every_s``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI, Request, Response
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal
from civic.problems import Problem, problem_response
from civic.schedule import periodic
from gateway.tables import IdempotencyRecord

log = logging.getLogger("gateway.idempotency")

MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "idempotent-replayed"
_WAIT_STEP_S = 0.05
_STORED_HEADERS = {"content-type", "location", "etag", "retry-after"}


def fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), str(request.query_params).encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite gives back naive UTC


async def _claim(
    sessions: async_sessionmaker[AsyncSession], owner: str, key: str, fp: str, ttl: timedelta
) -> IdempotencyRecord | None:
    """None if this request now owns the key; else the record of the (unexpired) request that does."""
    for _ in range(5):
        async with sessions() as session:
            session.add(IdempotencyRecord(owner=owner, key=key, fingerprint=fp, created_at=datetime.now(UTC)))
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
            holder = await session.get(IdempotencyRecord, (owner, key), populate_existing=True)
            if holder is None:
                continue  # released or purged meanwhile: claim it again
            cutoff = datetime.now(UTC) - ttl
            if _utc(holder.created_at) >= cutoff:
                return holder
            # Expired: the key acts as new. Remove the old claim only (a concurrent repeat may have removed it
            # and claimed the key anew: that claim is not expired and stays), then claim again.
            await session.exec(delete(IdempotencyRecord).where(
                col(IdempotencyRecord.owner) == owner, col(IdempotencyRecord.key) == key,
                col(IdempotencyRecord.created_at) < cutoff))  # fmt: skip
            await session.commit()
    raise Problem(409, "idempotency-in-progress", "The key is being claimed by another request",
                  "Repeat the request shortly.", headers={"Retry-After": "1"})  # fmt: skip


def _replay(record: IdempotencyRecord) -> Response:
    headers = json.loads(record.headers or "{}")
    headers[REPLAYED_HEADER] = "true"
    return Response(record.body or b"", status_code=record.status or 500, headers=headers)


async def once(
    sessions: async_sessionmaker[AsyncSession], principal: Principal, key: str, request: Request, body: bytes,
    send: Callable[[], Awaitable[Response]], wait_s: float, ttl_s: float = 86_400.0,
) -> Response:  # fmt: skip
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(422, "invalid-idempotency-key", "Invalid Idempotency-Key",
                      f"Use 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID.", field="Idempotency-Key")  # fmt: skip
    owner = f"{principal.role}:{principal.subject}"
    fp = fingerprint(request, body)
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        holder = await _claim(sessions, owner, key, fp, timedelta(seconds=ttl_s))
        if holder is None:
            break  # ours: send it
        if holder.fingerprint != fp:
            raise Problem(422, "idempotency-key-reused", "Idempotency-Key used for another request",
                          "This key was sent before with a different request; use a new key for a new request.",
                          field="Idempotency-Key")  # fmt: skip
        if holder.status is not None:
            return _replay(holder)
        if asyncio.get_running_loop().time() > deadline:
            raise Problem(409, "idempotency-in-progress", "The first request with this key is still running",
                          "Repeat the request later to get its result.", headers={"Retry-After": "1"})  # fmt: skip
        await asyncio.sleep(_WAIT_STEP_S)  # the first request is with the service: wait for its answer
    try:
        response = await send()
    except Problem as problem:
        if problem.status == 503:  # the service was not reached (circuit open, connection refused): free the key
            await _release(sessions, owner, key)
            raise
        # A timeout: the service may have acted. Keep the answer so that a retry cannot make it act twice.
        response = problem_response(request, problem.status, problem.kind, problem.title, problem.detail)
        response.headers.update(problem.headers)
    except BaseException:
        await _release(sessions, owner, key)
        raise
    await _store(sessions, owner, key, response)
    return response


async def _release(sessions: async_sessionmaker[AsyncSession], owner: str, key: str) -> None:
    async with sessions() as session:
        await session.exec(delete(IdempotencyRecord).where(
            col(IdempotencyRecord.owner) == owner, col(IdempotencyRecord.key) == key))  # fmt: skip
        await session.commit()


async def _store(sessions: async_sessionmaker[AsyncSession], owner: str, key: str, response: Response) -> None:
    headers = {k: v for k, v in response.headers.items() if k.lower() in _STORED_HEADERS}
    async with sessions() as session:
        await session.exec(update(IdempotencyRecord).where(
            col(IdempotencyRecord.owner) == owner, col(IdempotencyRecord.key) == key,
        ).values(status=response.status_code, headers=json.dumps(headers), body=bytes(response.body)))  # fmt: skip
        await session.commit()


async def purge_expired(sessions: async_sessionmaker[AsyncSession], ttl_s: float) -> int:
    cutoff = datetime.now(UTC) - timedelta(seconds=ttl_s)
    async with sessions() as session:
        result = await session.exec(delete(IdempotencyRecord).where(col(IdempotencyRecord.created_at) < cutoff))
        await session.commit()
        return int(result.rowcount or 0)


async def _purge_expired_keys(app: FastAPI) -> None:
    await purge_expired(app.state.service.sessions, app.state.gateway_settings.idempotency_ttl_s)


# A lifespan resource: delete expired keys now and then (every replica may; the deletes do not conflict).
purging_expired_keys = periodic(
    "idempotency-purge", _purge_expired_keys, lambda app: float(app.state.gateway_settings.idempotency_purge_every_s)
)
