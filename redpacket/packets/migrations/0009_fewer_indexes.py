"""Indexes that another index already serves are dropped (each is one more write per
open, per credit and per send), and packet pages keep room for their rows' new versions."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from redpacket.kernel.schema import own_index_dropped, pattern_index_dropped


def packet_pages_with_room(apps, schema_editor):
    """Every open updates its packet's row: with a third of each page left free when
    packets are written, the new row version fits on the row's own page and the update
    is HOT (no index is touched) instead of moving the row and writing every one of the
    packet's indexes again. New pages only; a table rewrite would apply it to old ones."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE redpacket_packet SET (fillfactor = 70)")


def packet_pages_full(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE redpacket_packet RESET (fillfactor)")


class Migration(migrations.Migration):

    dependencies = [
        ('redpacket', '0008_shares_table'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        own_index_dropped(
            migrations.AlterField(
                model_name='claim',
                name='packet',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='claims', to='redpacket.packet'),
            ),
            table="redpacket_claim",
            index="redpacket_claim_packet_id_8b501249",
            column="packet_id",
        ),
        own_index_dropped(
            migrations.AlterField(
                model_name='claim',
                name='user',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='packet_claims', to=settings.AUTH_USER_MODEL),
            ),
            table="redpacket_claim",
            index="redpacket_claim_user_id_6f3eaf88",
            column="user_id",
        ),
        own_index_dropped(
            migrations.AlterField(
                model_name='packet',
                name='sender',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='sent_packets', to=settings.AUTH_USER_MODEL),
            ),
            table="redpacket_packet",
            index="redpacket_packet_sender_id_ff3d0c5b",
            column="sender_id",
        ),
        pattern_index_dropped(
            table="redpacket_packet",
            index="redpacket_packet_fund_reference_9cf30b65_like",
            column="fund_reference",
        ),
        migrations.RunPython(packet_pages_with_room, packet_pages_full),
    ]
