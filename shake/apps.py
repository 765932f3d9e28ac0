from django.apps import AppConfig


class ShakeConfig(AppConfig):
    name = "shake"
    verbose_name = "摇一摇"

    def ready(self) -> None:
        # selectors registers wins as a source of 我的红包 (wallet.received).
        # tasks: registered with Celery.
        from shake import audit, selectors, services, tasks  # noqa: F401
        from wallet import crediting, notices, reconciliation
        from wallet.models import LedgerTransaction

        crediting.credit_source_register(services.WINS)
        reconciliation.check_register(audit.campaign_findings)
        notices.notice_link_register(
            kind=LedgerTransaction.Kind.WIN_CREDIT, resolve=selectors.win_notice_links
        )
