"""The payment PIN (SPEC §2): checked under a row lock, 5 wrong lock payments for 3 hours."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from redpacket.accounts.models import User
from redpacket.kernel.errors import InvalidInput
from redpacket.kernel.numbers import is_ascii_digits
from wallet import errors, pin_hash
from wallet.models import (
    PaymentPin,
)

logger = logging.getLogger(__name__)

# --- Payment PIN ------------------------------------------------------------------------


def _validate_pin_format(pin: str) -> None:
    if not is_ascii_digits(pin) or len(pin) != 6:
        message = _("支付密码为6位数字")
        raise InvalidInput(message, code="invalid_pin", fields={"pin": message})


def pin_hash_make(*, user: User, pin: str) -> str:
    """The stored form of a new PIN: an HMAC under the newest pepper, bound to the user."""
    return pin_hash.keyed_pin_hash(peppers=settings.PIN_PEPPERS, user_id=user.pk, pin=pin)


def _pin_matches(*, user: User, pin: str, stored: str) -> tuple[bool, bool]:
    """(right, stale): a stale hash — Django's PBKDF2 from before the pepper, or one under
    a retired pepper — is to be replaced by pin_hash_make's form once the PIN is right."""
    if not pin_hash.is_keyed(stored):
        return check_password(pin, stored), True
    try:
        match = pin_hash.keyed_pin_check(
            peppers=settings.PIN_PEPPERS, user_id=user.pk, pin=pin, stored=stored
        )
    except pin_hash.UnknownPepper as unknown:
        # Counted as wrong like any other: nothing can verify it until the pepper is back.
        logger.error(
            "Payment PIN of user %s is signed with pepper %s, missing from PIN_PEPPER and "
            "PIN_PEPPERS_OLD; it cannot be checked.",
            user.pk,
            unknown,
        )
        return False, False
    return match is not pin_hash.PinMatch.WRONG, match is pin_hash.PinMatch.RIGHT_STALE


def pin_verify(*, user: User, pin: str, required: bool = True) -> None:
    """Check the payment PIN, counting failures; 5 wrong lock payments for 3 hours.

    The check runs under a row lock on the user's PIN, in its own short transaction, so
    a burst of concurrent guesses is checked one at a time and gets at most
    PIN_MAX_ATTEMPTS checks before the lock. Call it before the payment's transaction:
    the count of a failure must survive the rollback of the payment it refused. A right
    PIN whose hash is stale (PBKDF2 from before the pepper, or a retired pepper) is stored
    again in the current form in the same transaction. A right PIN with nothing to reset
    writes nothing. With `required=False` a user without a PIN passes.
    """
    now = timezone.now()
    refusal: errors.PaymentRefused | None = None
    with transaction.atomic():
        record = PaymentPin.objects.select_for_update().filter(user=user).first()
        if record is None:
            if required:
                raise errors.PinRequired()
            return
        _validate_pin_format(pin)  # not a guess: not counted
        before = (record.failed_attempts, record.locked_until, record.pin_hash)
        if record.locked_until is not None:
            if record.locked_until > now:
                raise errors.PinLocked()
            record.failed_attempts, record.locked_until = 0, None  # the lock has run out
        right, stale = _pin_matches(user=user, pin=pin, stored=record.pin_hash)
        if right:
            record.failed_attempts = 0
            if stale:  # replaced in this transaction, under the row lock
                record.pin_hash = pin_hash_make(user=user, pin=pin)
        else:
            record.failed_attempts += 1
            left = settings.PIN_MAX_ATTEMPTS - record.failed_attempts
            if left <= 0:
                record.locked_until = now + timedelta(seconds=settings.PIN_LOCK_SECONDS)
                refusal = errors.PinLocked()
            else:
                refusal = errors.WrongPin(_("支付密码错误，还可以再试%(n)d次") % {"n": left})
        if (record.failed_attempts, record.locked_until, record.pin_hash) != before:
            record.save(update_fields=["failed_attempts", "locked_until", "pin_hash", "updated_at"])
    if refusal is not None:
        raise refusal


def payment_authorize(*, user: User, pin: str | None) -> None:
    """Once a user has a PIN, every payment needs it; before that, change pays without.
    With a PIN given, the one locked read of `pin_verify` also tells whether one is set."""
    if not pin:
        if PaymentPin.objects.filter(user=user).exists():
            raise errors.PinRequired()
        return
    pin_verify(user=user, pin=pin, required=False)
