"""What one send costs the database (ARCHITECTURE.md "Send"): a budget of statements for
`POST /api/packets` paid from change with a PIN, so that a change which adds a round trip
to the hot money path is seen. Counted on PostgreSQL, where the statements are the real
ones (the conditional INSERTs, the one-statement ledger posting)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.invariants import assert_invariants
from wallet.models import PaymentPin

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Key claimed (1), packet resumed? (1), room and membership (1), PIN under its row lock
# (BEGIN, SELECT … FOR UPDATE, COMMIT), the payment's transaction (BEGIN, accounts,
# ledger transaction, entries, balance, packet, its shares, its message, COMMIT), the
# answer stored (1).
SEND_STATEMENTS = 16


def test_a_send_with_a_pin_stays_within_its_statement_budget(group, auth_client):
    room, users = group(3)
    sender = users[0]
    assert PaymentPin.objects.filter(user=sender).exists()  # as every real sender has
    client = auth_client(sender)
    body = {
        "room_id": room.pk,
        "kind": "lucky",
        "count": 3,
        "total_fen": 900,
        "pay_with": "balance",
        "pin": "123456",
    }
    first = client.post("/api/packets", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert first.status_code == 201, first.json()
    pin_written = PaymentPin.objects.get(user=sender).updated_at
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/api/packets", body, format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
        )
    assert response.status_code == 201, response.json()
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) <= SEND_STATEMENTS, "\n".join(s[:120] for s in statements)
    # A right PIN with nothing to reset writes nothing.
    assert PaymentPin.objects.get(user=sender).updated_at == pin_written
    assert not [s for s in statements if s.startswith('UPDATE "wallet_paymentpin"')]
    assert_invariants()
