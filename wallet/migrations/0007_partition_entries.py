"""Ledger entries partitioned by month on created_at (PostgreSQL; SQLite keeps the plain
table). The balance and append-only triggers are recreated on the partitioned table.

On a partitioned table a row trigger fires with the *partition's* name in TG_TABLE_NAME
(wallet_entry_p2026_12), so the balance check tells its two tables apart by the ledger
transaction table's name instead (the same on a plain table: the reverse keeps it)."""

from django.db import migrations

from redpacket.kernel import partitions

BALANCE_CHECK = """
CREATE OR REPLACE FUNCTION wallet_check_transaction_balanced() RETURNS trigger AS $$
DECLARE
    total bigint;
    legs integer;
    txn bigint;
BEGIN
    IF TG_TABLE_NAME = 'wallet_ledgertransaction' THEN txn := NEW.id;
    ELSE txn := NEW.transaction_id; END IF;
    SELECT COALESCE(SUM(amount_fen), 0), COUNT(*) INTO total, legs
      FROM wallet_entry WHERE transaction_id = txn;
    IF total <> 0 OR legs < 2 THEN
        RAISE EXCEPTION 'ledger transaction % is not balanced (% legs, sum %)', txn, legs, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BALANCE_CHECK, params=None)
    partitions.rebuild(schema_editor, "wallet_entry", "created_at")


def backward(apps, schema_editor):
    partitions.rebuild(schema_editor, "wallet_entry", None)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0006_notices_seen")]
    operations = [migrations.RunPython(forward, backward)]
