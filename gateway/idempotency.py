"""``Idempotency-Key`` on POST: the first request with a key claims it (a row whose primary key is the caller and
the key); a repeat, even one that arrives while the first is still with the service, waits for and returns the
first's stored response, so the service acts once. The same key with a different request is a client error.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from fastapi import Request, Response
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from civic.auth import Principal
from civic.problems import Problem, problem_response
from gateway.tables import IdempotencyRecord

MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "idempotent-replayed"
_WAIT_STEP_S = 0.05
_STORED_HEADERS = {"content-type", "location", "etag", "retry-after"}


def fingerprint(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), str(request.query_params).encode(), body):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


async def _claim(sessions: async_sessionmaker[AsyncSession], owner: str, key: str, fp: str) -> IdempotencyRecord | None:
    """None if this request now owns the key; else the record of the request that does."""
    async with sessions() as session:
        session.add(IdempotencyRecord(owner=owner, key=key, fingerprint=fp, created_at=datetime.now(UTC)))
        try:
            await session.commit()
            return None
        except IntegrityError:
            await session.rollback()
        return await session.get(IdempotencyRecord, (owner, key), populate_existing=True)


def _replay(record: IdempotencyRecord) -> Response:
    headers = json.loads(record.headers or "{}")
    headers[REPLAYED_HEADER] = "true"
    return Response(record.body or b"", status_code=record.status or 500, headers=headers)


async def once(
    sessions: async_sessionmaker[AsyncSession], principal: Principal, key: str, request: Request, body: bytes,
    send: Callable[[], Awaitable[Response]], wait_s: float,
) -> Response:  # fmt: skip
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Problem(422, "invalid-idempotency-key", "Invalid Idempotency-Key",
                      f"Use 1 to {MAX_KEY_LENGTH} characters, e.g. a UUID.", field="Idempotency-Key")  # fmt: skip
    owner = f"{principal.role}:{principal.subject}"
    fp = fingerprint(request, body)
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        holder = await _claim(sessions, owner, key, fp)
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
