"""Bank operations (the one reference the bank and the ledger share), the ledger's link to
them and its actor, and idempotency keys scoped per endpoint and stored as digests.

Idempotency records of the old shape (raw key, unscoped) are dropped: they are replay
caches, and their key cannot be turned into the new keyed digest with its scope."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def drop_old_records(apps, schema_editor):
    apps.get_model("wallet", "IdempotencyRecord").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("wallet", "0002_ledger_triggers"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_old_records, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="idempotencyrecord", name="idempotency_one_per_user_key"
        ),
        migrations.RemoveField(model_name="idempotencyrecord", name="key"),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="scope",
            field=models.CharField(max_length=60, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="idempotencyrecord",
            name="key_digest",
            field=models.CharField(max_length=64, default=""),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="idempotencyrecord",
            constraint=models.UniqueConstraint(
                fields=("user", "scope", "key_digest"), name="idempotency_one_per_user_scope_key"
            ),
        ),
        migrations.CreateModel(
            name="BankOperation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("purpose", models.CharField(choices=[("topup", "充值"), ("withdraw", "提现"), ("charge", "银行卡支付"), ("refund", "退回银行卡")], max_length=10)),
                ("amount_fen", models.BigIntegerField()),
                ("state", models.CharField(choices=[("pending", "处理中"), ("ok", "成功"), ("declined", "拒绝"), ("insufficient_funds", "余额不足"), ("returned", "已退回")], default="pending", max_length=20)),
                ("request_key", models.CharField(blank=True, max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("settled_at", models.DateTimeField(blank=True, null=True)),
                ("card", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="operations", to="wallet.bankcard")),
                ("refund_of", models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="refund", to="wallet.bankoperation")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="bank_operations", to=settings.AUTH_USER_MODEL)),
            ],
            options={
                "verbose_name": "银行操作",
                "verbose_name_plural": "银行操作",
                "constraints": [models.CheckConstraint(condition=models.Q(("amount_fen__gt", 0)), name="bank_operation_positive")],
                "indexes": [models.Index(fields=["user", "purpose", "request_key"], name="bank_operation_request")],
            },
        ),
        migrations.AddField(
            model_name="ledgertransaction",
            name="bank_operation",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="ledger_transactions", to="wallet.bankoperation"),
        ),
        migrations.AddField(
            model_name="ledgertransaction",
            name="actor",
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='ledgertransaction',
            name='kind',
            field=models.CharField(choices=[('topup', '充值'), ('withdraw', '提现'), ('withdraw_reversal', '提现退回'), ('transfer', '转账'), ('packet_fund', '发红包'), ('claim_credit', '红包入账'), ('packet_refund', '红包退款'), ('campaign_fund', '活动预算'), ('win_credit', '摇一摇入账'), ('campaign_refund', '活动退款'), ('charge_return', '支付失败退回'), ('card_refund', '退回银行卡'), ('card_refund_reversal', '退回银行卡失败')], max_length=24),
        ),
    ]
