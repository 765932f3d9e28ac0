"""Indexes that another index already serves are dropped, and the ledger's actor and
bank operation are indexed only where set (docs/performance.md "Round 7")."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from redpacket.kernel.schema import own_index_dropped, pattern_index_dropped


class Migration(migrations.Migration):

    dependencies = [
        ('wallet', '0007_partition_entries'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        own_index_dropped(
            migrations.AlterField(
                model_name='entry',
                name='account',
                field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='wallet.account'),
            ),
            table="wallet_entry",
            index="wallet_entry_account_id_0bb0fd0f",
            column="account_id",
        ),
        own_index_dropped(
            migrations.AlterField(
                model_name='ledgertransaction',
                name='actor',
                field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL),
            ),
            table="wallet_ledgertransaction",
            index="wallet_ledgertransaction_actor_id_5bbe037b",
            column="actor_id",
        ),
        own_index_dropped(
            migrations.AlterField(
                model_name='ledgertransaction',
                name='bank_operation',
                field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='ledger_transactions', to='wallet.bankoperation'),
            ),
            table="wallet_ledgertransaction",
            index="wallet_ledgertransaction_bank_operation_id_494cf7fd",
            column="bank_operation_id",
        ),
        migrations.AddIndex(
            model_name='ledgertransaction',
            index=models.Index(condition=models.Q(('bank_operation__isnull', False)), fields=['bank_operation'], name='ledger_bank_operation'),
        ),
        migrations.AddIndex(
            model_name='ledgertransaction',
            index=models.Index(condition=models.Q(('actor__isnull', False)), fields=['actor'], name='ledger_actor'),
        ),
        pattern_index_dropped(
            table="wallet_ledgertransaction",
            index="wallet_ledgertransaction_reference_fb5ee297_like",
            column="reference",
        ),
    ]
