"""Operators see rooms with their members, and messages read-only.

Membership edits made here bypass the services, so the cached member set of the room is
refreshed after they commit (the red packet hot path reads it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin
from django.db import transaction

from chat import selectors
from chat.models import Invitation, Membership, Message, Room

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _MemberTotal(TypedDict):
    member_total: int  # RoomAdmin.get_queryset


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    raw_id_fields = ("user",)
    fields = ("user", "joined_at", "last_read_message_id")
    readonly_fields = ("joined_at", "last_read_message_id")


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "name", "owner", "member_total", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "owner__username", "owner__display_name")
    raw_id_fields = ("owner",)
    readonly_fields = ("direct_key", "created_at")
    list_select_related = ("owner",)
    inlines = [MembershipInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    @admin.display(description="成员数", ordering="member_total")
    def member_total(self, room: WithAnnotations[Room, _MemberTotal]) -> int:
        return room.member_total

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        room_id = form.instance.pk
        transaction.on_commit(lambda: selectors.room_members_cache_refresh(room_id))


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "room",
        "kind",
        "sender",
        "short_text",
        "packet_id",
        "recipient",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = ("text", "sender__username")
    list_select_related = ("room", "sender", "recipient")
    raw_id_fields = ("room", "sender", "recipient")
    readonly_fields = ("room", "sender", "kind", "text", "packet_id", "recipient", "created_at")
    date_hierarchy = "created_at"
    show_full_result_count = False  # counting a large message table on every page is slow

    @admin.display(description="内容")
    def short_text(self, message: Message) -> str:
        return message.text if len(message.text) <= 40 else message.text[:40] + "…"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Read-only: an invitation changes only by its invitee's answer."""

    list_display = ("id", "room", "inviter", "invitee", "state", "created_at", "responded_at")
    list_filter = ("state",)
    search_fields = ("room__name", "inviter__username", "invitee__username")
    list_select_related = ("room", "inviter", "invitee")
    readonly_fields = ("room", "inviter", "invitee", "state", "created_at", "responded_at")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
