from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = "钱包"

    def ready(self) -> None:
        from wallet import reconciliation, selectors

        # First of the whole-system checks, as before: the ledger itself.
        reconciliation.check_register(selectors.ledger_findings)
