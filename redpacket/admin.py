from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from redpacket import services
from redpacket.core.admin import (
    ReadOnlyAdminMixin,
    ReadOnlyTabularInline,
    log_operator_action,
)
from redpacket.core.money import yuan
from redpacket.models import Claim, Packet, ReconciliationFinding, ReconciliationRun


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
        "room",
        "count",
        "total",
        "remaining_count",
        "status",
        "created_at",
        "expires_at",
    )
    list_filter = ("kind", "status")
    search_fields = ("=id", "sender__username", "greeting")
    date_hierarchy = "created_at"
    list_select_related = ("sender", "room")
    inlines = [ClaimInline]
    actions = ["expire_and_refund"]

    @admin.display(description=_("金额"), ordering="total_fen")
    def total(self, packet: Packet) -> str:
        return yuan(packet.total_fen)

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        # Read-only; the change list allows the action to holders of its permission.
        return obj is None and self.has_expire_permission(request)

    def has_expire_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return request.user.has_perm("redpacket.expire_packet")

    @admin.action(description=_("立即过期并退款"), permissions=["expire"])
    def expire_and_refund(self, request, queryset):  # type: ignore[no-untyped-def]
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


class FindingInline(ReadOnlyTabularInline):
    model = ReconciliationFinding
    fields = ("kind", "object", "expected", "actual")
    readonly_fields = fields


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "started_at",
        "finished_at",
        "status",
        "packets_checked",
        "findings_count",
        "requeued_credits",
        "summary",
    )
    list_filter = ("status",)
    inlines = [FindingInline]
    actions = ["run_again"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return obj is None and self.has_run_permission(request)

    def has_run_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return request.user.has_perm("redpacket.run_reconciliation")

    @admin.action(description=_("立即重新对账"), permissions=["run"])
    def run_again(self, request, queryset):  # type: ignore[no-untyped-def]
        from redpacket.tasks import reconcile

        for run in queryset[:1]:
            log_operator_action(self, request, run, "立即重新对账")
        reconcile.delay()
        self.message_user(request, _("已开始对账，完成后显示在列表中。"), messages.SUCCESS)


@admin.register(ReconciliationFinding)
class ReconciliationFindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "run", "kind", "object", "expected", "actual")
    list_filter = ("kind",)
    search_fields = ("object",)
