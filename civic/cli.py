"""The ``civic`` command: run the system locally, watch events, work the dead-letter topics, migrate schemas."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer

from civic import dlq
from civic.config import Settings
from civic.events import UnparseableEvent, decode
from civic.migrations.cli import db_app

app = typer.Typer(help="civic: integrated civil-affairs services", no_args_is_help=True, add_completion=False)
events_app = typer.Typer(help="Watch the events on the bus.", no_args_is_help=True)
dlq_app = typer.Typer(
    help="Dead-letter topics: list and replay events a consumer group could not handle.", no_args_is_help=True
)
contracts_app = typer.Typer(help="The published event schemas in contracts/.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(dlq_app, name="dlq")
app.add_typer(contracts_app, name="contracts")
app.add_typer(db_app, name="db")

Bootstrap = Annotated[str | None, typer.Option(help="Kafka bootstrap servers (default: CIVIC_KAFKA_BOOTSTRAP)")]


def _kafka(bootstrap: str | None) -> dict[str, Any]:
    """Where and how to reach Kafka: the CIVIC_KAFKA_* settings, with --bootstrap overriding the address."""
    settings = Settings()
    if bootstrap:
        settings = settings.model_copy(update={"kafka_bootstrap": bootstrap})
    return settings.kafka_options()


@app.command()
def up(
    data_dir: Annotated[Path, typer.Option(help="where the SQLite files and logs go")] = Path(".data"),
    port: Annotated[int, typer.Option(help="gateway port; the services take the next five")] = 8000,
    broker_port: Annotated[int, typer.Option(help="embedded Kafka broker port")] = 19092,
) -> None:
    """Run everything locally: embedded broker, the five services and the gateway. Ctrl-C stops all."""
    from civic.local import run_up

    raise typer.Exit(run_up(data_dir, base_port=port, broker_port=broker_port))


@app.command()
def token(
    role: Annotated[str, typer.Option(help="citizen, caseworker, auditor, department or operator")],
    subject: Annotated[str, typer.Option(help="a citizen's resident ID, or a staff/system account id")],
    domain: Annotated[str | None, typer.Option(help="a caseworker's domain, e.g. funeral")] = None,
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    ttl: Annotated[int, typer.Option(help="seconds the token is valid")] = 3600,
    data_dir: Annotated[Path, typer.Option(help="the data directory of `civic up`")] = Path(".data"),
) -> None:
    """Print a bearer token from the local development issuer (accepted by a gateway run by `civic up`)."""
    from civic.auth import Role
    from gateway.tokens import issue_dev_token

    try:
        parsed = Role(role)
    except ValueError as exc:
        raise typer.BadParameter(f"one of {', '.join(r.value for r in Role)}", param_hint="--role") from exc
    settings = Settings(data_dir=data_dir)
    print(issue_dev_token(settings, role=parsed, subject=subject, domain=domain, name=name, ttl_s=ttl))


@events_app.command("tail")
def events_tail(
    type_: Annotated[str | None, typer.Option("--type", help="only this event type")] = None,
    subject: Annotated[str | None, typer.Option(help="only this subject (the pseudonym in ce_subject)")] = None,
    from_beginning: Annotated[bool, typer.Option(help="start at the oldest event, not the newest")] = False,
    limit: Annotated[int | None, typer.Option(help="stop after this many events")] = None,
    bootstrap: Bootstrap = None,
) -> None:
    """Print events as JSON lines as they arrive on the domain topics."""
    asyncio.run(_tail(_kafka(bootstrap), type_, subject, from_beginning, limit))


async def _tail(
    kafka: dict[str, Any], type_: str | None, subject: str | None, from_beginning: bool, limit: int | None
) -> None:
    consumer = AIOKafkaConsumer(
        **kafka,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
    )
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith("civic.") and not t.startswith("civic.dlq"))
        consumer.subscribe(pattern=r"^civic\.(?!dlq)[a-z]+$")
        print(
            f"# tailing {', '.join(topics) or 'civic.*'} on {kafka['bootstrap_servers']}", file=sys.stderr, flush=True
        )
        shown = 0
        async for record in consumer:
            try:
                received = decode(record.headers, record.value)
            except UnparseableEvent as exc:
                print(json.dumps({"topic": record.topic, "offset": record.offset, "unparseable": str(exc)}), flush=True)
                continue
            env = received.envelope
            if (type_ and env.type != type_) or (subject and env.subject != subject):
                continue
            line = {
                "time": env.time.isoformat(),
                "type": env.type,
                "id": env.id,
                "subject": env.subject,
                "correlation_id": env.correlation_id,
                "causation_id": env.causation_id,
                "source": env.source,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "data": _masked(received.value),
            }
            print(json.dumps(line, ensure_ascii=False), flush=True)
            shown += 1
            if limit is not None and shown >= limit:
                return
    finally:
        await consumer.stop()


def _masked(value: bytes) -> object:
    from civic.identity import mask_in_text

    text = mask_in_text(value.decode(errors="replace"))
    try:
        return json.loads(text)
    except ValueError:
        return text


@dlq_app.command("list")
def dlq_list(
    group: Annotated[str, typer.Argument(help="consumer group, e.g. assistance")], bootstrap: Bootstrap = None
) -> None:
    """List the dead letters of a consumer group, with the error and where each came from."""
    letters = asyncio.run(dlq.list_dead_letters(_kafka(bootstrap), group))
    if not letters:
        print(f"no dead letters for {group}")
    for letter in letters:
        print(json.dumps(vars(letter), ensure_ascii=False))


@dlq_app.command("replay")
def dlq_replay(
    group: Annotated[str, typer.Argument(help="consumer group, e.g. assistance")], bootstrap: Bootstrap = None
) -> None:
    """Send the group's dead letters (those not replayed before) back to their topics, for that group only."""
    replayed = asyncio.run(dlq.replay(_kafka(bootstrap), group))
    for letter in replayed:
        print(f"replayed {letter.event_type} {letter.event_id} to {letter.topic}")
    print(f"{len(replayed)} dead letter(s) replayed for {group}")


@contracts_app.command("export")
def contracts_export(
    allow_breaking: Annotated[bool, typer.Option(help="overwrite even a breaking change (you should not)")] = False,
    directory: Path = Path("contracts"),
) -> None:
    """Regenerate the JSON Schemas and the AsyncAPI document; refuses a breaking change."""
    import contracts  # noqa: F401 - fills the event registry
    from civic.schemas import BreakingChange, export

    try:
        changed = export(directory, allow_breaking=allow_breaking)
    except BreakingChange as exc:
        print(str(exc), file=sys.stderr)
        raise typer.Exit(1) from exc
    print("\n".join(changed) if changed else "contracts are up to date")


@contracts_app.command("check")
def contracts_check(directory: Path = Path("contracts")) -> None:
    """Fail if the checked-in contracts are stale or a change would break a published schema."""
    import contracts  # noqa: F401
    from civic.schemas import check

    problems = check(directory)
    for p in problems:
        print(p, file=sys.stderr)
    raise typer.Exit(1 if problems else 0)


def main() -> None:
    app()
