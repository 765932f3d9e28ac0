"""Wallet page forms. Amounts are typed in yuan and become integer fen here."""

import uuid
from typing import cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from redpacket.kernel.money import parse_yuan, yuan


class YuanField(forms.CharField):
    """A yuan amount typed by a person ("12.30") → integer fen."""

    default_error_messages = {"invalid": _("请输入正确的金额，最多两位小数")}

    def __init__(self, *, min_fen: int = 1, max_fen: int | None = None, **kwargs):
        self.min_fen, self.max_fen = min_fen, max_fen
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"inputmode": "decimal", "autocomplete": "off", "placeholder": "0.00"}
            ),
        )
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if value in self.empty_values:
            return None
        fen = parse_yuan(value)
        if fen is None:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if fen < self.min_fen:
            raise forms.ValidationError(
                _("金额不能低于%(min)s") % {"min": yuan(self.min_fen)}, code="min"
            )
        if self.max_fen is not None and fen > self.max_fen:
            raise forms.ValidationError(
                _("金额不能超过%(max)s") % {"max": yuan(self.max_fen)}, code="max"
            )
        return fen


class PinField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("支付密码"))
        kwargs.setdefault(
            "widget",
            forms.PasswordInput(
                attrs={
                    "inputmode": "numeric",
                    "autocomplete": "off",
                    "maxlength": 6,
                    "data-pinpad": "1",
                }
            ),
        )
        super().__init__(min_length=6, max_length=6, **kwargs)


class IdempotentForm(forms.Form):
    """Carries one key per rendered form: submitting it twice moves money once."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", uuid.uuid4().hex)


class CardBindForm(forms.Form):
    card_number = forms.CharField(
        label=_("卡号"),
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-number"}),
    )
    holder_name = forms.CharField(label=_("持卡人"), max_length=40)
    phone = forms.CharField(
        label=_("银行预留手机号"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel"})
    )

    def __init__(self, *args, needs_pin: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_pin:
            self.fields["pin"] = PinField(label=_("设置6位支付密码"))
            self.fields["pin"].widget.attrs.pop("data-pinpad")


class CardVerifyForm(forms.Form):
    code = forms.CharField(
        label=_("短信验证码"),
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class _PaymentForm(IdempotentForm):
    def __init__(self, *args, needs_pin: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_pin:
            self.fields["pin"] = PinField()


class CardPaymentForm(_PaymentForm):
    card_id = forms.TypedChoiceField(label=_("银行卡"), coerce=int)
    amount_fen = YuanField(label=_("金额（元）"), max_fen=settings.WALLET_MAX_AMOUNT_FEN)

    def __init__(self, *args, cards=(), **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["card_id"]).choices = [
            (card.pk, str(card)) for card in cards
        ]
        self.order_fields(["card_id", "amount_fen", "pin"])


class TransferForm(_PaymentForm):
    recipient = forms.CharField(label=_("收款人用户名"), max_length=150)
    amount_fen = YuanField(label=_("金额（元）"), max_fen=settings.WALLET_MAX_AMOUNT_FEN)
    note = forms.CharField(label=_("转账说明"), max_length=60, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.order_fields(["recipient", "amount_fen", "note", "pin"])
