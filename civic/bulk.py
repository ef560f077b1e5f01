"""Bulk statements for batch jobs that write hundreds of thousands of rows (the assistance recalculation): many
rows in one statement (COPY on PostgreSQL), ``IN`` a long list as one parameter, reads past SQLAlchemy's rows,
and events that differ only in a few fields serialised once (``EventTemplate``).

SQLAlchemy's executemany and expanding ``IN`` process each row's or value's parameters in Python: at a million
rows, that was half of the job's time. ``Outbox.add_serialized`` writes such events' outbox rows through here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer, TypeAdapter, WrapSerializer
from pydantic.fields import FieldInfo
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    String,
    Table,
    any_,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from civic.events import Event


async def _driver(conn: AsyncConnection) -> Any:
    """The asyncpg connection under ``conn``, inside the transaction SQLAlchemy began (begun here if not yet)."""
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        await conn.exec_driver_sql("SELECT 1")  # SQLAlchemy begins its transaction lazily, on a first statement
    return driver


async def walk_indexes(conn: AsyncConnection) -> None:
    """For the rest of ``conn``'s transaction (PostgreSQL), plan a batch job's reads of chosen rows as index walks
    whatever the statistics say, each for its own list of ids, on one core, without the JIT compiler.

    A chunk of a batch reads a few thousand rows of tables of millions, by a list of ids or a range of them. On
    tables just loaded or not yet analysed the planner scanned each whole table, once per chunk (quadratic over
    a job), and with a long list of ids it chose a parallel scan of the whole table (10,000 schedule entries of a
    million: 135 ms in three processes, where the index gives them in 39 ms in one); the generic plan of a
    prepared statement sorted and merge-joined where the custom one walks, for 5 ms of planning saved; and the
    JIT compiler, which the cost estimates call for, took 40 ms to compile a query that runs in 50.
    """
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(
            "SELECT set_config('enable_seqscan', 'off', true), set_config('plan_cache_mode', 'force_custom_plan', true),"
            " set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
        )


def one_of(
    conn: AsyncConnection, column: ColumnElement[str], values: Sequence[str] | BindParameter[Any]
) -> ColumnElement[bool]:
    """``column IN (values)`` with the values as one bound parameter: an array on PostgreSQL, a JSON array read
    by ``json_each`` on SQLite. SQLAlchemy renders an expanding IN one placeholder (and on PostgreSQL one cast)
    per value, in Python, at every execution: a third of the recalculation's time at five queries per chunk.
    ``values`` may be a ``list_param``, so that a statement testing several columns sends the list once."""
    param = values if isinstance(values, BindParameter) else list_param(conn, values)
    if conn.dialect.name == "postgresql":
        return column == any_(param)
    return column.in_(select(literal_column("value")).select_from(func.json_each(param)))


def list_param(conn: AsyncConnection, values: Sequence[str]) -> BindParameter[Any]:
    """A list of strings as one bound parameter, for ``one_of``; sorted, which changes nothing it matches: an index
    walk over ``= ANY(array)`` on PostgreSQL first sorts the array (through the collation, for text), and finds a
    sorted one sorted in one pass. Passed in random order, the sorts of a chunk's 5,000 household ids were about
    a fifth of the recalculation's means query."""
    ordered = sorted(values)
    if conn.dialect.name == "postgresql":
        return bindparam(None, ordered, type_=ARRAY(String))
    return bindparam(None, json.dumps(ordered))


async def fetch_all(conn: AsyncConnection, statement: Select[Any]) -> Sequence[Sequence[Any]]:
    """``(await conn.execute(statement)).all()`` for a batch job's reads of thousands of rows: on PostgreSQL the
    driver's own records, past SQLAlchemy's rows, which cost ~2 µs more a row of eight columns (a third of such a
    read's Python). The rows index and unpack like tuples but have no attributes, and their values are as the
    driver decodes them: for columns of text, numbers and dates, what SQLAlchemy gives."""
    if conn.dialect.name != "postgresql":
        rows: Sequence[Sequence[Any]] = (await conn.execute(statement)).all()
        return rows
    compiled = statement.compile(dialect=conn.dialect)
    params = compiled.construct_params()
    sql = str(compiled)
    driver = await _driver(conn)
    try:
        records: Sequence[Sequence[Any]] = await driver.fetch(sql, *(params[n] for n in compiled.positiontup or ()))
    except Exception as exc:  # the driver's own error, raised as SQLAlchemy's like every other statement's
        raise DBAPIError(sql, None, exc) from exc
    return records


async def insert_rows(
    conn: AsyncConnection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in ``conn``'s transaction: COPY on PostgreSQL, the driver's
    executemany elsewhere (SQLite), with the columns' own bind conversions (dates, aware datetimes)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        driver = await _driver(conn)
        try:
            await driver.copy_records_to_table(table.name, records=rows, columns=list(columns))
        except Exception as exc:  # the driver's own error, raised as SQLAlchemy's like every other statement's
            raise DBAPIError(f"COPY {table.name}", None, exc) from exc
        return
    processors = [table.c[c].type.bind_processor(conn.dialect) for c in columns]
    if any(processors):
        # Column by column, each distinct value converted once: a chunk's dates and times are mostly one value.
        by_column = list(zip(*rows, strict=True))
        for i, process in enumerate(processors):
            if process is not None:
                seen: dict[Any, Any] = {}
                by_column[i] = tuple(seen[v] if v in seen else seen.setdefault(v, process(v)) for v in by_column[i])
        rows = list(zip(*by_column, strict=True))
    placeholders = ", ".join("?" for _ in columns)
    await conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({placeholders})", list(rows))


class EventTemplate:
    """The JSON of events of ``kind`` that differ only in some fields (``varying``): written once by the contract's
    own serialiser, with stand-ins there, and filled per event by text replacement: a million events are not a
    million pydantic models. A varying field is a string or any other type the contract writes as a JSON string,
    such as ``Yuan`` (its text from the field's own serialiser). ``partial`` fills some of the fields, for events
    that share them: a template per distinct amounts costs a few string joins, not a serialisation (~37 µs).
    ``tests/unit/test_assistance_bulk.py`` checks the filled text against the serialiser's, escapes and all."""

    __slots__ = ("_encoders", "_names", "_order", "_parts")

    def __init__(self, kind: type[Event], fixed: dict[str, Any], varying: Sequence[str]) -> None:
        """``fixed``: the fields all these events share, already validated (the model is built without it)."""
        fields = kind.model_fields
        stand_ins = [_stand_in(fields[name], n) for n, name in enumerate(varying)]
        encoders = [_encoder(fields[name]) for name in varying]
        text = kind.model_construct(**{**fixed, **dict(zip(varying, stand_ins, strict=True))}).model_dump_json()
        quoted = [encode(s) for encode, s in zip(encoders, stand_ins, strict=True)]
        assert all(text.count(q) == 1 for q in quoted), "each varying field once, as a JSON string"
        # The text around the stand-ins, in the order they appear: filling is one join. Tuples of strings and
        # integers, which the collector stops tracking: a job keeps tens of thousands of templates.
        order = [i for _, i in sorted((text.index(q), i) for i, q in enumerate(quoted))]
        parts, begin = [], 0
        for i in order:
            start = text.index(quoted[i])
            parts.append(text[begin:start])
            begin = start + len(quoted[i])
        parts.append(text[begin:])
        self._hold(varying, encoders, order, parts)

    def _hold(self, names: Sequence[str], encoders: Sequence[Callable[[Any], str]], order: Sequence[int],
              parts: Sequence[str]) -> None:  # fmt: skip
        """Keep a template's varying fields (names and encoders, in ``varying``'s order), the order they appear in
        the text, and the text around them."""
        self._names, self._encoders = tuple(names), tuple(encoders)
        self._order, self._parts = tuple(order), tuple(parts)

    def json(self, *values: Any) -> bytes:
        """The JSON of the event with ``values`` in the varying fields, in their order."""
        parts, encoders = self._parts, self._encoders
        pieces = [parts[0]]
        for n, i in enumerate(self._order):
            pieces.append(encoders[i](values[i]))
            pieces.append(parts[n + 1])
        return "".join(pieces).encode()

    def partial(self, **values: Any) -> EventTemplate:
        """This template with ``values`` (by field name) filled in: it varies in the other fields, in their order."""
        unknown = set(values) - set(self._names)
        if unknown:
            raise ValueError(f"not varying fields of this template: {sorted(unknown)}")
        rest = [i for i, name in enumerate(self._names) if name not in values]
        renumbered = {i: n for n, i in enumerate(rest)}
        parts, order = [self._parts[0]], []
        for n, i in enumerate(self._order):
            name = self._names[i]
            if name in values:
                parts[-1] += self._encoders[i](values[name]) + self._parts[n + 1]
            else:
                order.append(renumbered[i])
                parts.append(self._parts[n + 1])
        filled = object.__new__(EventTemplate)
        filled._hold([self._names[i] for i in rest], [self._encoders[i] for i in rest], order, parts)
        return filled


def _is_text(field: FieldInfo) -> bool:
    """A string field that pydantic writes as it is (validators may check it; no serialiser changes it)."""
    return field.annotation in (str, str | None) and not any(
        isinstance(m, PlainSerializer | WrapSerializer) for m in field.metadata
    )


def _stand_in(field: FieldInfo, n: int) -> Any:
    """A value for the ``n``th varying field that its serialiser writes as a string found nowhere else."""
    if _is_text(field):
        return f"{{{{civic-{n}}}}}"
    if field.annotation is Decimal:
        return Decimal(f"-97531{n:04d}.13")
    raise TypeError(f"a template fills strings and decimal amounts, not {field.annotation}")


def _encoder(field: FieldInfo) -> Callable[[Any], str]:
    """A varying field's JSON text from its value: strings here, other types by the field's own serialiser."""
    if _is_text(field):
        return _json_string
    typed: Any = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
    dump = TypeAdapter(typed).dump_json

    def encode(value: Any) -> str:
        text = dump(value).decode()
        if not text.startswith('"'):
            raise TypeError(f"a template fills fields written as JSON strings, not {text}")
        return text

    return encode


def _json_string(value: Any) -> str:
    """``value`` as JSON; printable text without quote or backslash (the usual case: an id, a reason) is written
    as it is, as the serialiser writes it (UTF-8, no ``\\u`` escapes)."""
    if value is not None and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)


def uuid4_text() -> str:
    """``str(uuid.uuid4())``, from the same random bytes, without building a ``UUID`` (a third of its cost)."""
    return _uuid4_format(os.urandom(16).hex())


def uuid4_texts(count: int) -> list[str]:
    """``count`` of ``uuid4_text()``, from one read of the system's random source (a read per id was a fifth
    of the cost of a batch job's outbox rows)."""
    h = os.urandom(16 * count).hex()
    return [_uuid4_format(h[i : i + 32]) for i in range(0, 32 * count, 32)]


def _uuid4_format(h: str) -> str:
    """32 random hex digits as a version-4, RFC 4122 uuid's text."""
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
