from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path
from django.utils.translation import gettext_lazy as _

from redpacket.kernel.admin import ReadOnlyAdminMixin, ReadOnlyTabularInline, log_operator_action
from redpacket.kernel.money import yuan
from wallet import selectors
from wallet.models import (
    Account,
    BankCard,
    BankOperation,
    CardBinding,
    Entry,
    IdempotencyRecord,
    LedgerTransaction,
    PaymentPin,
    ReconciliationFinding,
    ReconciliationRun,
    SandboxStatementLine,
    SmsMessage,
)
from wallet.tasks import reconcile


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "user", "balance")
    list_filter = ("kind",)
    search_fields = ("user__username", "user__display_name")
    list_select_related = ("user",)

    @admin.display(description=_("余额"))
    def balance(self, account: Account) -> str:
        if account.is_user_wallet:
            return yuan(account.balance_fen or 0)
        return yuan(selectors.system_balance(account.kind)) + " " + str(_("（分录合计）"))


class EntryInline(ReadOnlyTabularInline):
    model = Entry
    fields = ("account", "amount_fen", "balance_after_fen", "created_at")
    readonly_fields = fields


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "reference", "bank_operation", "actor", "memo", "created_at")
    list_filter = ("kind",)
    search_fields = ("reference",)
    list_select_related = ("bank_operation", "actor")
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(BankOperation)
class BankOperationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every call to the bank, by the reference both sides know: what ops match against
    the bank's statement, and what 对账 finishes when a request left one pending."""

    list_display = ("id", "reference", "user", "card", "amount_fen", "state", "created_at")
    list_filter = ("purpose", "state")
    search_fields = ("=id", "user__username")
    list_select_related = ("user", "card")
    date_hierarchy = "created_at"


@admin.register(Entry)
class EntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "transaction", "account", "amount_fen", "balance_after_fen", "created_at")
    list_filter = ("account__kind",)
    search_fields = ("transaction__reference", "account__user__username")
    list_select_related = ("transaction", "account__user")


@admin.register(BankCard)
class BankCardAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "user", "bank", "card_type", "masked_number", "is_active", "created_at")
    list_filter = ("bank", "card_type", "is_active")
    search_fields = ("user__username", "last4")
    exclude = ("gateway_token",)

    @admin.display(description=_("卡号"))
    def masked_number(self, card: BankCard) -> str:
        return f"**** **** **** {card.last4}"


@admin.register(CardBinding)
class CardBindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "bank",
        "last4",
        "phone_masked",
        "status",
        "attempts",
        "expires_at",
    )
    list_filter = ("status",)
    exclude = ("gateway_token", "pending_pin_hash", "code_hash")

    @admin.display(description=_("预留手机"))
    def phone_masked(self, binding: CardBinding) -> str:
        return f"*******{binding.phone_last4}"


@admin.register(PaymentPin)
class PaymentPinAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: a lock is lifted only by the logged "unlock" action, by holders of its
    permission (never by editing the counter)."""

    list_display = ("user", "failed_attempts", "locked_until", "updated_at")
    search_fields = ("user__username",)
    fields = ("user", "failed_attempts", "locked_until")
    actions = ["unlock"]

    def has_change_permission(self, request, obj=None):
        return obj is None and self.has_unlock_permission(request)

    def has_unlock_permission(self, request) -> bool:
        return request.user.has_perm("wallet.unlock_pin")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.action(description=_("解除支付密码锁定"), permissions=["unlock"])
    def unlock(self, request, queryset):
        for pin in queryset:
            PaymentPin.objects.filter(pk=pin.pk).update(failed_attempts=0, locked_until=None)
            log_operator_action(self, request, pin, "解除支付密码锁定")


@admin.register(SandboxStatementLine)
class SandboxStatementLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "operation", "amount_fen", "reference", "outcome", "created_at")
    list_filter = ("operation", "outcome")
    search_fields = ("reference",)


@admin.register(SmsMessage)
class SmsMessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "phone", "text", "created_at")
    search_fields = ("phone",)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Key and request are stored only as keyed digests, and neither is shown.
    list_display = ("id", "user", "scope", "state", "response_status", "created_at")
    list_filter = ("scope", "state", "response_status")
    search_fields = ("user__username",)
    exclude = ("key_digest", "request_hash")


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
    # Adds "立即对账" above the list: it works with no run yet, where an action cannot.
    change_list_template = "admin/wallet/reconciliationrun/change_list.html"

    def get_urls(self):
        run_now = path(
            "run-now/",
            self.admin_site.admin_view(self.run_now_view),
            name="wallet_reconciliationrun_run_now",
        )
        return [run_now, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        return super().changelist_view(request, extra_context)

    def run_now_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_run_permission(request):
            raise PermissionDenied
        self._start(request)
        return redirect("admin:wallet_reconciliationrun_changelist")

    def _start(self, request: HttpRequest) -> None:
        """A run row now (listed as running at once, and the admin log's object), its work
        on the worker after commit."""
        run = ReconciliationRun.objects.create()
        log_operator_action(self, request, run, "立即对账")
        transaction.on_commit(lambda: reconcile.delay(run.pk))
        self.message_user(request, _("已开始对账，完成后显示在列表中。"), messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        return obj is None and self.has_run_permission(request)

    def has_run_permission(self, request) -> bool:
        return request.user.has_perm("wallet.run_reconciliation")

    @admin.action(description=_("立即重新对账"), permissions=["run"])
    def run_again(self, request, queryset):
        self._start(request)


@admin.register(ReconciliationFinding)
class ReconciliationFindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "run", "kind", "object", "expected", "actual")
    list_filter = ("kind",)
    search_fields = ("object",)
