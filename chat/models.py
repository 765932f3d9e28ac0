"""Rooms, who is in them, and what was said there.

A message that belongs to a red packet keeps only the packet's id (`packet_id`), not a
foreign key: the red packet app depends on chat, never the reverse.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MESSAGE_MAX_LENGTH = 2000
ROOM_NAME_MAX_LENGTH = 30


class Room(models.Model):
    class Kind(models.TextChoices):
        GROUP = "group", _("群聊")
        DIRECT = "direct", _("单聊")

    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices)
    # Empty for direct rooms: each viewer sees the other person's name instead.
    name = models.CharField(_("名称"), max_length=ROOM_NAME_MAX_LENGTH, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="owned_rooms",
        verbose_name=_("创建者"),
    )
    # "<smaller user id>:<larger user id>" for direct rooms, NULL for groups: the unique
    # index makes "one direct room per pair" hold even when two requests race.
    direct_key = models.CharField(max_length=41, unique=True, null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="chat_rooms"
    )

    class Meta:
        verbose_name = _("聊天室")
        verbose_name_plural = _("聊天室")
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["group", "direct"]), name="chat_room_kind_valid"
            ),
            models.CheckConstraint(
                condition=(Q(kind="direct") & Q(direct_key__isnull=False))
                | (Q(kind="group") & Q(direct_key__isnull=True)),
                name="chat_room_direct_key_iff_direct",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} #{self.pk}"

    @property
    def is_direct(self) -> bool:
        return self.kind == self.Kind.DIRECT


def direct_key_for(user_id: int, other_user_id: int) -> str:
    low, high = sorted((int(user_id), int(other_user_id)))
    return f"{low}:{high}"


class Membership(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_memberships"
    )
    joined_at = models.DateTimeField(_("加入时间"), default=timezone.now)
    # The newest message id this member has seen; a plain integer (0 = nothing read) so
    # marking read is one conditional UPDATE and unread counts are an id range.
    last_read_message_id = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("成员")
        verbose_name_plural = _("成员")
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="chat_membership_unique"),
        ]
        indexes = [models.Index(fields=["user", "room"], name="chat_member_user_room")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.room}"


class Message(models.Model):
    class Kind(models.TextChoices):
        TEXT = "text", _("文字")
        PACKET = "packet", _("红包")
        NOTICE = "notice", _("提醒")

    # No index of its own: the history index (room, −id) leads with it.
    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    # NULL for system notices ("X邀请Y加入了群聊").
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("发送者"),
    )
    kind = models.CharField(_("类型"), max_length=8, choices=Kind.choices)
    text = models.TextField(_("内容"), blank=True, default="")
    packet_id = models.BigIntegerField(_("红包"), null=True, blank=True)
    # A notice's key and parameters (`chat.notices`): rendered in each viewer's language;
    # `text` keeps the site-language rendering (and is all that older notices have).
    notice_key = models.CharField(_("提醒类型"), max_length=40, blank=True, default="")
    notice_params = models.JSONField(_("提醒参数"), blank=True, default=dict)
    # Set for a notice only one member sees (e.g. "Bob领取了你的红包" for the packet's
    # sender); NULL means everyone in the room sees the message.
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("仅对其可见"),
    )
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("消息")
        verbose_name_plural = _("消息")
        indexes = [
            # History pages: WHERE room_id = ? AND id < ? ORDER BY id DESC LIMIT n.
            models.Index(fields=["room", "-id"], name="chat_message_room_history"),
            models.Index(
                fields=["packet_id"],
                name="chat_message_packet",
                condition=Q(packet_id__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["text", "packet", "notice"]), name="chat_message_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind="packet") | Q(packet_id__isnull=False),
                name="chat_message_packet_has_id",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("text"), MESSAGE_MAX_LENGTH),
                name="chat_message_text_max_length",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}: {self.text[:30]}"


class Invitation(models.Model):
    """An offer to join a group, for someone who shares no room with the person adding.

    Adding people to a group is direct only between acquaintances
    (`selectors.acquainted_ids`); anyone else gets an invitation and becomes a member
    only by accepting it. At most one invitation per person and room is pending.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("待处理")
        ACCEPTED = "accepted", _("已加入")
        DECLINED = "declined", _("已拒绝")

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="invitations", verbose_name=_("群聊")
    )
    inviter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("邀请人"),
    )
    invitee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_invitations",
        verbose_name=_("被邀请人"),
    )
    state = models.CharField(_("状态"), max_length=8, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(_("邀请时间"), default=timezone.now)
    responded_at = models.DateTimeField(_("处理时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("入群邀请")
        verbose_name_plural = _("入群邀请")
        constraints = [
            models.UniqueConstraint(
                fields=["room", "invitee"],
                condition=Q(state="pending"),
                name="chat_invitation_one_pending",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "accepted", "declined"]),
                name="chat_invitation_state_valid",
            ),
        ]
        indexes = [models.Index(fields=["invitee", "state"], name="chat_invitation_invitee")]

    def __str__(self) -> str:
        return f"{self.invitee} → {self.room} ({self.state})"
