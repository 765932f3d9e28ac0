from django.apps import AppConfig


class ShakeConfig(AppConfig):
    name = "shake"
    verbose_name = "摇一摇"

    def ready(self) -> None:
        from shake import audit, services, tasks
        from shake.models import Win
        from wallet import crediting, reconciliation

        crediting.credit_source_register(
            model=Win, pending=services.wins_pending, task=tasks.win_credit
        )
        reconciliation.check_register(audit.campaign_findings)
