"""Campaigns in admin (SPEC §7): created through the service (the budget moves at once),
editable terms and tiers, start/end actions through the services, wins read-only, and a
live view of the budget paid by the database against what the fast state has reserved."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from redpacket.kernel.admin import ReadOnlyAdminMixin, log_operator_action
from redpacket.kernel.errors import DomainError
from redpacket.kernel.money import yuan
from shake import rules, selectors, services
from shake.draw import DEFAULT_TIERS, PPM, TierRange
from shake.models import Campaign, SponsorAccount, Tier, Win
from wallet.selectors import balance_of

# Set once a campaign exists: changing them would change money already in escrow.
MONEY_FIELDS = ("sponsor", "budget_fen", "count", "min_share_fen")


class TierFormSet(BaseInlineFormSet):
    """Tiers are checked together: probabilities sum to 100% (1,000,000 ppm), each tier
    fits the campaign's minimum share and budget (shake.rules)."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        tiers = [
            TierRange(
                form.cleaned_data["probability_ppm"],
                form.cleaned_data["min_fen"],
                form.cleaned_data["max_fen"],
            )
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        terms = self.campaign_terms()
        if terms is None:
            return
        problem = rules.tier_errors(tiers, **terms)
        if problem:
            raise ValidationError(problem)

    def campaign_terms(self) -> dict[str, int] | None:
        source = self.instance if self.instance.pk else None
        data = getattr(self, "parent_data", None) or {}
        try:
            return {
                "budget_fen": int(data.get("budget_fen", getattr(source, "budget_fen", 0))),
                "count": int(data.get("count", getattr(source, "count", 0))),
                "min_share_fen": int(
                    data.get("min_share_fen", getattr(source, "min_share_fen", 0))
                ),
            }
        except (TypeError, ValueError):
            return None


class TierInline(admin.TabularInline):
    model = Tier
    formset = TierFormSet
    fields = ("probability_ppm", "percent", "min_fen", "max_fen")
    readonly_fields = ("percent",)
    extra = 0

    @admin.display(description=_("概率"))
    def percent(self, tier: Tier) -> str:
        if tier.probability_ppm is None:
            return "-"
        return f"{tier.probability_ppm * 100 / PPM:.4g}%"

    def get_min_num(self, request, obj=None, **kwargs):
        # A new campaign starts from SPEC §5's table, each row checked even if untouched.
        return len(DEFAULT_TIERS) if obj is None else None

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        parent_data = request.POST if request.method == "POST" else None

        class WithParent(formset):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **inner):
                if obj is None and "initial" not in inner:
                    inner["initial"] = [
                        {
                            "probability_ppm": t.probability_ppm,
                            "min_fen": t.min_fen,
                            "max_fen": t.max_fen,
                        }
                        for t in DEFAULT_TIERS
                    ]
                super().__init__(*args, **inner)
                self.parent_data = parent_data

        return WithParent


class CampaignForm(forms.ModelForm):
    operator = None  # the signed-in operator (set by CampaignAdmin.get_form)

    class Meta:
        model = Campaign
        fields = (
            "name",
            "sponsor",
            "greeting",
            "budget_fen",
            "count",
            "min_share_fen",
            "starts_at",
            "ends_at",
            "per_user_cap",
            "win_chance_ppm",
        )

    def clean(self):
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at and ends_at <= starts_at:
            self.add_error("ends_at", _("结束时间必须晚于开始时间"))
        if not self.instance.pk:
            sponsor, budget = data.get("sponsor"), data.get("budget_fen")
            if sponsor and self.operator is not None:
                try:
                    services.campaign_sponsor(created_by=self.operator, sponsor_id=sponsor.pk)
                except DomainError as error:
                    self.add_error("sponsor", str(error.message))
                    return data
            if sponsor and budget and balance_of(sponsor) < budget:
                self.add_error(
                    "budget_fen",
                    _("赞助方零钱余额不足（现有%(balance)s）")
                    % {"balance": yuan(balance_of(sponsor))},
                )
        return data


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignForm
    list_display = (
        "id",
        "name",
        "sponsor",
        "status",
        "budget",
        "spent",
        "reserved",
        "won",
        "starts_at",
        "ends_at",
    )
    list_filter = ("status", "end_reason")
    search_fields = ("=id", "name", "sponsor__username")
    list_select_related = ("sponsor",)
    date_hierarchy = "starts_at"
    inlines = [TierInline]
    raw_id_fields = ("sponsor",)
    actions = ["start_now", "end_now"]
    readonly_fields = (
        "status",
        "end_reason",
        "live_budget",
        "spent_fen",
        "won_count",
        "refunded_fen",
        "created_by",
        "created_at",
        "ended_at",
        "fund_reference",
        "wins_link",
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"operator": request.user})

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return (*MONEY_FIELDS, *self.readonly_fields)

    def get_fields(self, request, obj=None):
        fields = list(CampaignForm.Meta.fields)
        if obj is not None:
            fields += [f for f in self.readonly_fields if f not in fields]
        return fields

    @admin.display(description=_("预算"), ordering="budget_fen")
    def budget(self, campaign: Campaign) -> str:
        return yuan(campaign.budget_fen)

    @admin.display(description=_("已发放"), ordering="spent_fen")
    def spent(self, campaign: Campaign) -> str:
        return yuan(campaign.spent_fen)

    @admin.display(description=_("已预留"))
    def reserved(self, campaign: Campaign) -> str:
        view = selectors.campaign_budget_view(campaign)
        return "-" if view.reserved_fen is None else yuan(view.reserved_fen)

    @admin.display(description=_("已摇中"), ordering="won_count")
    def won(self, campaign: Campaign) -> str:
        return f"{campaign.won_count}/{campaign.count}"

    @admin.display(description=_("预算实时"))
    def live_budget(self, campaign: Campaign) -> str:
        view = selectors.campaign_budget_view(campaign)
        parts = [
            _("预算 %(budget)s") % {"budget": yuan(campaign.budget_fen)},
            _("已发放 %(spent)s（数据库）") % {"spent": yuan(view.spent_fen)},
        ]
        if view.state is None:
            parts.append(str(_("缓存未建立")))
        else:
            parts.append(
                _("已预留 %(reserved)s，剩余 %(left)d 个 / %(budget_left)s（Redis）")
                % {
                    "reserved": yuan(view.reserved_fen or 0),
                    "left": view.state.left,
                    "budget_left": yuan(view.state.budget_fen),
                }
            )
        parts.append(_("已退款 %(refunded)s") % {"refunded": yuan(campaign.refunded_fen)})
        return " · ".join(str(part) for part in parts)

    @admin.display(description=_("摇中记录"))
    def wins_link(self, campaign: Campaign) -> str:
        url = reverse("admin:shake_win_changelist") + f"?campaign__id__exact={campaign.pk}"
        return format_html('<a href="{}">{}</a>', url, _("查看全部摇中记录"))

    def has_delete_permission(self, request, obj=None):
        return False  # money went into escrow: a campaign is ended, never deleted

    def save_model(self, request, obj, form, change):
        if change:
            # Only the terms the form changed, under the campaign's row lock, through the
            # service: never the whole row (a win or an end committed since the form was
            # read would be overwritten).
            edited = services.campaign_edit(
                campaign_id=obj.pk,
                terms={
                    name: form.cleaned_data[name]
                    for name in form.changed_data
                    if name in services.create.EDITABLE_TERMS
                },
            )
            form.instance.__dict__.update(edited.__dict__)
        # A new campaign is created (and paid for) with its tiers in save_related.

    def save_related(self, request, form, formsets, change):
        if change:
            super().save_related(request, form, formsets, change)
            services.campaign_terms_changed(campaign_id=form.instance.pk)
            return
        tiers = [
            TierRange(
                f.cleaned_data["probability_ppm"],
                f.cleaned_data["min_fen"],
                f.cleaned_data["max_fen"],
            )
            for formset in formsets
            if formset.model is Tier
            for f in formset.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE")
        ]
        data = form.cleaned_data
        campaign = services.campaign_create(
            created_by=request.user,
            request_key=uuid.uuid4().hex,
            sponsor_id=data["sponsor"].pk,
            name=data["name"],
            greeting=data.get("greeting") or "",
            budget_fen=data["budget_fen"],
            count=data["count"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            min_share_fen=data["min_share_fen"],
            per_user_cap=data["per_user_cap"],
            win_chance_ppm=data["win_chance_ppm"],
            tiers=tiers or None,
        )
        # The admin goes on with the form's instance (log, redirect): make it the campaign.
        form.instance.__dict__.update(campaign.__dict__)
        for formset in formsets:  # saved by the service, not by the formsets
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as error:
            # Refused by the service after the form's own checks (e.g. the sponsor's
            # change went down meanwhile): nothing was saved.
            self.message_user(request, str(error.message), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def has_start_permission(self, request) -> bool:
        return request.user.has_perm("shake.start_campaign")

    def has_end_permission(self, request) -> bool:
        return request.user.has_perm("shake.end_campaign")

    @admin.action(description=_("立即开始"), permissions=["start"])
    def start_now(self, request, queryset):
        done = 0
        for campaign in queryset:
            if services.campaign_start(campaign_id=campaign.pk):
                log_operator_action(self, request, campaign, "立即开始")
                done += 1
        self.message_user(
            request,
            ngettext("%(n)d 个活动已开始。", "%(n)d 个活动已开始。", done) % {"n": done},
            messages.SUCCESS,
        )

    @admin.action(description=_("立即结束并退款"), permissions=["end"])
    def end_now(self, request, queryset):
        done = 0
        for campaign in queryset:
            if services.campaign_end(campaign_id=campaign.pk, force=True, actor=request.user):
                log_operator_action(self, request, campaign, "立即结束并退款")
                done += 1
        self.message_user(
            request,
            ngettext("%(n)d 个活动已结束并退款。", "%(n)d 个活动已结束并退款。", done)
            % {"n": done},
            messages.SUCCESS,
        )


@admin.register(Win)
class WinAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "campaign",
        "index",
        "user",
        "amount_fen",
        "tier",
        "created_at",
        "credit_status",
        "credited_at",
    )
    list_filter = ("credit_status",)
    search_fields = ("=campaign__id", "user__username")
    list_select_related = ("campaign", "user", "tier")


@admin.register(SponsorAccount)
class SponsorAccountAdmin(admin.ModelAdmin):
    """Accounts ops marked as sponsors: the only ones whose change an operator may spend
    on a campaign (SPEC §1). Marking one needs its own add permission."""

    list_display = ("user", "marked_by", "created_at")
    search_fields = ("user__username",)
    raw_id_fields = ("user",)
    readonly_fields = ("marked_by", "created_at")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.marked_by = request.user
        super().save_model(request, obj, form, change)
