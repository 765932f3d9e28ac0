"""对账 — prove every fen (SPEC §7): the ledger balances and matches the bank's statement,
each packet adds up and its shares match their recomputed allocation, each claim and win
is credited exactly once, and credits pending too long are queued again. Findings are
stored with the run; a clean run says so.

The checks are registered by the apps that own the rows (their AppConfig.ready): a
*subject* is checked one chunk of ids at a time with a progress report (packets), a
*check* runs once over the whole database (the ledger, claims' credits, campaigns).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from wallet import services as wallet_services
from wallet.crediting import credits_requeue_stale, stale_credits
from wallet.models import ReconciliationFinding, ReconciliationRun
from wallet.selectors import Finding

CHUNK = 500

Check = Callable[[], list[Finding]]


@dataclass(frozen=True)
class Subject:
    """Rows 对账 checks in chunks: `rows()` lists their ids in order, `findings(ids)`
    checks one chunk."""

    name: str
    rows: Callable[[], list[int]]
    findings: Callable[[list[int]], list[Finding]]


_subjects: list[Subject] = []
_checks: list[Check] = []


def subject_register(
    *, name: str, rows: Callable[[], list[int]], findings: Callable[[list[int]], list[Finding]]
) -> None:
    subject = Subject(name=name, rows=rows, findings=findings)
    if subject not in _subjects:
        _subjects.append(subject)


def check_register(check: Check) -> None:
    if check not in _checks:
        _checks.append(check)


def subjects() -> list[Subject]:
    return list(_subjects)


def checks() -> list[Check]:
    """The whole-system checks, besides the chunked ones, in the order apps registered them."""
    return list(_checks)


def rows_to_check() -> int:
    """How many rows the chunked checks go through (the progress bar's total)."""
    return sum(len(subject.rows()) for subject in _subjects)


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
        for subject in _subjects:
            ids = subject.rows()
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start : start + CHUNK]
                findings += subject.findings(chunk)
                if progress is not None:
                    progress(len(chunk))
        for check in _checks:
            findings += check()
    return findings


def _run_row(run_id: int | None) -> ReconciliationRun:
    if run_id is None:
        return ReconciliationRun.objects.create()
    return ReconciliationRun.objects.get_or_create(pk=run_id)[0]


def reconcile(
    *, progress: Callable[[int], None] | None = None, run_id: int | None = None
) -> ReconciliationRun:
    """Run 对账 once: store the findings, queue stale credits again, and say how it went.

    `run_id` names a run row made beforehand (admin's "立即对账" makes one so the operator
    sees it listed as running at once); a row that is not running any more is not run
    again (a redelivered task)."""
    run = _run_row(run_id)
    if run.status != ReconciliationRun.Status.RUNNING:
        return run
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
        requeued = credits_requeue_stale() if stale else 0
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
        run.packets_checked = rows_to_check()
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
