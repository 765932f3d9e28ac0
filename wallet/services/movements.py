"""Movements inside the system: transfers, payments into an escrow, credits out of one."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from redpacket.accounts.models import User
from redpacket.accounts.selectors import user_data
from redpacket.kernel.errors import InvalidInput
from redpacket.kernel.events import publish_on_commit, user_group
from wallet import errors
from wallet.models import (
    Account,
    BankOperation,
    LedgerTransaction,
)
from wallet.services.bank import CardCharge, _clearing_leg, _settle
from wallet.services.ledger import (
    Kind,
    Leg,
    _check_amount,
    account_for_user,
    balance_after,
    check_request_key,
    ledger_post,
    system_account,
)


def wallet_transfer(
    *,
    sender: User,
    recipient: User,
    amount_fen: int,
    request_key: str | None = None,
    note: str = "",
) -> Account:
    """转账 from one user's change to another's, once per sender and request. The
    recipient's connections hear `wallet.received` after commit (a replay of the same
    request moves nothing and says nothing)."""
    _check_amount(amount_fen)
    if sender.pk == recipient.pk:
        message = _("不能给自己转账")
        raise InvalidInput(message, code="self_transfer", fields={"to_user_id": message})
    txn, created = ledger_post(
        kind=Kind.TRANSFER,
        reference=f"transfer:{sender.pk}:{check_request_key(request_key)}",
        legs=[
            Leg.wallet_of(sender, -amount_fen),
            Leg.wallet_of(recipient, amount_fen),
        ],
        memo=note[:120],
    )
    if created:
        publish_on_commit(
            user_group(recipient.pk),
            {
                "type": "wallet.received",
                "amount_fen": amount_fen,
                "balance_fen": balance_after(txn, recipient),
                "from": user_data(sender),
            },
        )
    return account_for_user(sender)


BALANCE = "balance"  # pay from change (零钱)


def wallet_pay_into_escrow(
    *,
    user: User,
    escrow: str,
    amount_fen: int,
    reference: str,
    kind: str,
    source: CardCharge | str = BALANCE,
    actor: User | None = None,
) -> LedgerTransaction:
    """Take a payment (packet, campaign budget) into an escrow account, from the user's
    change or from a card charge. Atomic with the caller's transaction: a charge is
    marked used in it, and a charge that is no longer pending (returned meanwhile by the
    bank sweep) refuses the payment instead of funding it twice."""
    _check_amount(amount_fen)
    operation = None
    if isinstance(source, CardCharge):
        operation = source.operation
        if source.amount_fen != amount_fen or operation.user_id != user.pk:
            raise ValueError("the card charge does not match the payment")
        payer = _clearing_leg(-amount_fen)
    else:
        payer = Leg.wallet_of(user, -amount_fen)
    txn, created = ledger_post(
        kind=kind,
        reference=reference,
        legs=[payer, Leg(system_account(escrow), amount_fen)],
        bank_operation=operation,
        actor=actor,
    )
    if operation is not None and created and not _settle(operation, BankOperation.State.OK):
        raise errors.LedgerConflict()
    return txn


def wallet_credit_from_escrow(
    *,
    user: User,
    escrow: str,
    amount_fen: int,
    reference: str,
    kind: str,
    actor: User | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Move money out of an escrow into a user's change (a claim, a win, a refund).
    Exactly once per reference: returns (transaction, created)."""
    _check_amount(amount_fen)
    return ledger_post(
        kind=kind,
        reference=reference,
        legs=[Leg(system_account(escrow), -amount_fen), Leg.wallet_of(user, amount_fen)],
        actor=actor,
    )
