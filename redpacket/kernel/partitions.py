"""Monthly range partitions (PostgreSQL only) of the append-mostly tables: claims, ledger
entries and chat messages (docs/capacity.md "Partitioning by month").

Each table is `PARTITION BY RANGE (<key>)` with one partition a month, named as
pg_partman names them (`<table>_pYYYY_MM`), and a DEFAULT partition (`<table>_default`)
so that an insert never fails for want of a month. When Debian's pg_partman is installed
the migrations register the tables with it and `upkeep()` runs its maintenance; without
it `upkeep()` creates the coming months itself (`ensure_months`, which the migrations
also use). Old months are never detached or dropped here: money history is kept.

SQLite keeps plain tables: everything here is a no-op there."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

# table → partition key (the month a row belongs to)
PARTITIONED: dict[str, str] = {
    "redpacket_claim": "packet_created_at",
    "wallet_entry": "created_at",
    "chat_message": "created_at",
}
MONTHS_AHEAD = 3  # partitions kept ready after the current month (pg_partman's premake)
PARTMAN_SCHEMA = "partman"


def month_start(moment: dt.datetime) -> dt.datetime:
    """The first instant (UTC) of `moment`'s month."""
    utc = moment.astimezone(dt.UTC)
    return utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def add_months(month: dt.datetime, n: int) -> dt.datetime:
    index = month.year * 12 + month.month - 1 + n
    return month.replace(year=index // 12, month=index % 12 + 1)


def partition_name(table: str, month: dt.datetime) -> str:
    return f"{table}_p{month:%Y_%m}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def is_partitioned(cursor: Any, table: str) -> bool:
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s))",
        [table],
    )
    return bool(cursor.fetchone()[0])


def partman_schema(cursor: Any) -> str | None:
    """The schema pg_partman is installed in, or None."""
    cursor.execute(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
        " WHERE e.extname = 'pg_partman'"
    )
    row = cursor.fetchone()
    return row[0] if row else None


def managed_by_partman(cursor: Any, table: str) -> bool:
    schema = partman_schema(cursor)
    if schema is None:
        return False
    cursor.execute(
        f"SELECT EXISTS (SELECT 1 FROM {_q(schema)}.part_config WHERE parent_table = %s)",
        [f"public.{table}"],
    )
    return bool(cursor.fetchone()[0])


def install_partman(cursor: Any) -> str | None:
    """Create the pg_partman extension (schema `partman`) when the server has it and we
    may; returns its schema, or None (then the app keeps the partitions itself)."""
    schema = partman_schema(cursor)
    if schema is not None:
        return schema
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_partman')"
    )
    if not cursor.fetchone()[0]:
        return None
    cursor.execute("SAVEPOINT partman_install")
    try:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {PARTMAN_SCHEMA}")
        cursor.execute(f"CREATE EXTENSION IF NOT EXISTS pg_partman SCHEMA {PARTMAN_SCHEMA}")
    except Exception as exc:  # e.g. not allowed to create extensions: fall back
        cursor.execute("ROLLBACK TO SAVEPOINT partman_install")
        logger.warning("pg_partman is available but could not be installed: %s", exc)
        return None
    cursor.execute("RELEASE SAVEPOINT partman_install")
    return PARTMAN_SCHEMA


def _children(cursor: Any, table: str) -> set[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s)",
        [table],
    )
    return {row[0] for row in cursor.fetchall()}


def ensure_months(
    cursor: Any,
    table: str,
    key: str,
    *,
    first: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Create the missing monthly partitions of `table`, from `first`'s month (default:
    `now`'s) to MONTHS_AHEAD months after `now`'s, and its DEFAULT partition. A month
    whose rows already sit in the DEFAULT partition is left alone (PostgreSQL would refuse
    the partition; pg_partman's partition_data_proc moves such rows) and logged.
    Returns the partitions created."""
    now = now or timezone.now()
    month = month_start(first or now)
    last = add_months(month_start(now), MONTHS_AHEAD)
    existing = _children(cursor, table)
    default = f"{table}_default"
    created = []
    while month <= last:
        name = partition_name(table, month)
        following = add_months(month, 1)
        if name not in existing:
            stranded = False
            if default in existing:
                cursor.execute(
                    f"SELECT EXISTS (SELECT 1 FROM {_q(default)}"
                    f" WHERE {_q(key)} >= %s AND {_q(key)} < %s)",
                    [month, following],
                )
                stranded = bool(cursor.fetchone()[0])
            if stranded:
                logger.error(
                    "%s has rows of %s in its DEFAULT partition: month partition not made",
                    table,
                    f"{month:%Y-%m}",
                )
            else:
                cursor.execute(
                    f"CREATE TABLE {_q(name)} PARTITION OF {_q(table)}"
                    " FOR VALUES FROM (%s) TO (%s)",
                    [month, following],
                )
                created.append(name)
        month = following
    if default not in existing:
        cursor.execute(f"CREATE TABLE {_q(default)} PARTITION OF {_q(table)} DEFAULT")
        created.append(default)
    return created


def upkeep(now: dt.datetime | None = None) -> dict[str, str | list[str]]:
    """The daily upkeep (beat task `partition_upkeep`): pg_partman's maintenance for the
    tables it manages, else the coming months made here. Returns what was done per table."""
    if connection.vendor != "postgresql":
        return {}
    done: dict[str, str | list[str]] = {}
    with connection.cursor() as cursor:
        schema = partman_schema(cursor)
        for table, key in PARTITIONED.items():
            if not is_partitioned(cursor, table):
                continue
            if schema is not None and managed_by_partman(cursor, table):
                cursor.execute(f"SELECT {_q(schema)}.run_maintenance(%s)", [f"public.{table}"])
                done[table] = "pg_partman"
            else:
                done[table] = ensure_months(cursor, table, key, now=now)
    return done


# --- Conversion (the migrations) ---------------------------------------------------------


def _capture(cursor: Any, table: str) -> dict[str, Any]:
    """What must be rebuilt on the new table: columns, primary key name, constraints other
    than checks and NOT NULL (LIKE copies those), indexes not behind a constraint, user
    triggers, and where the id counter stands."""
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s)"
        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [table],
    )
    columns = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'f', 'x')"
        " AND conparentid = 0 ORDER BY contype DESC, conname",
        [table],
    )
    constraints = cursor.fetchall()
    primary = [name for name, kind, _ in constraints if kind == "p"]
    cursor.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid = to_regclass(%s) AND NOT EXISTS ("
        "   SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid"
        "   AND c.conrelid = i.indrelid)"
        " ORDER BY i.indexrelid",
        [table],
    )
    indexes = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        "SELECT pg_get_triggerdef(oid) FROM pg_trigger"
        " WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal ORDER BY tgname",
        [table],
    )
    triggers = [row[0] for row in cursor.fetchall()]
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    sequence = cursor.fetchone()[0]
    next_id = 1
    if sequence:
        cursor.execute(f"SELECT last_value, is_called FROM {sequence}")
        last_value, is_called = cursor.fetchone()
        next_id = last_value + 1 if is_called else last_value
    cursor.execute(f"SELECT max(id) FROM {_q(table)}")
    top = cursor.fetchone()[0]
    if top is not None:
        next_id = max(next_id, top + 1)
    return {
        "columns": columns,
        "primary": primary[0] if primary else f"{table}_pkey",
        "constraints": [(n, d) for n, kind, d in constraints if kind != "p"],
        "indexes": indexes,
        "triggers": triggers,
        "next_id": next_id,
    }


def rebuild(schema_editor: Any, table: str, key: str | None) -> None:
    """Rebuild `table` as a monthly range-partitioned table on `key`, or (key None) as a
    plain table again: a new table beside the old one, the rows copied in one
    INSERT … SELECT (each routed to its month), the old table dropped, then the primary key
    (`(id, key)` when partitioned: PostgreSQL requires the key in it), the id counter
    (an identity column continuing where the old one stood), the other constraints,
    indexes and triggers recreated under the names they had. PostgreSQL only; the row
    count is checked before the old table goes."""
    if schema_editor.connection.vendor != "postgresql":
        return
    cursor = schema_editor.connection.cursor()
    cursor.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
    if is_partitioned(cursor, table) == (key is not None):
        return  # already as asked
    was = _capture(cursor, table)
    if key is not None:
        for name, definition in was["constraints"]:
            if definition.startswith(("UNIQUE", "EXCLUDE")) and key not in definition:
                raise RuntimeError(f"{table}.{name} must include {key} to be partitioned")
    old = f"{table}__unpartitioned" if key is not None else f"{table}__partitioned"
    cursor.execute(f"ALTER TABLE {_q(table)} RENAME TO {_q(old)}")
    partition_by = f" PARTITION BY RANGE ({_q(key)})" if key is not None else ""
    cursor.execute(
        f"CREATE TABLE {_q(table)} (LIKE {_q(old)} INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        f" INCLUDING STORAGE INCLUDING COMMENTS){partition_by}"
    )
    schema = partman_schema(cursor)
    if key is not None:
        cursor.execute(f"SELECT min({_q(key)}) FROM {_q(old)}")
        oldest = cursor.fetchone()[0] or timezone.now()
        schema = install_partman(cursor)
        if schema is not None:
            cursor.execute(
                f"SELECT {_q(schema)}.create_parent(p_parent_table := %s, p_control := %s,"
                " p_type := 'native', p_interval := 'monthly', p_premake := %s,"
                " p_start_partition := %s)",
                [f"public.{table}", key, MONTHS_AHEAD, month_start(oldest).isoformat()],
            )
        else:
            made = ensure_months(cursor, table, key, first=oldest)
            print(
                f"  {table}: pg_partman not available, {len(made)} partitions made;"
                " the daily partition_upkeep task keeps the coming months"
            )
    elif schema is not None:
        cursor.execute(
            f"DELETE FROM {_q(schema)}.part_config WHERE parent_table = %s", [f"public.{table}"]
        )
        cursor.execute(f"DROP TABLE IF EXISTS {_q(schema)}.{_q('template_public_' + table)}")
    columns = ", ".join(_q(c) for c in was["columns"])
    cursor.execute(f"INSERT INTO {_q(table)} ({columns}) SELECT {columns} FROM {_q(old)}")
    copied = cursor.rowcount
    cursor.execute(f"SELECT count(*) FROM {_q(old)}")
    if cursor.fetchone()[0] != copied:
        raise RuntimeError(f"{table}: copied {copied} rows, not all of them")
    cursor.execute(f"DROP TABLE {_q(old)}")
    primary_key = "id" if key is None else f"id, {_q(key)}"
    cursor.execute(
        f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(was['primary'])} PRIMARY KEY ({primary_key})"
    )
    cursor.execute(
        f"ALTER TABLE {_q(table)} ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
        f" (START WITH {int(was['next_id'])})"
    )
    for name, definition in was["constraints"]:
        cursor.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
    for statement in was["indexes"] + was["triggers"]:
        cursor.execute(statement)
    cursor.execute(f"ANALYZE {_q(table)}")
