"""Shapes of rooms and messages (API.md "Rooms and messages"); no logic beyond shape.

`MessageSerializer` declares the one message shape for the schema and renders through
`chat.data.message_data`, which the room page's first page and the websocket's
`message.new` use too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from chat import selectors
from chat.data import invitation_data, message_data
from chat.hooks import decorate_messages
from chat.models import MESSAGE_MAX_LENGTH, ROOM_NAME_MAX_LENGTH, Message, Room
from redpacket.accounts.api.serializers import UserSerializer
from redpacket.accounts.selectors import user_data

if TYPE_CHECKING:
    from django.db.models import Field
    from django_stubs_ext import StrOrPromise

_MAX_ID = 2**63 - 1


def _message_label(field: str) -> StrOrPromise:
    return cast("Field[Any, Any]", Message._meta.get_field(field)).verbose_name  # a column


def _id_field(**kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=_MAX_ID, **kwargs)


class NoticeSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    params = serializers.DictField(read_only=True)


# Fields spelled out rather than a ModelSerializer's (which builds them from the model on
# each use): every event and history page shapes its messages through this.
class MessageSerializer(serializers.Serializer):
    """A message. `sender` is null for system notices; `recipient_id` is set on a notice
    only its recipient sees. Decorators (`chat.hooks`) may add fields such as `packet`."""

    id = serializers.IntegerField(read_only=True)
    room_id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(
        choices=Message.Kind.choices, read_only=True, label=_message_label("kind")
    )
    sender = UserSerializer(read_only=True, allow_null=True)
    text = serializers.CharField(read_only=True, label=_message_label("text"))
    packet_id = serializers.IntegerField(
        read_only=True, allow_null=True, label=_message_label("packet_id")
    )
    recipient_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True, default_timezone=dt.UTC)
    notice = NoticeSerializer(
        read_only=True,
        allow_null=True,
        help_text="a notice's key and parameters; `text` is it rendered for the caller",
    )

    def to_representation(self, instance: Any) -> dict[str, Any]:
        if isinstance(instance, Mapping):  # already shaped (and perhaps decorated)
            return dict(super().to_representation(instance))
        return message_data(instance)


def messages_for_viewer(messages: list[Message], viewer: Any) -> list[dict[str, Any]]:
    """Message dicts as `viewer` sees them: shaped, then decorated by registered hooks."""
    return decorate_messages([message_data(message) for message in messages], viewer)


class RoomSerializer(serializers.Serializer):
    """A room as its member (`context["viewer"]`) sees it.

    `name` is the group's name, or in a direct room the other person's name. `unread`,
    `last_message`, `owner_id` and `created_at` are extras beyond API.md's room.
    """

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=Room.Kind.choices, read_only=True)
    name = serializers.SerializerMethodField()
    member_count = serializers.SerializerMethodField()
    members = serializers.SerializerMethodField()
    owner_id = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True, default_timezone=dt.UTC)
    unread = serializers.SerializerMethodField()
    last_message = serializers.SerializerMethodField()

    def _viewer(self) -> Any:
        return self.context["viewer"]

    @extend_schema_field(OpenApiTypes.STR)
    def get_name(self, room: Room) -> str:
        return selectors.room_title(room, self._viewer())

    @extend_schema_field(OpenApiTypes.INT)
    def get_member_count(self, room: Room) -> int:
        count = getattr(room, "member_count", None)
        return count if count is not None else len(selectors.room_members(room))

    @extend_schema_field(UserSerializer(many=True))
    def get_members(self, room: Room) -> list[dict[str, Any]]:
        # many=True: a list (the stubs give every serializer's data as a dict).
        return cast(
            "list[dict[str, Any]]", UserSerializer(selectors.room_members(room), many=True).data
        )

    @extend_schema_field(OpenApiTypes.INT)
    def get_unread(self, room: Room) -> int:
        return int(getattr(room, "unread", 0) or 0)

    @extend_schema_field(MessageSerializer(allow_null=True))
    def get_last_message(self, room: Room) -> dict[str, Any] | None:
        message = selectors.room_last_message(room)
        return message_data(message) if message is not None else None


class RoomChangeSerializer(RoomSerializer):
    """A room just created or added to, with `invited`: the people who got an invitation
    instead of joining (they share no room with the one adding them)."""

    invited = serializers.SerializerMethodField()

    @extend_schema_field(UserSerializer(many=True))
    def get_invited(self, room: Room) -> list[dict[str, Any]]:
        return [user_data(user) for user in self.context.get("invited", [])]


class InvitationRoomSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    member_count = serializers.IntegerField()


class InvitationSerializer(serializers.Serializer):
    """A pending invitation as its invitee sees it; renders through
    `chat.data.invitation_data`, as the `invitation.new` event does."""

    id = serializers.IntegerField(read_only=True)
    room = InvitationRoomSerializer(read_only=True)
    inviter = UserSerializer(read_only=True)
    created_at = serializers.DateTimeField(read_only=True, default_timezone=dt.UTC)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        return invitation_data(instance)


class InvitationPageSerializer(serializers.Serializer):
    results = InvitationSerializer(many=True)
    next = serializers.URLField(allow_null=True)


class RoomPageSerializer(serializers.Serializer):
    results = RoomSerializer(many=True)
    next = serializers.URLField(allow_null=True)


class MessagePageSerializer(serializers.Serializer):
    results = MessageSerializer(many=True)
    next = serializers.URLField(allow_null=True)


class RoomCreateInput(serializers.Serializer):
    """`{"kind": "group", "name", "member_ids"}` or `{"kind": "direct", "user_id"}`."""

    kind = serializers.ChoiceField(choices=Room.Kind.choices)
    name = serializers.CharField(
        required=False, allow_blank=True, max_length=ROOM_NAME_MAX_LENGTH, help_text="group only"
    )
    member_ids = serializers.ListField(
        child=_id_field(), required=False, max_length=1000, help_text="group only"
    )
    user_id = _id_field(required=False, help_text="direct only: the other person")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        required = ["name"] if attrs["kind"] == Room.Kind.GROUP else ["user_id"]
        missing = {field: _("该字段是必填项。") for field in required if field not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class RoomMembersInput(serializers.Serializer):
    user_ids = serializers.ListField(child=_id_field(), min_length=1, max_length=1000)


class MessageInput(serializers.Serializer):
    text = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=f"1–{MESSAGE_MAX_LENGTH} characters"
    )


class MessageHistoryQuery(serializers.Serializer):
    before = _id_field(required=False, help_text="only messages older than this id")
    after = _id_field(required=False, help_text="only messages newer than this id")
    limit = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=selectors.HISTORY_MAX_PAGE_SIZE,
        default=selectors.HISTORY_PAGE_SIZE,
    )


class ReadInput(serializers.Serializer):
    message_id = _id_field()
