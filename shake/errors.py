"""Shake refusals with API.md's codes. A shake that simply does not win is not an error:
it is an answer (`{"won": false, "reason": ...}`)."""

from django.utils.translation import gettext_lazy as _

from redpacket.kernel.errors import DomainError


class CampaignNotFound(DomainError):
    code = "not_found"
    status = 404
    message = _("活动不存在")


class CampaignOver(DomainError):
    code = "campaign_over"
    status = 410
    message = _("活动已结束")


class CampaignNotStarted(CampaignOver):
    """Not running yet: the same 410 `campaign_over` (nothing can be won now)."""

    message = _("活动尚未开始")


class WinNotFound(DomainError):
    code = "not_found"
    status = 404
    message = _("红包不存在")
