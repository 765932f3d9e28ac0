# 对账 moved from the packet app (label "redpacket") to wallet. State only: the tables keep
# their names (db_table), no row is copied. The content types move with the models, so the
# permissions given to operators ("run_reconciliation", view) stay theirs.

import django.db.models.deletion
from django.db import migrations, models


def content_types_to_wallet(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("reconciliationrun", "reconciliationfinding"):
        if not ContentType.objects.filter(app_label="wallet", model=model).exists():
            ContentType.objects.filter(app_label="redpacket", model=model).update(
                app_label="wallet"
            )


def content_types_to_redpacket(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("reconciliationrun", "reconciliationfinding"):
        if not ContentType.objects.filter(app_label="redpacket", model=model).exists():
            ContentType.objects.filter(app_label="wallet", model=model).update(
                app_label="redpacket"
            )


class Migration(migrations.Migration):

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("wallet", "0004_money_action_permissions"),
        ("redpacket", "0003_money_action_permissions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ReconciliationRun",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("started_at", models.DateTimeField(auto_now_add=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        ("status", models.CharField(choices=[("running", "进行中"), ("clean", "全部一致"), ("findings", "发现差异"), ("failed", "运行失败")], default="running", max_length=10)),
                        ("packets_checked", models.PositiveIntegerField(default=0)),
                        ("findings_count", models.PositiveIntegerField(default=0)),
                        ("requeued_credits", models.PositiveIntegerField(default=0)),
                        ("summary", models.CharField(blank=True, max_length=200)),
                    ],
                    options={
                        "verbose_name": "对账",
                        "verbose_name_plural": "对账",
                        "ordering": ["-started_at"],
                        "permissions": [("run_reconciliation", "可以立即运行对账")],
                        "db_table": "redpacket_reconciliationrun",
                    },
                ),
                migrations.CreateModel(
                    name="ReconciliationFinding",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("kind", models.CharField(max_length=40)),
                        ("object", models.CharField(max_length=200)),
                        ("expected", models.CharField(max_length=200)),
                        ("actual", models.CharField(max_length=200)),
                        ("run", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="findings", to="wallet.reconciliationrun")),
                    ],
                    options={
                        "verbose_name": "对账差异",
                        "verbose_name_plural": "对账差异",
                        "db_table": "redpacket_reconciliationfinding",
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to_wallet, content_types_to_redpacket),
    ]
