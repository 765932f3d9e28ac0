"""对账 on demand, with a progress bar over the rows checked one by one (the packets)."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from wallet.reconciliation import reconcile, rows_to_check


class Command(BaseCommand):
    help = "Reconcile the ledger, the bank statement, every packet and claim; store the findings."

    def handle(self, *args, **options):
        with tqdm(
            total=rows_to_check(),
            unit="packet",
            desc="对账",
            disable=options["verbosity"] == 0,
        ) as bar:
            run = reconcile(progress=bar.update)
        style = self.style.SUCCESS if run.status == run.Status.CLEAN else self.style.WARNING
        self.stdout.write(style(f"Run #{run.pk}: {run.summary}"))
        for finding in run.findings.all()[:50]:
            self.stdout.write(
                f"  {finding.kind:<22} {finding.object}: "
                f"expected {finding.expected}, found {finding.actual}"
            )
        if run.requeued_credits:
            self.stdout.write(f"  queued {run.requeued_credits} pending credit(s) again")
        if run.status != run.Status.CLEAN:
            raise SystemExit(1)
