"""入账 — one rule for every credit from an escrow to a user's change (a claim, a win).

A creditable row has `user`, `amount_fen`, `credit_status` ("pending" / "credited") and
`credited_at`; its ledger reference is "<prefix>:<id>". The row is the queue of record:
its credit task may run twice or concurrently, and credits once.
"""

from __future__ import annotations

from django.db import connection, models, transaction
from django.utils import timezone

from chat.events import publish_on_commit, user_group
from redpacket.accounts.models import User
from wallet import services as wallet
from wallet.selectors import balance_of

PENDING = "pending"
CREDITED = "credited"


def credit_once(
    model: type[models.Model], pk: int, *, escrow: str, kind: str, reference_prefix: str
) -> bool:
    """Credit one pending row of `model` from `escrow`; returns whether this run did.

    One statement marks the row credited and returns what to pay: it takes the row's
    lock, so a concurrent run waits, then finds it credited and does nothing; the ledger
    movement in the same transaction is unique on its reference besides. After commit,
    `wallet.credited` goes to the receiver's connections.
    """
    with transaction.atomic():
        row = _mark_credited(model, pk)
        if row is None:  # no such row, or credited already
            return False
        user_id, amount_fen = row
        user = User(pk=user_id)
        txn, _created = wallet.wallet_credit_from_escrow(
            user=user,
            escrow=escrow,
            amount_fen=amount_fen,
            reference=f"{reference_prefix}:{pk}",
            kind=kind,
        )
        # The balance the ledger just wrote; a movement posted earlier carries none.
        balance = getattr(txn, "balance_after_by_user", {}).get(user_id)
        if balance is None:
            balance = balance_of(user)
        publish_on_commit(
            user_group(user_id),
            {"type": "wallet.credited", "amount_fen": amount_fen, "balance_fen": balance},
        )
    return True


def _mark_credited(model: type[models.Model], pk: int) -> tuple[int, int] | None:
    """UPDATE … RETURNING (which the ORM's update() cannot): (user id, amount) of the
    row if it was pending."""
    meta = model._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(meta.db_table)}"
            f" SET {column('credit_status')} = %s, {column('credited_at')} = %s"
            f" WHERE {quote(meta.pk.column)} = %s AND {column('credit_status')} = %s"
            f" RETURNING {column('user')}, {column('amount_fen')}",
            [CREDITED, connection.ops.adapt_datetimefield_value(timezone.now()), pk, PENDING],
        )
        return cursor.fetchone()
