from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from redpacket.accounts.models import User


@admin.register(User)
class RedpacketUserAdmin(UserAdmin):
    list_display = ("username", "display_name", "is_staff", "is_active", "date_joined")
    search_fields = ("username", "display_name")
    fieldsets = (*(UserAdmin.fieldsets or ()), ("资料", {"fields": ("display_name",)}))
