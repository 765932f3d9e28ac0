"""Admin building blocks shared by the apps."""

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.http import HttpRequest


class ReadOnlyAdminMixin:
    """Operators see these rows but never edit them (the ledger, claims, statements)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def log_operator_action(
    model_admin: admin.ModelAdmin, request: HttpRequest, obj, what: str
) -> None:
    """Record an operator's money or lock action in Django's admin log (who, what, when,
    on which row): the ops view of who did what (admin → 操作日志)."""
    model_admin.log_change(request, obj, what)


@admin.register(LogEntry)
class OperatorLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Who did what in admin, newest first; the money actions name their action."""

    list_display = ("action_time", "user", "content_type", "object_repr", "change_message")
    list_filter = ("action_flag", "content_type")
    search_fields = ("user__username", "object_repr", "change_message")
    list_select_related = ("user", "content_type")
    date_hierarchy = "action_time"


class ReadOnlyTabularInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False
