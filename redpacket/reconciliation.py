"""对账 — prove every fen (SPEC §7): the ledger balances and matches the bank's statement,
each packet adds up and its shares match their recomputed allocation, each claim is
credited exactly once, and credits pending too long are queued again. Findings are stored
with the run; a clean run says so."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from redpacket.audit import packet_findings
from redpacket.models import Packet, ReconciliationFinding, ReconciliationRun
from wallet import services as wallet_services
from wallet.selectors import Finding

CHUNK = 500


def checks() -> list[Callable[[], list[Finding]]]:
    """The whole-system checks (settings RECONCILIATION_CHECKS), besides the per-packet one."""
    return [import_string(path) for path in settings.RECONCILIATION_CHECKS]


def all_findings(progress: Callable[[int], None] | None = None) -> list[Finding]:
    """Every check over the whole database; `progress(n)` after each chunk of n packets.

    On PostgreSQL every check reads one snapshot (REPEATABLE READ, read only), so money
    moving while the checks run cannot show up as a difference between two of them.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        findings: list[Finding] = []
        ids = list(Packet.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            findings += packet_findings(Packet.objects.filter(pk__in=chunk))
            if progress is not None:
                progress(len(chunk))
        for check in checks():
            findings += check()
    return findings


def reconcile(*, progress: Callable[[int], None] | None = None) -> ReconciliationRun:
    """Run 对账 once: store the findings, queue stale credits again, and say how it went."""
    from redpacket.tasks import credit_sweep, stale_credits

    run = ReconciliationRun.objects.create()
    try:
        findings = all_findings(progress)
        stale_after = timedelta(seconds=settings.CREDIT_SWEEP_AFTER_SECONDS)
        stale = [
            Finding(
                "stale_pending_credit",
                f"{row._meta.model_name} {row.pk}",
                f"credited within {stale_after}",
                "still pending",
            )
            for _task, row in stale_credits(stale_after)
        ]
        requeued = credit_sweep() if stale else 0
        findings += stale
        # Bank operations a dead request left pending: ask the bank again and finish
        # them (found above as findings of this run; the next run sees them settled).
        resolve_after = timedelta(seconds=settings.BANK_OPERATION_RESOLVE_AFTER_SECONDS)
        for operation in wallet_services.bank_operations_unsettled(resolve_after):
            wallet_services.bank_operation_resolve(operation)
        ReconciliationFinding.objects.bulk_create(
            ReconciliationFinding(
                run=run,
                kind=f.kind,
                object=f.object[:200],
                expected=f.expected[:200],
                actual=f.actual[:200],
            )
            for f in findings
        )
        run.packets_checked = Packet.objects.count()
        run.findings_count = len(findings)
        run.requeued_credits = requeued
        run.status = (
            ReconciliationRun.Status.FINDINGS if findings else ReconciliationRun.Status.CLEAN
        )
        run.summary = (
            f"{len(findings)} finding(s)" if findings else "clean: every fen accounted for"
        )
    except Exception:
        run.status = ReconciliationRun.Status.FAILED
        run.summary = "the run failed; see the logs"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save()
    return run
