"""What a user asks the wallet to do, as the API and the pages both call it: check the
card is theirs, authorize with the PIN (SPEC §2), then move the money. `request_key` is
the request's server-side id (its idempotency record), so a repeated request resumes or
replays its first run and moves money once; no client string reaches a reference."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from redpacket.accounts.models import User
from redpacket.kernel.errors import InvalidInput
from wallet import services
from wallet.models import Account


def payment_topup(
    *, user: User, card_id: int, amount_fen: int, pin: str | None, request_key: str
) -> Account:
    """充值 from one of the user's cards."""
    card = services.card_for_user(user=user, card_id=card_id)
    services.payment_authorize(user=user, pin=pin)
    return services.wallet_topup(
        user=user, card=card, amount_fen=amount_fen, request_key=request_key
    )


def payment_withdraw(
    *, user: User, card_id: int, amount_fen: int, pin: str | None, request_key: str
) -> Account:
    """提现 to one of the user's cards."""
    card = services.card_for_user(user=user, card_id=card_id)
    services.payment_authorize(user=user, pin=pin)
    return services.wallet_withdraw(
        user=user, card=card, amount_fen=amount_fen, request_key=request_key
    )


def payment_transfer(
    *,
    user: User,
    recipient: User | None,
    amount_fen: int,
    pin: str | None,
    note: str,
    request_key: str,
) -> Account:
    """转账 to another user's change."""
    if recipient is None or not recipient.is_active:
        message = _("收款人不存在")
        raise InvalidInput(message, code="unknown_user", fields={"to_user_id": message})
    services.payment_authorize(user=user, pin=pin)
    return services.wallet_transfer(
        sender=user,
        recipient=recipient,
        amount_fen=amount_fen,
        note=note,
        request_key=request_key,
    )
