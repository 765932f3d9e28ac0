"""Red packet refusals with API.md's codes."""

from django.utils.translation import gettext_lazy as _

from redpacket.core.errors import DomainError


class PacketFinished(DomainError):
    code = "finished"
    status = 409
    message = _("手慢了，红包派完了")


class PacketExpired(DomainError):
    code = "expired"
    status = 410
    message = _("该红包已超过24小时。如已领取，可在“我的红包”中查看")


class PacketNotAllowed(DomainError):
    code = "not_allowed"
    status = 403
    message = _("无权领取这个红包")


class PacketNotFound(DomainError):
    code = "not_found"
    status = 404
    message = _("红包不存在")
