"""The bank gateway and SMS backend: interfaces, chosen by settings, and the sandbox
implementations that keep their own records (statement, outbox) for reconciliation.

A gateway call is a call to another company's system: it is made outside our database
transactions, and the sandbox writes its statement in its own autocommit statements so a
rollback on our side does not erase what "the bank" did.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string

from wallet.models import SandboxCard, SandboxStatementLine, SmsMessage

DECLINED_CARD = "4000000000000002"
INSUFFICIENT_FUNDS_CARD = "4000000000009995"


@dataclass(frozen=True)
class BoundCard:
    token: str
    bank: str
    card_type: str  # "debit" | "credit"
    last4: str


@dataclass(frozen=True)
class GatewayResult:
    ok: bool
    outcome: str  # "ok" | "declined" | "insufficient_funds"


class BankGateway(Protocol):
    def bind(self, *, card_number: str, holder_name: str, phone: str) -> BoundCard: ...

    def debit(self, *, token: str, amount_fen: int, reference: str) -> GatewayResult: ...

    def credit(self, *, token: str, amount_fen: int, reference: str) -> GatewayResult: ...


class SmsBackend(Protocol):
    def send(self, *, phone: str, text: str) -> None: ...


def luhn_valid(number: str) -> bool:
    """The Luhn checksum every real card number passes."""
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


# Issuer by leading digits, as a sandbox bank would report it (real BIN tables are larger).
_SANDBOX_ISSUERS = (
    ("62", "中国银联", "debit"),
    ("4", "招商银行", "debit"),
    ("51", "工商银行", "credit"),
    ("52", "建设银行", "credit"),
    ("5", "农业银行", "credit"),
    ("3", "中国银行", "credit"),
)


class SandboxGateway:
    """Any Luhn-valid number works, except 4000000000000002 (declined) and
    4000000000009995 (insufficient funds). Idempotent per (operation, reference)."""

    def bind(self, *, card_number: str, holder_name: str, phone: str) -> BoundCard:
        behaviour = {
            DECLINED_CARD: SandboxCard.Behaviour.DECLINED,
            INSUFFICIENT_FUNDS_CARD: SandboxCard.Behaviour.INSUFFICIENT_FUNDS,
        }.get(card_number, SandboxCard.Behaviour.OK)
        bank, card_type = next(
            (
                (name, kind)
                for prefix, name, kind in _SANDBOX_ISSUERS
                if card_number.startswith(prefix)
            ),
            ("平安银行", "debit"),
        )
        token = "sbx_" + secrets.token_hex(16)
        last4 = card_number[-4:]
        SandboxCard.objects.create(token=token, behaviour=behaviour, last4=last4)
        self._record(SandboxStatementLine.Operation.BIND, token, 0, token, "ok")
        return BoundCard(token=token, bank=bank, card_type=card_type, last4=last4)

    def debit(self, *, token: str, amount_fen: int, reference: str) -> GatewayResult:
        card = SandboxCard.objects.filter(token=token).first()
        outcome = card.behaviour if card else SandboxCard.Behaviour.DECLINED
        return self._record(
            SandboxStatementLine.Operation.DEBIT, token, amount_fen, reference, outcome
        )

    def credit(self, *, token: str, amount_fen: int, reference: str) -> GatewayResult:
        card = SandboxCard.objects.filter(token=token).first()
        # Money can always be paid into a card unless the bank blocks the card.
        outcome = (
            SandboxCard.Behaviour.DECLINED
            if card is None or card.behaviour == SandboxCard.Behaviour.DECLINED
            else SandboxCard.Behaviour.OK
        )
        return self._record(
            SandboxStatementLine.Operation.CREDIT, token, amount_fen, reference, outcome
        )

    @staticmethod
    def _record(
        operation: str, token: str, amount_fen: int, reference: str, outcome: str
    ) -> GatewayResult:
        try:
            with transaction.atomic():
                line = SandboxStatementLine.objects.create(
                    operation=operation,
                    token=token,
                    amount_fen=amount_fen,
                    reference=reference,
                    outcome=outcome,
                )
        except IntegrityError:
            # The same operation again: the bank answers what it answered the first time.
            line = SandboxStatementLine.objects.get(operation=operation, reference=reference)
        return GatewayResult(ok=line.outcome == "ok", outcome=line.outcome)


class SandboxSms:
    """Stores every message (visible in admin) instead of sending it."""

    def send(self, *, phone: str, text: str) -> None:
        SmsMessage.objects.create(phone=phone, text=text)


@cache
def get_gateway() -> BankGateway:
    return import_string(settings.BANK_GATEWAY)()


@cache
def get_sms_backend() -> SmsBackend:
    return import_string(settings.SMS_BACKEND)()
