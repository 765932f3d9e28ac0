from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from redpacket.kernel.admin import (
    ReadOnlyAdminMixin,
    ReadOnlyTabularInline,
    log_operator_action,
)
from redpacket.kernel.money import yuan
from redpacket.packets import services
from redpacket.packets.models import Claim, Packet


class ClaimInline(ReadOnlyTabularInline):
    model = Claim
    fields = ("index", "user", "amount_fen", "opened_at", "credit_status", "credited_at")
    readonly_fields = fields
    ordering = ("index",)


@admin.register(Packet)
class PacketAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "sender",
        "to_user",
        "room",
        "count",
        "total",
        "remaining_count",
        "status",
        "created_at",
        "expires_at",
    )
    list_filter = ("kind", "status", ("to_user", admin.RelatedOnlyFieldListFilter))
    search_fields = ("=id", "sender__username", "to_user__username", "greeting")
    date_hierarchy = "created_at"
    list_select_related = ("sender", "to_user", "room")
    inlines = [ClaimInline]
    actions = ["expire_and_refund"]

    @admin.display(description=_("金额"), ordering="total_fen")
    def total(self, packet: Packet) -> str:
        return yuan(packet.total_fen)

    def has_change_permission(self, request, obj=None):
        # Read-only; the change list allows the action to holders of its permission.
        return obj is None and self.has_expire_permission(request)

    def has_expire_permission(self, request) -> bool:
        return request.user.has_perm("redpacket.expire_packet")

    @admin.action(description=_("立即过期并退款"), permissions=["expire"])
    def expire_and_refund(self, request, queryset):
        done = 0
        for packet in queryset:
            if services.packet_expire(packet_id=packet.pk, force=True, actor=request.user):
                log_operator_action(self, request, packet, "立即过期并退款")
                done += 1
        self.message_user(
            request,
            ngettext("%(n)d 个红包已过期并退款。", "%(n)d 个红包已过期并退款。", done)
            % {"n": done},
            messages.SUCCESS,
        )


@admin.register(Claim)
class ClaimAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "packet",
        "index",
        "user",
        "amount_fen",
        "opened_at",
        "credit_status",
        "credited_at",
    )
    list_filter = ("credit_status",)
    search_fields = ("=packet__id", "user__username")
    list_select_related = ("packet", "user")
