"""Bank operations: every call to the bank gateway, recorded before it is made, and the
movements that go through one (top-up, withdrawal, card charges and their return)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from redpacket.accounts.models import User
from redpacket.kernel.events import publish_on_commit, user_group
from wallet import errors
from wallet.gateway import get_gateway
from wallet.models import (
    Account,
    BankCard,
    BankOperation,
)
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

logger = logging.getLogger(__name__)


def _raise_for_outcome(outcome: str) -> None:
    if outcome == "insufficient_funds":
        raise errors.InsufficientFunds()
    raise errors.CardDeclined()


_RESUMABLE = (BankOperation.State.PENDING, BankOperation.State.OK)
_REFUSED = (BankOperation.State.DECLINED, BankOperation.State.INSUFFICIENT_FUNDS)


def _bank_operation(
    *, user: User, card: BankCard, purpose: str, amount_fen: int, request_key: str | None
) -> BankOperation:
    """The operation a request's `purpose` goes through. A retry of the same request
    (the same server-side id) gets its operation back while it is unsettled or refused,
    so the bank is asked under the same reference and replays its answer; a new request
    (or one whose charge was returned) gets a new operation, committed before the bank
    hears of it."""
    if request_key is not None:
        earlier = (
            BankOperation.objects.filter(user=user, purpose=purpose, request_key=request_key)
            .order_by("-pk")
            .first()
        )
        if earlier is not None and earlier.state in (*_RESUMABLE, *_REFUSED):
            if earlier.card_id != card.pk or earlier.amount_fen != amount_fen:
                raise errors.LedgerConflict()
            return earlier
    return BankOperation.objects.create(
        user=user,
        card=card,
        purpose=purpose,
        amount_fen=amount_fen,
        request_key=check_request_key(request_key),
    )


def _settle(operation: BankOperation, state: str) -> bool:
    """Record the bank's final answer once; False if it was settled already."""
    return bool(
        BankOperation.objects.filter(pk=operation.pk, state=BankOperation.State.PENDING).update(
            state=state, settled_at=timezone.now()
        )
    )


def _clearing_leg(amount_fen: int) -> Leg:
    return Leg(system_account(Account.Kind.BANK_CLEARING), amount_fen)


def wallet_topup(
    *, user: User, card: BankCard, amount_fen: int, request_key: str | None = None
) -> Account:
    """充值: the bank debits the card, then the money lands in the user's change.

    One bank operation per request ("topup:<operation id>" at the bank and in the
    ledger): a retry after a crash between the two steps asks the bank again under the
    same reference (it replays, charging once) and completes the top-up. The user's
    connections hear `wallet.topped_up` once, when the money lands."""
    _check_amount(amount_fen)
    operation = _bank_operation(
        user=user,
        card=card,
        purpose=BankOperation.Purpose.TOPUP,
        amount_fen=amount_fen,
        request_key=request_key,
    )
    result = get_gateway().debit(
        token=card.gateway_token, amount_fen=amount_fen, reference=operation.reference
    )
    with transaction.atomic():
        if result.ok:
            txn, created = ledger_post(
                kind=Kind.TOPUP,
                reference=operation.reference,
                legs=[_clearing_leg(-amount_fen), Leg.wallet_of(user, amount_fen)],
                memo=f"{card}",
                bank_operation=operation,
            )
            if created:
                _announce(user, "wallet.topped_up", amount_fen, balance_after(txn, user))
        _settle(operation, result.outcome)
    if not result.ok:
        _raise_for_outcome(result.outcome)
    return account_for_user(user)


def wallet_withdraw(
    *, user: User, card: BankCard, amount_fen: int, request_key: str | None = None
) -> Account:
    """提现: the money leaves the change first (so concurrent withdrawals can never pay out
    more than the balance), in the transaction that records the bank operation; then the
    bank credits the card; a refused credit is reversed under the same operation. The
    user's connections hear `wallet.withdrawn` once the bank has paid the card."""
    _check_amount(amount_fen)
    with transaction.atomic():
        operation = _bank_operation(
            user=user,
            card=card,
            purpose=BankOperation.Purpose.WITHDRAW,
            amount_fen=amount_fen,
            request_key=request_key,
        )
        if operation.state in _REFUSED:
            _raise_for_outcome(operation.state)
        ledger_post(
            kind=Kind.WITHDRAW,
            reference=operation.reference,
            legs=[Leg.wallet_of(user, -amount_fen), _clearing_leg(amount_fen)],
            memo=f"{card}",
            bank_operation=operation,
        )
    _bank_credit(operation, reversal_kind=Kind.WITHDRAW_REVERSAL)
    return account_for_user(user)


def _bank_credit(operation: BankOperation, *, reversal_kind: str) -> None:
    """Pay an operation's money out to its card (its ledger leg is posted already); if the
    bank refuses, the money goes back to the user's change under the same operation.
    A withdrawal the bank pays (settled by this call, so once) raises its notice."""
    card = operation.card
    result = get_gateway().credit(
        token=card.gateway_token, amount_fen=operation.amount_fen, reference=operation.reference
    )
    with transaction.atomic():
        if not result.ok:
            ledger_post(
                kind=reversal_kind,
                reference=f"{operation.reference}:reversal",
                legs=[
                    _clearing_leg(-operation.amount_fen),
                    Leg.wallet_of(operation.user, operation.amount_fen),
                ],
                bank_operation=operation,
            )
        settled = _settle(operation, result.outcome)
        if result.ok and settled and operation.purpose == BankOperation.Purpose.WITHDRAW:
            user = operation.user
            balance = Account.objects.filter(user=user).values_list("balance_fen", flat=True)
            _announce(user, "wallet.withdrawn", operation.amount_fen, balance.first() or 0)
    if not result.ok:
        _raise_for_outcome(result.outcome)


def _announce(user: User, event_type: str, amount_fen: int, balance_fen: int) -> None:
    """A top-up or withdrawal's notice, to the user's own connections after commit."""
    publish_on_commit(
        user_group(user.pk),
        {"type": event_type, "amount_fen": amount_fen, "balance_fen": balance_fen},
    )


@dataclass(frozen=True)
class CardCharge:
    """Money the bank has taken from a card for one payment, not yet in the ledger."""

    operation: BankOperation

    @property
    def amount_fen(self) -> int:
        return self.operation.amount_fen


@contextmanager
def card_charge(
    *, user: User, card: BankCard, amount_fen: int, request_key: str | None = None
) -> Iterator[CardCharge]:
    """Charge a card for a payment whose ledger posting happens inside the block.

    Call it outside any database transaction: the charge is a call to the bank. If the
    block fails, the charge is returned to the card, so money never stays with the bank
    without a ledger record, and a returned charge never pays for anything again (a
    retry of the request is charged anew under a new operation).
    """
    _check_amount(amount_fen)
    operation = _bank_operation(
        user=user,
        card=card,
        purpose=BankOperation.Purpose.CHARGE,
        amount_fen=amount_fen,
        request_key=request_key,
    )
    if operation.state in _REFUSED:
        _raise_for_outcome(operation.state)
    result = get_gateway().debit(
        token=card.gateway_token, amount_fen=amount_fen, reference=operation.reference
    )
    if not result.ok:
        _settle(operation, result.outcome)
        _raise_for_outcome(result.outcome)
    try:
        yield CardCharge(operation=operation)
    except BaseException:
        charge_return(operation)
        raise


def charge_return(operation: BankOperation) -> None:
    """Hand a charge whose payment failed back to its card, exactly once.

    The money passes through the payer's change in one transaction (the bank's money
    into change under the charge, out to the card under a refund operation of its own),
    so each bank operation has its one ledger transaction (SPEC §8 #6). If the bank
    refuses the refund, the money stays in the payer's change."""
    with transaction.atomic():
        charge = BankOperation.objects.select_for_update().get(pk=operation.pk)
        if charge.state not in (BankOperation.State.PENDING, BankOperation.State.RETURNED):
            return  # used by its payment after all, or never taken
        refund, _created = BankOperation.objects.get_or_create(
            refund_of=charge,
            defaults={
                "user": charge.user,
                "card": charge.card,
                "purpose": BankOperation.Purpose.REFUND,
                "amount_fen": charge.amount_fen,
                "request_key": charge.request_key,
            },
        )
        ledger_post(
            kind=Kind.CHARGE_RETURN,
            reference=f"{charge.reference}:return",
            legs=[_clearing_leg(-charge.amount_fen), Leg.wallet_of(charge.user, charge.amount_fen)],
            bank_operation=charge,
        )
        ledger_post(
            kind=Kind.CARD_REFUND,
            reference=refund.reference,
            legs=[Leg.wallet_of(charge.user, -charge.amount_fen), _clearing_leg(charge.amount_fen)],
            bank_operation=refund,
        )
        BankOperation.objects.filter(pk=charge.pk).update(
            state=BankOperation.State.RETURNED, settled_at=timezone.now()
        )
    if refund.state == BankOperation.State.PENDING:
        with suppress_refusal():
            _bank_credit(refund, reversal_kind=Kind.CARD_REFUND_REVERSAL)


@contextmanager
def suppress_refusal() -> Iterator[None]:
    """A refund the bank refuses is not the caller's error: its money is in change."""
    try:
        yield
    except errors.PaymentRefused:
        logger.warning("a card refund was refused; its money stays in the payer's change")


# --- Unsettled bank operations ------------------------------------------------------------


def bank_operations_unsettled(older_than: timedelta) -> list[BankOperation]:
    """Operations still pending a while after they were made: a request died between
    the bank and our ledger (or a charge's payment died before it was returned)."""
    cutoff = timezone.now() - older_than
    return list(
        BankOperation.objects.filter(state=BankOperation.State.PENDING, created_at__lt=cutoff)
        .select_related("card", "user")
        .order_by("pk")
    )


def bank_operation_resolve(operation: BankOperation) -> None:
    """Finish an operation a request left pending, by asking the bank again under its
    reference (the bank replays, never acts twice): a top-up lands in change, a
    withdrawal or refund is paid or reversed, a charge no payment used goes back."""
    purpose = operation.purpose
    try:
        if purpose == BankOperation.Purpose.TOPUP:
            wallet_topup(
                user=operation.user,
                card=operation.card,
                amount_fen=operation.amount_fen,
                request_key=operation.request_key,
            )
        elif purpose == BankOperation.Purpose.WITHDRAW:
            _bank_credit(operation, reversal_kind=Kind.WITHDRAW_REVERSAL)
        elif purpose == BankOperation.Purpose.REFUND:
            _bank_credit(operation, reversal_kind=Kind.CARD_REFUND_REVERSAL)
        else:
            result = get_gateway().debit(
                token=operation.card.gateway_token,
                amount_fen=operation.amount_fen,
                reference=operation.reference,
            )
            if result.ok:
                charge_return(operation)
            else:
                _settle(operation, result.outcome)
    except errors.PaymentRefused:
        pass  # settled as refused; nothing moved
