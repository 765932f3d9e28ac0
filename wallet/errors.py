"""Payment refusals (422) and other wallet errors, each with a stable code (API.md)."""

from django.utils.translation import gettext_lazy as _

from redpacket.kernel.errors import DomainError


class PaymentRefused(DomainError):
    status = 422


class InsufficientBalance(PaymentRefused):
    code = "insufficient_balance"
    message = _("零钱余额不足")


class CardDeclined(PaymentRefused):
    code = "card_declined"
    message = _("银行卡被拒绝，请换一张卡")


class InsufficientFunds(PaymentRefused):
    code = "insufficient_funds"
    message = _("银行卡余额不足")


class WrongPin(PaymentRefused):
    code = "wrong_pin"
    message = _("支付密码错误，请重试")


class PinLocked(PaymentRefused):
    code = "pin_locked"
    message = _("支付密码错误次数过多，请3小时后再试")


class PinRequired(PaymentRefused):
    code = "pin_required"
    message = _("请输入支付密码")


class WrongCode(DomainError):
    code = "wrong_code"
    message = _("验证码错误")


class CodeExpired(DomainError):
    code = "code_expired"
    message = _("验证码已过期，请重新绑卡")


class BindingVoid(DomainError):
    code = "binding_void"
    message = _("验证码错误次数过多，请重新绑卡")


class IdempotencyMismatch(DomainError):
    code = "idempotency_mismatch"
    status = 409
    message = _("同一个幂等键不能用于不同的请求")


class IdempotencyInProgress(DomainError):
    code = "idempotency_in_progress"
    status = 409
    message = _("相同的请求正在处理中")


class IdempotencyKeyRequired(DomainError):
    code = "idempotency_key_required"
    message = _("缺少或无效的 Idempotency-Key 请求头（1–64 个可打印 ASCII 字符）")


class LedgerConflict(DomainError):
    """A reference posted once already, now asked for with other legs: never a silent
    success (the money would move on one side only). Logged loudly by the ledger."""

    code = "ledger_conflict"
    status = 409
    message = _("该款项已记账，且与本次请求不一致")
