"""``create_app()``: one FastAPI app per service with the kernel's plumbing wired in.

Health and readiness, problem+json errors, request and journey ids, JSON logs, tracing, and a lifespan that
checks (or, for a local SQLite file, upgrades) the service's schema, runs the outbox relay and the service's
consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from sqlalchemy import Table, func
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civic import db, migrations, problems
from civic.bus import ConsumerRunner, Handlers
from civic.config import Settings
from civic.events import current_correlation_id, current_initiator
from civic.inbox import InboxRecord
from civic.logs import current_request_id, setup_logging
from civic.outbox import Outbox, OutboxRecord, Relay
from civic.steps import steps_router
from civic.telemetry import setup_tracing

log = logging.getLogger("civic.app")

Resource = Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]

KERNEL_TABLES: tuple[Table, ...] = (OutboxRecord.__table__, InboxRecord.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Consumer:
    """A consumer group of its own in a service: its handlers, and its topics if not those of the handlers."""

    group: str
    handlers: Handlers
    topics: Sequence[str] | None = None


@dataclass
class Service:
    """The running parts of one service, kept on ``app.state.service``."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    outbox: Outbox
    relay: Relay
    schema: migrations.Schema | None = None
    runners: list[ConsumerRunner] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _probe(scope: Scope) -> bool:
    return scope.get("path") in ("/healthz", "/readyz")  # probes every few seconds would drown the traces


_TELEMETRY: TelemetryConfig = {"tracing": True, "metrics": False, "logs": False, "operation_spans": False,
                               "exclude": _probe}  # fmt: skip


# Dependencies are ``async def`` even with nothing to await: FastAPI runs a plain ``def`` dependency in a worker
# thread, a hop that cost every request ~0.1 ms of CPU.
async def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    service: Service = request.app.state.service
    async with service.sessions() as session:
        yield session


async def get_outbox(request: Request) -> Outbox:
    service: Service = request.app.state.service
    return service.outbox


ServiceDep = Annotated[Service, Depends(get_service)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
OutboxDep = Annotated[Outbox, Depends(get_outbox)]


class RequestContext:
    """Pure ASGI middleware: request id, journey (correlation) id, and a cap on request body size."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        rid = current_request_id.set(request_id)
        cid = current_correlation_id.set(headers.get("x-correlation-id") or None)
        who = current_initiator.set(None)  # the auth dependency says who, once it has checked
        try:
            declared = headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            await self.app(scope, self._limited(receive), self._with_request_id(send, request_id))
        finally:
            current_initiator.reset(who)
            current_correlation_id.reset(cid)
            current_request_id.reset(rid)

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def wrapped() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body_bytes:
                    raise problems.Problem(
                        413, "body-too-large", "Request body too large", f"The limit is {self.max_body_bytes} bytes."
                    )
            return message

        return wrapped

    @staticmethod
    def _with_request_id(send: Send, request_id: str) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        return wrapped

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = problems.problem_response(
            request, 413, "body-too-large", "Request body too large", f"The limit is {self.max_body_bytes} bytes."
        )
        await response(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    tables: Iterable[Table] = (),
    migrations_dir: Path | None = None,
    handlers: Handlers | None = None,
    consumers: Sequence[Consumer] = (),
    resources: Sequence[Resource] = (),
    description: str = "",
) -> FastAPI:
    """``handlers`` react to events as the consumer group named after the service; ``consumers`` are further
    groups (the gateway's journey tracker watches dead-letter topics with one). ``resources`` are async context
    managers (an HTTP client, say) held open while the app runs. ``migrations_dir`` holds the revisions that
    build ``tables`` (and the kernel's); without it the tables are simply created (test kits)."""
    settings.refuse_development_secrets()
    settings.kafka_options()  # a missing Kafka credential stops start-up here, naming the setting
    setup_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_tracing(settings.service_name, settings.otel_exporter, settings.otel_endpoint)
    engine = db.make_engine(settings.resolved_database_url())
    outbox = Outbox(settings)
    service = Service(
        settings=settings,
        engine=engine,
        sessions=db.make_sessionmaker(engine),
        outbox=outbox,
        relay=Relay(settings, engine, outbox),
    )
    if handlers:
        service.runners.append(ConsumerRunner(settings, engine, outbox, settings.service_name, handlers))
    for consumer in consumers:
        service.runners.append(
            ConsumerRunner(settings, engine, outbox, consumer.group, consumer.handlers, consumer.topics)
        )
    all_tables = [*KERNEL_TABLES, *tables]
    if migrations_dir is not None:
        service.schema = migrations.Schema(migrations_dir.parent.name, all_tables, migrations_dir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await prepare_schema(settings, engine, service.schema, all_tables)
        service.tasks.append(asyncio.create_task(service.relay.run(), name="outbox-relay"))
        for runner in service.runners if settings.consumers_enabled else ():
            service.tasks.append(asyncio.create_task(runner.run(), name=f"consumer-{runner.group}"))
        log.info("%s started", settings.service_name)
        try:
            async with contextlib.AsyncExitStack() as stack:
                for resource in resources:
                    await stack.enter_async_context(resource(app))
                with startup_heap_frozen():
                    yield
        finally:
            # The relay may finish the batch in hand (or it is published again on restart: harmless but
            # wasteful). Consumers stop at once: a handler cut short rolls back and its event comes again.
            service.relay.request_stop()
            relay_task, *consumer_tasks = service.tasks
            for task in consumer_tasks:
                task.cancel()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(relay_task), timeout=2.0)
            relay_task.cancel()
            await asyncio.gather(*service.tasks, return_exceptions=True)
            await service.relay.stop()
            for runner in service.runners:
                await runner.stop()
            await engine.dispose()

    # FastAPI's own OpenTelemetry tracing: a server span per request, continuing the caller's trace. It replaced
    # opentelemetry-instrumentation-fastapi, whose middleware layers cost ~0.5 ms of CPU per request.
    app = FastAPI(title=title, description=description, lifespan=lifespan, telemetry=_TELEMETRY)
    app.state.service = service
    problems.install(app)
    app.add_middleware(RequestContext, max_body_bytes=settings.max_body_bytes)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    if settings.synchronous_steps:
        app.include_router(steps_router(settings.service_name))
    return app


@contextlib.contextmanager
def startup_heap_frozen() -> Iterator[None]:
    """While the app runs, what start-up built (~150,000 objects: modules, classes, pydantic and SQLAlchemy
    schemas, routes) is out of the cyclic collector's reach. They live as long as the process, and every full
    collection walked them: a third of the assistance recalculation's CPU. No collection first: in a process
    that starts many apps (the tests) that would walk the whole heap at every start; start-up's few cyclic
    leftovers stay with the rest. Unfrozen when the app stops, so such a process collects as before."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def prepare_schema(
    settings: Settings, engine: AsyncEngine, schema: migrations.Schema | None, tables: Sequence[Table]
) -> None:
    if schema is None:
        await db.create_tables(engine, tables)
        return
    if settings.create_database:
        await db.create_database_if_missing(settings.resolved_database_url())
    if settings.migrates_on_start():
        applied = await migrations.upgrade(engine, schema)
        if applied:
            log.info("database upgraded through %s", ", ".join(applied))
        if settings.environment != "production":
            # A developer changed a table and has not written its revision yet: say so now, not as a missing
            # column in some query later.
            await migrations.require_no_drift(engine, schema)
    else:
        # Raising here stops start-up: the process exits and says which revision it needs.
        await migrations.verify(engine, schema)


def health_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the process is up and serving."""
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(service: ServiceDep) -> JSONResponse:
        """Readiness: the database answers and the broker has been reached.

        After the first connection a broker outage is reported but does not make the service unready:
        writes are still accepted and wait in the outbox, which is the point of having one.
        """
        checks: dict[str, Any] = {}
        ok = True
        try:
            await db.ping(service.engine)
            async with service.sessions() as session:
                checks["outbox_pending"] = (await session.exec(select(func.count()).select_from(OutboxRecord))).one()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable: {type(exc).__name__}"
            ok = False
        relay = service.relay
        if not relay.connected_once.is_set():
            checks["broker"] = "not reached yet"
            ok = False
        else:
            checks["broker"] = "ok" if relay.healthy else "unreachable (events wait in the outbox)"
        checks["consumers"] = {r.group: vars(r.stats) for r in service.runners}
        return JSONResponse(
            {"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503
        )

    return router
