"""The share lists move off the packet row into a table of their own, written once at
send and never updated (docs/performance.md "Round 7"): the lists stored so far are
copied over, then the packet's column goes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('redpacket', '0007_claim_packet_month'),
    ]

    operations = [
        migrations.CreateModel(
            name='PacketShares',
            fields=[
                ('packet', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='redpacket.packet')),
                ('amounts', models.JSONField()),
            ],
            options={
                'verbose_name': '红包份额',
                'verbose_name_plural': '红包份额',
            },
        ),
        migrations.RunSQL(
            "INSERT INTO redpacket_packetshares (packet_id, amounts)"
            " SELECT id, shares FROM redpacket_packet WHERE shares IS NOT NULL",
            "UPDATE redpacket_packet SET shares = (SELECT s.amounts FROM"
            " redpacket_packetshares s WHERE s.packet_id = redpacket_packet.id)",
        ),
        migrations.RemoveField(
            model_name='packet',
            name='shares',
        ),
    ]
