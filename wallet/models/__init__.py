"""The wallet's data: a double-entry ledger, bank cards, payment PINs, requests and bank
operations, the sandbox bank's and SMS backend's own records, and 对账's runs. Rules live
in wallet/services/; the database itself refuses the worst mistakes (CHECKs in the
models, triggers in the migrations)."""

from wallet.models.cards import BankCard, CardBinding, PaymentPin
from wallet.models.ledger import Account, Entry, LedgerTransaction
from wallet.models.notices import NoticesSeen
from wallet.models.operations import BankOperation, IdempotencyRecord
from wallet.models.reconciliation import ReconciliationFinding, ReconciliationRun
from wallet.models.sandbox import SandboxCard, SandboxStatementLine, SmsMessage

__all__ = [
    "Account",
    "BankCard",
    "BankOperation",
    "CardBinding",
    "Entry",
    "IdempotencyRecord",
    "LedgerTransaction",
    "NoticesSeen",
    "PaymentPin",
    "ReconciliationFinding",
    "ReconciliationRun",
    "SandboxCard",
    "SandboxStatementLine",
    "SmsMessage",
]
