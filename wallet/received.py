"""What a user received, from every app that pays people: 我的红包 → 收到的红包.

A red packet share and a shake win are both "a packet of the user's" (SPEC §5), but the
red packet app and the shake app know nothing of each other. Each registers a
`ReceivedSource` here; the red packet app's `packets_received` lists the union of them,
newest first, and adds up their totals, so a new way of receiving money shows up in
我的红包 by registering, not by teaching the red packet app about it.

A source gives, for one user and time window, a values queryset with exactly the columns
of `ENTRY_COLUMNS` (its name as `r_source`, its row id, the amount in fen and the time),
so the sources can be combined with one SQL `UNION ALL` and paged by the database; and,
for one page, the display rows of its ids (one query per source and page).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, F, QuerySet, Value

# The columns every source's entries have, in this order (UNION ALL matches by position).
ENTRY_COLUMNS = ("r_source", "r_id", "r_amount", "r_at")

Entries = Callable[..., "QuerySet[Any]"]
Rows = Callable[[list[int]], dict[int, dict[str, Any]]]


@dataclass(frozen=True)
class ReceivedSource:
    """One way of receiving money: `entries(user_id=, start=, end=)` → a values queryset
    with `ENTRY_COLUMNS`; `rows(ids)` → {id: the row 我的红包 shows for it}."""

    name: str
    entries: Entries
    rows: Rows


_sources: dict[str, ReceivedSource] = {}


def entries_of(rows: QuerySet[Any], *, source: str, at: str) -> QuerySet[Any]:
    """`rows` (a source's model rows with `amount_fen`, already filtered to one user and
    window) as entries: the `ENTRY_COLUMNS`, `at` naming the field of the time."""
    return (
        rows.order_by()
        .annotate(
            r_source=Value(source, output_field=CharField()),
            r_id=F("pk"),
            r_amount=F("amount_fen"),
            r_at=F(at),
        )
        .values(*ENTRY_COLUMNS)
    )


def received_source_register(source: ReceivedSource) -> None:
    """Add a source (idempotent per name; an app's `ready()` calls it)."""
    _sources[source.name] = source


def received_sources() -> list[ReceivedSource]:
    """The registered sources, in registration order."""
    return list(_sources.values())


def entries_between(*, user_id: int, start: datetime, end: datetime) -> list[QuerySet[Any]]:
    """Every source's entries of `user_id` received in [start, end)."""
    return [source.entries(user_id=user_id, start=start, end=end) for source in _sources.values()]


def rows_for(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The display rows of one page of entries, in the page's order."""
    ids_by_source: dict[str, list[int]] = {}
    for entry in entries:
        ids_by_source.setdefault(entry["r_source"], []).append(entry["r_id"])
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for name, ids in ids_by_source.items():
        for row_id, row in _sources[name].rows(ids).items():
            rows[(name, row_id)] = row
    return [
        rows[(entry["r_source"], entry["r_id"])]
        for entry in entries
        if (entry["r_source"], entry["r_id"]) in rows
    ]
