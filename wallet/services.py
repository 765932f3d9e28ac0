"""Every money movement in the system goes through this module (STYLE rule 2).

Each movement is one balanced ledger transaction, posted at most once per business
`reference`. User wallets are changed only here, under row locks taken in account-id
order, in the same database transaction that writes their entries.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from redpacket.accounts.models import User
from redpacket.kernel.errors import DomainError, InvalidInput, NotFound
from redpacket.kernel.numbers import is_ascii_digits
from wallet import errors, sms_limits
from wallet.gateway import get_gateway, get_sms_backend, luhn_valid
from wallet.models import (
    Account,
    BankCard,
    BankOperation,
    CardBinding,
    Entry,
    LedgerTransaction,
    PaymentPin,
)

Kind = LedgerTransaction.Kind
logger = logging.getLogger(__name__)


# --- Accounts ---------------------------------------------------------------------------


def account_for_user(user: User) -> Account:
    """The user's wallet account, created on first use."""
    account = Account.objects.filter(user=user).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(kind=Account.Kind.USER, user=user, balance_fen=0)
    except IntegrityError:  # created concurrently
        return Account.objects.get(user=user)


_system_accounts: dict[str, Account] = {}


def system_account(kind: str) -> Account:
    """The one account of a system kind (packet escrow, campaign escrow, bank clearing).

    Read once per process: system accounts are never deleted (entries protect them), and
    nearly every movement names one, so a read per movement would be a round trip spent
    on a constant. (Tests that empty the database clear this with `forget_accounts()`.)"""
    if kind == Account.Kind.USER:
        raise ValueError("user wallets are per user: use account_for_user")
    account = _system_accounts.get(kind)
    if account is not None:
        return account
    account = Account.objects.filter(kind=kind).first()
    if account is None:
        try:
            with transaction.atomic():
                account = Account.objects.create(kind=kind)
        except IntegrityError:
            account = Account.objects.get(kind=kind)
    # Remembered only once the row is surely there: one created inside a transaction
    # that rolls back would otherwise be named by every later movement of the process.
    found = account
    transaction.on_commit(lambda: _system_accounts.setdefault(kind, found))
    return account


def forget_accounts() -> None:
    """Drop the cached system accounts (after the database was emptied and refilled)."""
    _system_accounts.clear()


# --- The ledger -------------------------------------------------------------------------


@dataclass(frozen=True)
class Leg:
    """One side of a movement: an account, or a user's wallet named by its user
    (`Leg.wallet_of`), which `ledger_post` reads as it locks it (one read, not two)."""

    account: Account | None
    amount_fen: int
    user_id: int | None = None

    @classmethod
    def wallet_of(cls, user: User, amount_fen: int) -> Leg:
        return cls(account=None, amount_fen=amount_fen, user_id=user.pk)


def ledger_post(
    *,
    kind: str,
    reference: str,
    legs: list[Leg],
    memo: str = "",
    bank_operation: BankOperation | None = None,
    actor: User | None = None,
) -> tuple[LedgerTransaction, bool]:
    """Post one balanced transaction, once per `reference`.

    Locks the user wallets among the legs in id order (two movements over the same
    wallets never deadlock), refuses to take a wallet below zero (InsufficientBalance),
    and records each wallet's balance after the movement. Returns (transaction, created);
    a reference already posted with the same kind, legs and bank operation returns (that
    transaction, False) and moves nothing. The same reference with anything else is
    refused loudly (LedgerConflict, logged): a replay never stands in for a different
    movement. References are built by the services from server-side ids only.
    A new transaction carries `balance_after_by_user` (user id → change after it), so a
    caller that announces the new balance needs no second read.

    Atomic with the caller's transaction, without savepoints (four round trips less on
    every movement): the refusal is raised after the block, with nothing written, so a
    caller's transaction survives it; a database error inside fails the caller's
    transaction, as it would in PostgreSQL anyway.
    """
    if len(legs) < 2 or any(leg.amount_fen == 0 for leg in legs):
        raise ValueError("a ledger transaction needs at least two non-zero legs")
    if sum(leg.amount_fen for leg in legs) != 0:
        raise ValueError("the legs of a ledger transaction must sum to zero")

    conflict = False
    with transaction.atomic(savepoint=False):
        locked = _lock_wallets(legs)
        entries, balances = _entries(legs, locked)
        txn = (
            None
            if entries is None
            else _record(
                kind=kind,
                reference=reference,
                memo=memo,
                bank_operation_id=bank_operation.pk if bank_operation else None,
                actor_id=actor.pk if actor else None,
            )
        )
        if txn is None:
            # Posted already, or refused. Read after the locks and the insert: a post of
            # the same reference that held them has committed by now and is visible, so
            # a retry is a no-op, not a second debit (nor a refusal).
            existing = LedgerTransaction.objects.filter(reference=reference).first()
            if existing is not None:
                if _is_replay(existing, kind, legs, locked, bank_operation):
                    return existing, False
                conflict = True
            # Refused before anything was written: leave the block normally (an
            # exception would doom a caller's transaction, there being no savepoint).
        else:
            for entry in entries:
                entry.transaction = txn
            Entry.objects.bulk_create(entries)
            for pk, balance in balances.items():
                Account.objects.filter(pk=pk).update(balance_fen=balance)
    if conflict:
        raise errors.LedgerConflict()
    if txn is None:
        raise errors.InsufficientBalance()
    txn.balance_after_by_user = {  # type: ignore[attr-defined]
        locked[pk].user_id: balance for pk, balance in balances.items()
    }
    return txn, True


def _is_replay(
    existing: LedgerTransaction,
    kind: str,
    legs: list[Leg],
    locked: dict[int, Account],
    bank_operation: BankOperation | None,
) -> bool:
    """A replay asks for exactly what was posted; anything else is a conflict (logged)."""
    wallet_of_user = {account.user_id: account.pk for account in locked.values()}
    asked = sorted(
        (
            leg.account.pk if leg.account is not None else wallet_of_user.get(leg.user_id),
            leg.amount_fen,
        )
        for leg in legs
    )
    posted = sorted(existing.entries.values_list("account_id", "amount_fen"))
    same = (
        existing.kind == kind
        and asked == posted
        and existing.bank_operation_id == (bank_operation.pk if bank_operation else None)
    )
    if not same:
        logger.error(
            "ledger conflict: reference %s posted as %s %s, asked again as %s %s",
            existing.reference,
            existing.kind,
            posted,
            kind,
            asked,
        )
    return same


def _entries(
    legs: list[Leg], locked: dict[int, Account]
) -> tuple[list[Entry] | None, dict[int, int]]:
    """The movement's entries and each locked wallet's balance after it; no entries if
    a wallet would go below zero."""
    wallet_of_user = {account.user_id: account for account in locked.values()}
    balances = {pk: account.balance_fen for pk, account in locked.items()}
    entries = []
    for leg in legs:
        account = leg.account if leg.account is not None else wallet_of_user[leg.user_id]
        balance_after = None
        if account.pk in balances:
            balance_after = balances[account.pk] + leg.amount_fen
            if balance_after < 0:
                return None, balances
            balances[account.pk] = balance_after
        entries.append(
            Entry(account=account, amount_fen=leg.amount_fen, balance_after_fen=balance_after)
        )
    return entries, balances


_RECORD_FIELDS = ("kind", "reference", "memo", "bank_operation", "actor", "created_at")


def _record(
    *,
    kind: str,
    reference: str,
    memo: str,
    bank_operation_id: int | None,
    actor_id: int | None,
) -> LedgerTransaction | None:
    """Insert the transaction's row; None if its reference is posted already. One
    statement (INSERT … ON CONFLICT DO NOTHING RETURNING, which the ORM cannot say): the
    unique index settles a race of two posts of the reference, with no savepoint."""
    created_at = timezone.now()
    meta = LedgerTransaction._meta
    quote = connection.ops.quote_name
    columns = [meta.get_field(name).column for name in _RECORD_FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(map(quote, columns))})"
            f" VALUES ({', '.join(['%s'] * len(columns))})"
            f" ON CONFLICT ({quote(columns[1])}) DO NOTHING"
            f" RETURNING {quote(meta.pk.column)}",
            [
                kind,
                reference,
                memo,
                bank_operation_id,
                actor_id,
                connection.ops.adapt_datetimefield_value(created_at),
            ],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return LedgerTransaction(
        pk=row[0],
        kind=kind,
        reference=reference,
        memo=memo,
        bank_operation_id=bank_operation_id,
        actor_id=actor_id,
        created_at=created_at,
    )


def _lock_wallets(legs: list[Leg]) -> dict[int, Account]:
    """Lock the user wallets among the legs in id order, in one statement; a wallet
    named by its user is created on first use."""
    ids = {leg.account.pk for leg in legs if leg.account is not None and leg.account.is_user_wallet}
    user_ids = {leg.user_id for leg in legs if leg.account is None}

    def lock() -> dict[int, Account]:
        wallets = Account.objects.select_for_update().filter(
            Q(pk__in=ids) | Q(user_id__in=user_ids)
        )
        return {account.pk: account for account in wallets.order_by("pk")}

    locked = lock()
    missing = user_ids - {account.user_id for account in locked.values()}
    if missing:
        for user_id in missing:
            account_for_user(User(pk=user_id))
        locked = lock()
    return locked


# --- Payment PIN ------------------------------------------------------------------------


def _validate_pin_format(pin: str) -> None:
    if not is_ascii_digits(pin) or len(pin) != 6:
        message = _("支付密码为6位数字")
        raise InvalidInput(message, code="invalid_pin", fields={"pin": message})


def pin_verify(*, user: User, pin: str) -> None:
    """Check the payment PIN, counting failures; 5 wrong lock payments for 3 hours.

    The check runs under a row lock on the user's PIN, in its own short transaction, so
    a burst of concurrent guesses is checked one at a time and gets at most
    PIN_MAX_ATTEMPTS checks before the lock. Call it before the payment's transaction:
    the count of a failure must survive the rollback of the payment it refused.
    """
    now = timezone.now()
    refusal: errors.PaymentRefused | None = None
    with transaction.atomic():
        record = PaymentPin.objects.select_for_update().filter(user=user).first()
        if record is None:
            raise errors.PinRequired()
        if record.locked_until is not None:
            if record.locked_until > now:
                raise errors.PinLocked()
            record.failed_attempts, record.locked_until = 0, None  # the lock has run out
        if check_password(pin, record.pin_hash):
            record.failed_attempts = 0
        else:
            record.failed_attempts += 1
            left = settings.PIN_MAX_ATTEMPTS - record.failed_attempts
            if left <= 0:
                record.locked_until = now + timedelta(seconds=settings.PIN_LOCK_SECONDS)
                refusal = errors.PinLocked()
            else:
                refusal = errors.WrongPin(_("支付密码错误，还可以再试%(n)d次") % {"n": left})
        record.save(update_fields=["failed_attempts", "locked_until", "updated_at"])
    if refusal is not None:
        raise refusal


def payment_authorize(*, user: User, pin: str | None) -> None:
    """Once a user has a PIN, every payment needs it; before that, change pays without."""
    if not PaymentPin.objects.filter(user=user).exists():
        return
    if not pin:
        raise errors.PinRequired()
    _validate_pin_format(pin)
    pin_verify(user=user, pin=pin)


# --- Cards ------------------------------------------------------------------------------


_MOBILE_PREFIXES = {f"1{second}" for second in "3456789"}


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
        pending_pin_hash=make_password(pin) if not has_pin and pin else "",
        code_hash=make_password(code),
        expires_at=timezone.now() + timedelta(seconds=settings.SMS_CODE_TTL_SECONDS),
    )
    get_sms_backend().send(
        phone=phone,
        text=str(_("【微信支付】验证码%(code)s，用于绑定尾号%(last4)s的银行卡，5分钟内有效。"))
        % {"code": code, "last4": bound.last4},
    )
    return binding, code


def card_bind_verify(*, user: User, binding_id: str, code: str) -> BankCard:
    """Finish a binding with the SMS code: 5 tries within 5 minutes, checked one at a time
    under a row lock. The first card also sets the payment PIN chosen at the start."""
    refusal: DomainError | None = None
    with transaction.atomic():
        binding = CardBinding.objects.select_for_update().filter(pk=binding_id, user=user).first()
        if binding is None:
            raise NotFound(_("绑卡申请不存在"))
        if binding.status == CardBinding.Status.VERIFIED:
            return binding.card  # type: ignore[return-value]
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
    return binding.card  # type: ignore[return-value]


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


def _raise_for_outcome(outcome: str) -> None:
    if outcome == "insufficient_funds":
        raise errors.InsufficientFunds()
    raise errors.CardDeclined()


# --- Movements --------------------------------------------------------------------------


def _check_amount(amount_fen: int) -> None:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise ValueError("amounts are positive integers of fen")


def check_request_key(request_key: str | None) -> str:
    """A request's server-side id (an idempotency record's id, or a caller's own token):
    letters, digits, '-' and '_' only, so no reference built from it can spell another
    movement's reference. None → a fresh one (a movement no retry can repeat)."""
    if request_key is None:
        return uuid.uuid4().hex
    if not (
        isinstance(request_key, str)
        and 1 <= len(request_key) <= 64
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in request_key)
    ):
        raise ValueError("a request key is a server-side id: [A-Za-z0-9_-]{1,64}")
    return request_key


# Each of a request's bank operations: the unsettled one a retry of that request resumes,
# or a new one. A refund's reversal and a charge's return are the only states a retry
# cannot resume: they start anew.
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
    same reference (it replays, charging once) and completes the top-up."""
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
            ledger_post(
                kind=Kind.TOPUP,
                reference=operation.reference,
                legs=[_clearing_leg(-amount_fen), Leg.wallet_of(user, amount_fen)],
                memo=f"{card}",
                bank_operation=operation,
            )
        _settle(operation, result.outcome)
    if not result.ok:
        _raise_for_outcome(result.outcome)
    return account_for_user(user)


def wallet_withdraw(
    *, user: User, card: BankCard, amount_fen: int, request_key: str | None = None
) -> Account:
    """提现: the money leaves the change first (so concurrent withdrawals can never pay out
    more than the balance), in the transaction that records the bank operation; then the
    bank credits the card; a refused credit is reversed under the same operation."""
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
    bank refuses, the money goes back to the user's change under the same operation."""
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
        _settle(operation, result.outcome)
    if not result.ok:
        _raise_for_outcome(result.outcome)


def wallet_transfer(
    *,
    sender: User,
    recipient: User,
    amount_fen: int,
    request_key: str | None = None,
    note: str = "",
) -> Account:
    """转账 from one user's change to another's, once per sender and request."""
    _check_amount(amount_fen)
    if sender.pk == recipient.pk:
        message = _("不能给自己转账")
        raise InvalidInput(message, code="self_transfer", fields={"to_user_id": message})
    ledger_post(
        kind=Kind.TRANSFER,
        reference=f"transfer:{sender.pk}:{check_request_key(request_key)}",
        legs=[
            Leg.wallet_of(sender, -amount_fen),
            Leg.wallet_of(recipient, amount_fen),
        ],
        memo=note[:120],
    )
    return account_for_user(sender)


@dataclass(frozen=True)
class CardCharge:
    """Money the bank has taken from a card for one payment, not yet in the ledger."""

    operation: BankOperation

    @property
    def amount_fen(self) -> int:
        return self.operation.amount_fen


BALANCE = "balance"  # pay from change (零钱)


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
    txn, _created = ledger_post(
        kind=kind,
        reference=reference,
        legs=[payer, Leg(system_account(escrow), amount_fen)],
        bank_operation=operation,
        actor=actor,
    )
    if operation is not None and _created and not _settle(operation, BankOperation.State.OK):
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
