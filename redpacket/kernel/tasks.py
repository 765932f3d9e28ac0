"""The daily partition upkeep (beat: `partition-upkeep`)."""

from __future__ import annotations

from celery import shared_task

from redpacket.kernel import partitions


@shared_task(name="redpacket.tasks.partition_upkeep", time_limit=600)
def partition_upkeep() -> dict[str, str | list[str]]:
    """Keep the coming months' partitions of claims, ledger entries and messages ready
    (pg_partman's run_maintenance, or made here without it). Never drops a month."""
    return partitions.upkeep()
