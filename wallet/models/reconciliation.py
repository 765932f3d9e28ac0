"""对账 runs and their findings."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ReconciliationRun(models.Model):
    """One 对账 run over the whole ledger, every packet and claim (SPEC §7)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("进行中")
        CLEAN = "clean", _("全部一致")
        FINDINGS = "findings", _("发现差异")
        FAILED = "failed", _("运行失败")

    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    packets_checked = models.PositiveIntegerField(default=0)
    findings_count = models.PositiveIntegerField(default=0)
    requeued_credits = models.PositiveIntegerField(default=0)
    summary = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = _("对账")
        verbose_name_plural = _("对账")
        permissions = [("run_reconciliation", _("可以立即运行对账"))]
        ordering = ["-started_at"]
        # Created by the packet app (label "redpacket") before 对账 moved to wallet; the
        # move was state-only, so the table keeps its name.
        db_table = "redpacket_reconciliationrun"

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.get_status_display()}"


class ReconciliationFinding(models.Model):
    """Something that did not add up: what kind, on which object, expected vs found."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="findings")
    kind = models.CharField(max_length=40)
    object = models.CharField(max_length=200)
    expected = models.CharField(max_length=200)
    actual = models.CharField(max_length=200)

    class Meta:
        verbose_name = _("对账差异")
        verbose_name_plural = _("对账差异")
        db_table = "redpacket_reconciliationfinding"

    def __str__(self) -> str:
        return f"{self.kind} {self.object}"
