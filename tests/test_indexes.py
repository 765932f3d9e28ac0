"""The hot tables carry no index that another index already serves (PostgreSQL): every
index is one more write on each insert, and on each update that cannot stay on its page,
so an open, a credit and a send pay for each one (docs/performance.md "Round 7")."""

import pytest
from django.db import connection

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

HOT_TABLES = [
    "redpacket_packet",
    "redpacket_packetshares",
    "redpacket_claim",
    "wallet_account",
    "wallet_ledgertransaction",
    "wallet_entry",
    "chat_message",
]

# Plain indexes (not unique, no predicate) on the table itself, the parent of any
# partitions, with their key columns in order.
INDEXES = """
SELECT i.relname, ix.indisunique, ix.indpred IS NOT NULL,
    array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
          JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
          ORDER BY k.n)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
WHERE t.relname = %s
"""


def _indexes(table: str) -> list[tuple[str, bool, bool, list[str]]]:
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [table])
        return [(name, unique, partial, list(columns)) for name, unique, partial, columns in cursor]


@pytest.mark.parametrize("table", HOT_TABLES)
def test_no_index_is_a_prefix_of_another(table):
    indexes = _indexes(table)
    assert indexes, f"{table} has no indexes: is it the table's name?"
    served = [
        (name, other)
        for name, unique, partial, columns in indexes
        if not unique and not partial
        for other, _, other_partial, other_columns in indexes
        if other != name
        and not other_partial
        and len(other_columns) >= len(columns)
        and other_columns[: len(columns)] == columns
    ]
    assert not served, f"{table}: each index is served by the other of its pair: {served}"


def test_packet_pages_keep_room_for_updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'redpacket_packet'")
        assert "fillfactor=70" in (cursor.fetchone()[0] or [])
