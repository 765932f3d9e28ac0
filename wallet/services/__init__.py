"""Every money movement in the system goes through this package (STYLE rule 2).

Each movement is one balanced ledger transaction, posted at most once per business
`reference` built from server-side ids. One module per seam: the ledger, the payment PIN,
cards, bank operations (every call to the bank) and movements inside the system.
"""

from wallet.services.bank import (
    CardCharge,
    bank_operation_resolve,
    bank_operations_unsettled,
    card_charge,
    charge_return,
    wallet_topup,
    wallet_withdraw,
)
from wallet.services.cards import (
    card_bind_start,
    card_bind_verify,
    card_for_user,
    card_number_check,
    card_remove,
)
from wallet.services.ledger import (
    CreditPosting,
    Leg,
    account_for_user,
    balance_after,
    check_request_key,
    forget_accounts,
    ledger_post,
    ledger_post_credits,
    system_account,
)
from wallet.services.movements import (
    BALANCE,
    wallet_credit_from_escrow,
    wallet_pay_into_escrow,
    wallet_transfer,
)
from wallet.services.notices import notices_mark_seen
from wallet.services.pin import payment_authorize, pin_verify

__all__ = [
    "BALANCE",
    "CardCharge",
    "CreditPosting",
    "Leg",
    "account_for_user",
    "balance_after",
    "bank_operation_resolve",
    "bank_operations_unsettled",
    "card_bind_start",
    "card_bind_verify",
    "card_charge",
    "card_for_user",
    "card_number_check",
    "card_remove",
    "charge_return",
    "check_request_key",
    "forget_accounts",
    "ledger_post",
    "ledger_post_credits",
    "notices_mark_seen",
    "payment_authorize",
    "pin_verify",
    "system_account",
    "wallet_credit_from_escrow",
    "wallet_pay_into_escrow",
    "wallet_topup",
    "wallet_transfer",
    "wallet_withdraw",
]
