from django.apps import AppConfig


class ShakeConfig(AppConfig):
    name = "shake"
    verbose_name = "摇一摇"

    def ready(self) -> None:
        from shake import audit, services, tasks  # noqa: F401 - tasks: registered with Celery
        from wallet import crediting, reconciliation

        crediting.credit_source_register(services.WINS)
        reconciliation.check_register(audit.campaign_findings)
