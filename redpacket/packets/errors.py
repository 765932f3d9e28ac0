"""Red packet refusals with API.md's codes."""

from django.utils.translation import gettext_lazy as _

from redpacket.kernel.errors import DomainError


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


class DirectPacketNotForwardable(DomainError):
    """A packet sent in a direct (1:1) room is for the one person there: forwarded into
    another room, anyone there could open it (issue #16 finding 7)."""

    code = "direct_packet"
    status = 409
    message = _("单聊红包只能发给对方，不能转发到其他聊天")


class PacketNotFound(DomainError):
    code = "not_found"
    status = 404
    message = _("红包不存在")
