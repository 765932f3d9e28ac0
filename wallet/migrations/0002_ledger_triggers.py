"""The database itself refuses a bad ledger, also for writes that bypass the ORM:
each transaction's entries must sum to zero at commit, and ledger rows are append-only.
(PostgreSQL gets the full set; SQLite, which has no deferred triggers, refuses updates.)"""

from django.db import migrations

PG_INSTALL = """
CREATE OR REPLACE FUNCTION wallet_check_transaction_balanced() RETURNS trigger AS $$
DECLARE
    total bigint;
    legs integer;
    txn bigint;
BEGIN
    IF TG_TABLE_NAME = 'wallet_entry' THEN txn := NEW.transaction_id; ELSE txn := NEW.id; END IF;
    SELECT COALESCE(SUM(amount_fen), 0), COUNT(*) INTO total, legs
      FROM wallet_entry WHERE transaction_id = txn;
    IF total <> 0 OR legs < 2 THEN
        RAISE EXCEPTION 'ledger transaction % is not balanced (% legs, sum %)', txn, legs, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER wallet_entry_balanced
    AFTER INSERT ON wallet_entry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_check_transaction_balanced();
CREATE CONSTRAINT TRIGGER wallet_transaction_has_legs
    AFTER INSERT ON wallet_ledgertransaction DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION wallet_check_transaction_balanced();

CREATE OR REPLACE FUNCTION wallet_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger rows are append-only (% on %)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER wallet_entry_append_only BEFORE UPDATE OR DELETE ON wallet_entry
    FOR EACH ROW EXECUTE FUNCTION wallet_refuse_change();
CREATE TRIGGER wallet_transaction_append_only BEFORE UPDATE OR DELETE ON wallet_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION wallet_refuse_change();
"""

PG_REMOVE = """
DROP TRIGGER IF EXISTS wallet_entry_balanced ON wallet_entry;
DROP TRIGGER IF EXISTS wallet_transaction_has_legs ON wallet_ledgertransaction;
DROP TRIGGER IF EXISTS wallet_entry_append_only ON wallet_entry;
DROP TRIGGER IF EXISTS wallet_transaction_append_only ON wallet_ledgertransaction;
DROP FUNCTION IF EXISTS wallet_check_transaction_balanced();
DROP FUNCTION IF EXISTS wallet_refuse_change();
"""

# SQLite: Django's flush uses DELETE, so only updates are refused there.
SQLITE_INSTALL = [
    """CREATE TRIGGER wallet_entry_append_only BEFORE UPDATE ON wallet_entry
       BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END""",
    """CREATE TRIGGER wallet_transaction_append_only BEFORE UPDATE ON wallet_ledgertransaction
       BEGIN SELECT RAISE(ABORT, 'ledger rows are append-only'); END""",
]
SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS wallet_entry_append_only",
    "DROP TRIGGER IF EXISTS wallet_transaction_append_only",
]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_INSTALL, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_INSTALL:
            schema_editor.execute(statement)


def remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_REMOVE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_REMOVE:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
