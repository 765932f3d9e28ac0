"""Money integrity of sending, against faults and retries (SPEC §8, invariant 6): a card
charge whose packet failed goes back to the card and never funds the retry; a cache of
a row that rolled back is never used."""

import pytest
from django.db import DatabaseError, transaction

from tests.invariants import assert_invariants
from tests.wallet.conftest import PIN
from wallet import services
from wallet.models import Account, BankOperation, SandboxStatementLine
from wallet.selectors import balance_of, statement_findings

pytestmark = pytest.mark.django_db


def _post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_retry_after_a_failed_card_send_is_charged_anew(auth_client, group, monkeypatch):
    """The packet's creation fails after the card charge (503; the charge goes back). The
    client retries with the same key, as API.md tells it to. Before the fix the retry
    asked the bank under the refunded charge's reference, the bank replayed "ok" without
    charging, and the packet was funded from nothing."""
    from chat import services as chat_services

    room, users = group(3)
    sender = users[0]
    client = auth_client(sender)
    card = sender.bank_cards.first()
    body = {
        "room_id": room.pk,
        "kind": "lucky",
        "count": 2,
        "total_fen": 600,
        "pay_with": card.pk,
        "pin": PIN,
    }
    real_create = chat_services.message_create
    failures = iter([DatabaseError("connection lost mid-send")])

    def flaky_create(**kwargs):
        error = next(failures, None)
        if error is not None:
            raise error
        return real_create(**kwargs)

    monkeypatch.setattr(chat_services, "message_create", flaky_create)
    balance = balance_of(sender)
    failed = _post(client, "/api/packets", body, "send-1")
    assert failed.status_code == 503
    retried = _post(client, "/api/packets", body, "send-1")
    assert retried.status_code == 201, retried.json()

    charges = BankOperation.objects.filter(user=sender, purpose="charge").order_by("pk")
    assert [c.state for c in charges] == ["returned", "ok"]
    assert charges[0].refund.state == "ok"
    lines = SandboxStatementLine.objects.filter(
        token=card.gateway_token, outcome="ok", reference__regex=r"^(charge|refund):"
    )
    taken = sum(
        -line.amount_fen if line.operation == "debit" else line.amount_fen for line in lines
    )
    assert taken == -600  # the card paid for the packet exactly once
    assert balance_of(sender) == balance
    assert statement_findings() == []
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_escrow_account_is_not_remembered(group, send):
    """Before the fix an escrow account first created inside a transaction that rolled
    back stayed cached by id: every later send of the process failed."""
    services.forget_accounts()
    Account.objects.filter(kind=Account.Kind.PACKET_ESCROW).delete()
    room, users = group(3)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.system_account(Account.Kind.PACKET_ESCROW)
        raise RuntimeError("rolled back")
    packet = send(users[0], room)
    assert packet.pk is not None
    assert Account.objects.filter(kind=Account.Kind.PACKET_ESCROW).count() == 1
    assert_invariants()
