"""Wallet page forms. Amounts are typed in yuan and become integer fen here."""

import uuid
from typing import cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from redpacket.kernel.money import parse_yuan, yuan
from wallet.errors import InsufficientBalance


class YuanField(forms.CharField):
    """A yuan amount typed by a person ("12.30") → integer fen."""

    default_error_messages = {"invalid": _("请输入正确的金额，最多两位小数")}

    def __init__(self, *, min_fen: int = 1, max_fen: int | None = None, **kwargs):
        self.min_fen, self.max_fen = min_fen, max_fen
        # Set by a form paying from change: an amount over it is 零钱余额不足, said before
        # the single-payment cap (a ¥99,999 withdrawal from ¥10 is short, first of all).
        self.balance_fen: int | None = None
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
        if self.balance_fen is not None and fen > self.balance_fen:
            raise forms.ValidationError(InsufficientBalance.message, code="insufficient_balance")
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


def _card_number_field(widget: forms.Widget | None = None) -> forms.CharField:
    return forms.CharField(
        label=_("卡号"),
        max_length=32,
        widget=widget
        or forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-number"}),
    )


class CardNumberForm(forms.Form):
    """Binding, step 1 (SPEC §4 Paying): the card number alone, then 下一步."""

    card_number = _card_number_field()


class CardBindForm(forms.Form):
    """Binding, step 2: holder name and reserved phone for the number of step 1 (carried
    back in a hidden field and checked again), and the new PIN with the first card."""

    card_number = _card_number_field(forms.HiddenInput())
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
    """A payment page's form. `balance_fen` (pages that pay from change: withdraw,
    transfer) refuses an amount over the balance as a field error, before any PIN; the
    amount input carries the balance so the PIN pad is not opened for it either."""

    def __init__(self, *args, needs_pin: bool = False, balance_fen: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if needs_pin:
            self.fields["pin"] = PinField()
        amount = self.fields.get("amount_fen")
        if balance_fen is not None and isinstance(amount, YuanField):
            amount.balance_fen = balance_fen
            amount.widget.attrs.update(
                {
                    "data-balance-fen": str(balance_fen),
                    "data-balance-error": str(InsufficientBalance.message),
                }
            )


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
