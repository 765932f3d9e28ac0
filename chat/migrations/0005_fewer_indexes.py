"""The message room's own index goes: the history index (room, −id) serves it."""

import django.db.models.deletion
from django.db import migrations, models

from redpacket.kernel.schema import own_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0004_partition_messages'),
    ]

    operations = [
        own_index_dropped(
            migrations.AlterField(
                model_name='message',
                name='room',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='chat.room'),
            ),
            table="chat_message",
            index="chat_message_room_id_5e7d8d78",
            column="room_id",
        ),
    ]
