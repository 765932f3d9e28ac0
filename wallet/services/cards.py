"""Bank cards: binding with an SMS code (the first card sets the PIN), removal, lookup."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import cast
from uuid import UUID

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from redpacket.accounts.models import User
from redpacket.kernel.errors import DomainError, InvalidInput, NotFound
from redpacket.kernel.numbers import is_ascii_digits
from wallet import errors, sms_limits
from wallet.gateway import get_gateway, get_sms_backend, luhn_valid
from wallet.models import (
    BankCard,
    CardBinding,
    PaymentPin,
)
from wallet.services.pin import _validate_pin_format, pin_hash_make

# --- Cards ------------------------------------------------------------------------------


_MOBILE_PREFIXES = {f"1{second}" for second in "3456789"}


def card_number_check(*, card_number: str) -> str:
    """The first step of binding (卡号 → 下一步): the number without spaces, or
    InvalidInput naming `card_number` when it is not a Luhn-valid number."""
    number = "".join(card_number.split())
    if not (is_ascii_digits(number) and luhn_valid(number)):
        message = _("卡号无效，请核对")
        raise InvalidInput(message, fields={"card_number": message})
    return number


def _validate_card_input(card_number: str, holder_name: str, phone: str) -> str:
    number = "".join(card_number.split())
    fields = {}
    if not (is_ascii_digits(number) and luhn_valid(number)):
        fields["card_number"] = _("卡号无效，请核对")
    if not holder_name.strip():
        fields["holder_name"] = _("请输入持卡人姓名")
    if not (is_ascii_digits(phone) and len(phone) == 11 and phone[:2] in _MOBILE_PREFIXES):
        fields["phone"] = _("请输入银行预留的11位手机号")
    if fields:
        raise InvalidInput(next(iter(fields.values())), fields=fields)
    return number


def card_bind_start(
    *, user: User, card_number: str, holder_name: str, phone: str, pin: str | None = None
) -> tuple[CardBinding, str]:
    """Check the card with the bank and text a 6-digit code to the reserved phone.

    The first card also sets the payment PIN (required then). Returns the pending binding
    and the code (shown by the API only while PAYMENTS_SANDBOX is on).
    """
    number = _validate_card_input(card_number, holder_name, phone)
    has_pin = PaymentPin.objects.filter(user=user).exists()
    if not has_pin:
        if not pin:
            message = _("首次绑卡请设置6位支付密码")
            raise InvalidInput(message, code="pin_required", fields={"pin": message})
        _validate_pin_format(pin)
    sms_limits.sms_send_allow(user_id=user.pk, phone=phone)  # SMS pumping (issue #16)
    bound = get_gateway().bind(card_number=number, holder_name=holder_name.strip(), phone=phone)
    code = f"{secrets.randbelow(10**6):06d}"
    binding = CardBinding.objects.create(
        user=user,
        bank=bound.bank,
        card_type=bound.card_type,
        last4=bound.last4,
        phone_last4=phone[-4:],
        gateway_token=bound.token,
        pending_pin_hash=pin_hash_make(user=user, pin=pin) if not has_pin and pin else "",
        code_hash=make_password(code),
        expires_at=timezone.now() + timedelta(seconds=settings.SMS_CODE_TTL_SECONDS),
    )
    get_sms_backend().send(
        phone=phone,
        text=str(_("【微信支付】验证码%(code)s，用于绑定尾号%(last4)s的银行卡，5分钟内有效。"))
        % {"code": code, "last4": bound.last4},
    )
    return binding, code


def card_bind_verify(*, user: User, binding_id: str | UUID, code: str) -> BankCard:
    """Finish a binding with the SMS code: 5 tries within 5 minutes, checked one at a time
    under a row lock. The first card also sets the payment PIN chosen at the start."""
    refusal: DomainError | None = None
    with transaction.atomic():
        binding = CardBinding.objects.select_for_update().filter(pk=binding_id, user=user).first()
        if binding is None:
            raise NotFound(_("绑卡申请不存在"))
        if binding.status == CardBinding.Status.VERIFIED:
            return cast(BankCard, binding.card)  # a verified binding has its card
        if binding.status == CardBinding.Status.VOID:
            raise errors.BindingVoid()
        if binding.expires_at <= timezone.now():
            raise errors.CodeExpired()
        if check_password(str(code), binding.code_hash):
            binding.card = BankCard.objects.create(
                user=user,
                bank=binding.bank,
                card_type=binding.card_type,
                last4=binding.last4,
                gateway_token=binding.gateway_token,
            )
            binding.status = CardBinding.Status.VERIFIED
            if binding.pending_pin_hash:
                PaymentPin.objects.get_or_create(
                    user=user, defaults={"pin_hash": binding.pending_pin_hash}
                )
        else:
            binding.attempts += 1
            if binding.attempts >= settings.SMS_CODE_MAX_ATTEMPTS:
                binding.status = CardBinding.Status.VOID
                refusal = errors.BindingVoid()
            else:
                refusal = errors.WrongCode(fields={"code": str(errors.WrongCode.message)})
        binding.save(update_fields=["attempts", "status", "card"])
    if refusal is not None:
        raise refusal
    return cast(BankCard, binding.card)  # no refusal: the binding was just verified


def card_remove(*, user: User, card_id: int) -> None:
    """Unbind a card (kept for the ledger's history, never used again)."""
    removed = BankCard.objects.filter(pk=card_id, user=user, is_active=True).update(
        is_active=False, removed_at=timezone.now()
    )
    if not removed:
        raise NotFound(_("银行卡不存在"))


def card_for_user(*, user: User, card_id: object) -> BankCard:
    """The user's active card, or NotFound (another user's card is not revealed)."""
    if isinstance(card_id, bool) or not isinstance(card_id, int):
        raise NotFound(_("银行卡不存在"))
    card = BankCard.objects.filter(pk=card_id, user=user, is_active=True).first()
    if card is None:
        raise NotFound(_("银行卡不存在"))
    return card
