"""Chat messages partitioned by month on created_at (PostgreSQL; SQLite keeps the plain
table)."""

from django.db import migrations

from redpacket.kernel import partitions


def forward(apps, schema_editor):
    partitions.rebuild(schema_editor, "chat_message", "created_at")


def backward(apps, schema_editor):
    partitions.rebuild(schema_editor, "chat_message", None)


class Migration(migrations.Migration):
    dependencies = [("chat", "0003_message_notice_key")]
    operations = [migrations.RunPython(forward, backward)]
