"""How far each user has read their 服务通知 (money notices)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NoticesSeen(models.Model):
    """The newest notice (a wallet ledger entry's id) the user has seen on the 服务通知
    page; the wallet badge counts the notices after it. One row per user, written only
    when they visit the page, never by a money movement (whose wallet row is hot)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    up_to_entry_id = models.BigIntegerField(default=0)
    seen_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "服务通知已读位置"
        verbose_name_plural = "服务通知已读位置"

    def __str__(self) -> str:
        return f"{self.user_id}: {self.up_to_entry_id}"
