"""Ledger entries partitioned by month on created_at (PostgreSQL; SQLite keeps the plain
table). The balance and append-only triggers are recreated on the partitioned table."""

from django.db import migrations

from redpacket.kernel import partitions


def forward(apps, schema_editor):
    partitions.rebuild(schema_editor, "wallet_entry", "created_at")


def backward(apps, schema_editor):
    partitions.rebuild(schema_editor, "wallet_entry", None)


class Migration(migrations.Migration):
    dependencies = [("wallet", "0006_notices_seen")]
    operations = [migrations.RunPython(forward, backward)]
