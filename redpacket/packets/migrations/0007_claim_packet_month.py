"""Claims partitioned by their packet's month (PostgreSQL; SQLite keeps the plain table).

The claim gets its packet's created_at (`packet_created_at`, filled here for existing
claims), the unique (packet, user) and (packet, index) include it (a unique constraint of
a partitioned table must include the partition key), and on PostgreSQL a composite foreign
key (packet_id, packet_created_at) → packet (id, created_at) makes sure a claim names its
packet's true month, so no claim can dodge the uniqueness by naming another month."""

from django.conf import settings
from django.db import migrations, models

from redpacket.kernel import partitions

FILL = """
UPDATE redpacket_claim SET packet_created_at = (
    SELECT p.created_at FROM redpacket_packet p WHERE p.id = redpacket_claim.packet_id
)
"""

GUARD = """
ALTER TABLE redpacket_packet ADD CONSTRAINT packet_id_created_at_key UNIQUE (id, created_at);
ALTER TABLE redpacket_claim ADD CONSTRAINT claim_packet_month_fk
    FOREIGN KEY (packet_id, packet_created_at)
    REFERENCES redpacket_packet (id, created_at) ON UPDATE CASCADE;
"""

UNGUARD = """
ALTER TABLE redpacket_claim DROP CONSTRAINT IF EXISTS claim_packet_month_fk;
ALTER TABLE redpacket_packet DROP CONSTRAINT IF EXISTS packet_id_created_at_key;
"""


def fill(apps, schema_editor):
    schema_editor.execute(FILL)


def partition(apps, schema_editor):
    partitions.rebuild(schema_editor, "redpacket_claim", "packet_created_at")


def unpartition(apps, schema_editor):
    partitions.rebuild(schema_editor, "redpacket_claim", None)


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD)


class Migration(migrations.Migration):
    dependencies = [
        ("redpacket", "0006_exclusive_packets"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="claim",
            name="packet_created_at",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="claim",
            name="packet_created_at",
            field=models.DateTimeField(editable=False),
        ),
        migrations.RemoveConstraint(model_name="claim", name="claim_one_share_per_user"),
        migrations.RemoveConstraint(model_name="claim", name="claim_one_per_index"),
        migrations.AddConstraint(
            model_name="claim",
            constraint=models.UniqueConstraint(
                fields=("packet", "user", "packet_created_at"), name="claim_one_share_per_user"
            ),
        ),
        migrations.AddConstraint(
            model_name="claim",
            constraint=models.UniqueConstraint(
                fields=("packet", "index", "packet_created_at"), name="claim_one_per_index"
            ),
        ),
        migrations.RunPython(partition, unpartition),
        migrations.RunPython(guard, unguard),
    ]
