# 对账 moved to wallet (wallet 0005): state only, the tables stay where they are.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("redpacket", "0003_money_action_permissions"),
        ("wallet", "0005_reconciliation_from_packets"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ReconciliationFinding"),
                migrations.DeleteModel(name="ReconciliationRun"),
            ],
            database_operations=[],
        ),
    ]
