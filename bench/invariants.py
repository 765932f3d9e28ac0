"""The run's verdict on the money: once the worker has credited every claim, every
SPEC §8 check (`wallet.reconciliation.all_findings()`) on the benchmark's database.

Opens leave credits pending for the Celery worker, so the checks wait for the queue to
drain first; the crediting scenario waits the same way before it builds its backlog.
"""

from __future__ import annotations

import time
from typing import Any


def pending_credits() -> int:
    """Claims the worker has not credited yet (read from the partial index, cheap)."""
    from redpacket.packets.models import Claim

    return Claim.objects.filter(credit_status=Claim.CreditStatus.PENDING).count()


def wait_for_credits(timeout: float) -> int:
    """Wait until no credit is pending or `timeout` seconds pass; the credits left."""
    deadline = time.monotonic() + timeout
    pending = pending_credits()
    while pending and time.monotonic() < deadline:
        time.sleep(0.5)
        pending = pending_credits()
    return pending


def reconcile() -> dict[str, Any]:
    from wallet.reconciliation import all_findings

    pending = wait_for_credits(timeout=600)
    findings = all_findings()
    return {
        "pending_credits_left": pending,
        "findings": [str(f) for f in findings[:50]],
        "findings_count": len(findings),
    }
