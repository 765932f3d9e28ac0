"""Red packet page forms. They only parse what a person typed (yuan → fen); the product
rules are `rules.send_errors`, applied by `packet_send`, whose errors the page shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from redpacket.kernel.forms import AsciiIntegerField
from redpacket.packets import rules
from wallet.forms import IdempotentForm, PinField, YuanField
from wallet.services import BALANCE


class PacketSendForm(IdempotentForm):
    """发红包. A group room has 红包个数 and 总金额 (lucky) or 单个金额 (normal), or a
    member picker and 金额 (exclusive); a direct room only 金额 (a normal packet of count
    1). One key per rendered form: posting it twice sends one packet."""

    kind = forms.ChoiceField(
        choices=[
            (rules.LUCKY, _("拼手气红包")),
            (rules.NORMAL, _("普通红包")),
            (rules.EXCLUSIVE, _("专属红包")),
        ],
        required=False,
        widget=forms.HiddenInput,
    )
    count = AsciiIntegerField(
        label=_("红包个数"),
        required=False,
        error_messages={"invalid": _("请输入红包个数")},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "off", "placeholder": _("填写个数")}
        ),
    )
    total_fen = YuanField(label=_("总金额"), required=False, min_fen=0)
    share_fen = YuanField(label=_("单个金额"), required=False, min_fen=0)
    # 专属红包's member picker; whether the choice is a member is `rules.send_errors`'.
    to_user_id = forms.TypedChoiceField(
        label=_("发给谁"), required=False, coerce=int, empty_value=None
    )
    greeting = forms.CharField(
        label=_("祝福语"),
        required=False,
        # No max_length: however long, the rule answers with its own message
        # ("祝福语不可超过25个字"), not Django's generic one; the request size caps it.
        widget=forms.TextInput(
            attrs={"placeholder": settings.REDPACKET_DEFAULT_GREETING, "autocomplete": "off"}
        ),
    )
    pay_with = forms.ChoiceField(label=_("支付方式"))

    def __init__(
        self,
        *args: Any,
        is_direct: bool,
        balance_text: str,
        cards: Sequence[Any] = (),
        needs_pin: bool = False,
        recipients: Sequence[Any] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.is_direct = is_direct
        cast(forms.ChoiceField, self.fields["pay_with"]).choices = [
            (BALANCE, _("零钱（剩余%(balance)s）") % {"balance": balance_text}),
            *((str(card.pk), str(card)) for card in cards),
        ]
        self.initial.setdefault("pay_with", BALANCE)
        self.initial.setdefault("kind", rules.NORMAL if is_direct else rules.LUCKY)
        cast(forms.TypedChoiceField, self.fields["to_user_id"]).choices = [
            ("", _("选择群成员")),
            *((str(user.pk), user.name) for user in recipients),
        ]
        if is_direct:
            self.fields["share_fen"].label = _("金额")
            del self.fields["count"]
            del self.fields["total_fen"]
            del self.fields["to_user_id"]
        if needs_pin:
            self.fields["pin"] = PinField(required=False)
            # The page's script asks for the PIN in its pay sheet, not pinpad.js's form hook.
            self.fields["pin"].widget.attrs.pop("data-pinpad", None)

    @property
    def kind_value(self) -> str:
        if self.is_direct:
            return rules.NORMAL
        raw = self.data.get("kind") if self.is_bound else self.initial.get("kind")
        return raw if raw in rules.KINDS else rules.LUCKY

    def clean(self) -> dict[str, Any]:
        data = cast("dict[str, Any]", super().clean())  # Form.clean returns cleaned_data
        if self.is_direct:
            data["kind"], data["count"], data["total_fen"] = rules.NORMAL, 1, None
        elif not data.get("kind"):
            data["kind"] = rules.LUCKY
        elif data["kind"] == rules.EXCLUSIVE:
            data["count"] = 1  # one share for one member: the page has no 红包个数 then
        pay_with = data.get("pay_with")
        if pay_with and pay_with != BALANCE:
            data["pay_with"] = int(pay_with)
        return data

    def packet_arguments(self) -> dict[str, Any]:
        """The cleaned form as `packet_send`'s keyword arguments."""
        data = self.cleaned_data
        kind = data["kind"]
        return {
            "kind": kind,
            "count": data.get("count"),
            "total_fen": data.get("total_fen") if kind == rules.LUCKY else None,
            "share_fen": data.get("share_fen") if kind in rules.FIXED_SHARE_KINDS else None,
            "to_user_id": data.get("to_user_id") if kind == rules.EXCLUSIVE else None,
            "greeting": data.get("greeting") or "",
            "pay_with": data.get("pay_with") or BALANCE,
            "pin": data.get("pin") or None,
        }
