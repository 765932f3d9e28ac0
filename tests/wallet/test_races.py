"""Concurrency on real PostgreSQL: threads, each with its own connection, through the API."""

import uuid
from collections import Counter

import pytest
from rest_framework.test import APIClient

from redpacket.accounts.services import token_issue
from tests.concurrency import run_parallel
from tests.invariants import assert_invariants
from tests.wallet.conftest import PIN
from wallet.models import BankOperation, LedgerTransaction, PaymentPin
from wallet.selectors import balance_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    return client


def _post(user, path, body, key=None):
    response = _client(user).post(
        path, body, format="json", HTTP_IDEMPOTENCY_KEY=key or str(uuid.uuid4())
    )
    return response.status_code, response.json()


def test_twenty_parallel_withdrawals_from_a_balance_that_covers_ten(make_user, fund):
    from wallet.models import BankCard

    user = make_user()
    fund(user, 10 * 700)
    card = BankCard.objects.get(user=user)
    results = run_parallel(
        _post,
        [(user, "/api/wallet/withdraw", {"card_id": card.pk, "amount_fen": 700, "pin": PIN})] * 20,
    )
    outcomes = Counter(status if status == 200 else body["code"] for status, body in results)
    assert outcomes == {200: 10, "insufficient_balance": 10}
    assert all(status in (200, 422) for status, _ in results)
    assert balance_of(user) == 0
    assert LedgerTransaction.objects.filter(kind="withdraw").count() == 10
    assert_invariants()


def test_crossing_transfers_neither_deadlock_nor_create_money(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    fund(bob, 300)
    calls = [
        (alice, "/api/wallet/transfer", {"to_user_id": bob.pk, "amount_fen": 100, "pin": PIN})
    ] * 15
    calls += [
        (bob, "/api/wallet/transfer", {"to_user_id": alice.pk, "amount_fen": 100, "pin": PIN})
    ] * 15
    results = run_parallel(_post, calls)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert all(status in (200, 422) for status, _ in results)
    assert all(body["code"] == "insufficient_balance" for status, body in results if status == 422)
    assert balance_of(alice) + balance_of(bob) == 1_300
    assert balance_of(alice) >= 0 and balance_of(bob) >= 0
    ok_from_alice = sum(
        1
        for (status, _), call in zip(results, calls, strict=True)
        if status == 200 and call[0] == alice
    )
    ok_from_bob = sum(
        1
        for (status, _), call in zip(results, calls, strict=True)
        if status == 200 and call[0] == bob
    )
    assert balance_of(alice) == 1_000 - 100 * ok_from_alice + 100 * ok_from_bob
    assert_invariants()


def test_ten_concurrent_requests_with_one_key_move_money_once(make_user, fund):
    from wallet.models import BankCard

    user = make_user()
    fund(user, 100)  # binds the card
    card = BankCard.objects.get(user=user)
    key = str(uuid.uuid4())
    body = {"card_id": card.pk, "amount_fen": 5_000, "pin": PIN}
    results = run_parallel(_post, [(user, "/api/wallet/topup", body, key)] * 10)
    assert [status for status, _ in results] == [200] * 10, results
    assert {str(body) for _, body in results} == {str({"balance_fen": 5_100})}
    # One bank operation for the key, and its one ledger transaction (the key itself is
    # in neither: references are built from the operation's id).
    topups = LedgerTransaction.objects.filter(
        kind="topup", entries__account__user=user, entries__amount_fen=5_000
    )
    assert topups.count() == 1
    assert BankOperation.objects.filter(user=user, amount_fen=5_000).count() == 1
    assert balance_of(user) == 5_100
    assert_invariants()


def test_a_burst_of_wrong_pins_gets_at_most_five_checks(make_user, fund):
    from wallet.models import BankCard

    user = make_user()
    fund(user, 1_000)
    card = BankCard.objects.get(user=user)
    results = run_parallel(
        _post,
        [(user, "/api/wallet/withdraw", {"card_id": card.pk, "amount_fen": 1, "pin": "000000"})]
        * 50,
    )
    codes = Counter(body["code"] for _, body in results)
    assert codes == {"wrong_pin": 4, "pin_locked": 46}
    pin = PaymentPin.objects.get(user=user)
    assert pin.failed_attempts == 5 and pin.locked_until is not None
    # Locked for the right PIN too.
    status, body = _post(
        user, "/api/wallet/withdraw", {"card_id": card.pk, "amount_fen": 1, "pin": PIN}
    )
    assert (status, body["code"]) == (422, "pin_locked")
    assert balance_of(user) == 1_000
    assert_invariants()


def test_a_burst_of_wrong_sms_codes_gets_five_tries(make_user):
    user = make_user()
    client = _client(user)
    started = client.post(
        "/api/cards",
        {
            "card_number": "4111111111111111",
            "holder_name": "王五",
            "phone": "13700001111",
            "pin": PIN,
        },
        format="json",
    ).json()
    wrong = "000000" if started["sandbox_sms_code"] != "000000" else "111111"
    path = f"/api/cards/{started['binding_id']}/verify"

    def verify(code):
        response = _client(user).post(path, {"code": code}, format="json")
        return response.json()["code"]

    codes = Counter(run_parallel(verify, [(wrong,)] * 30))
    assert codes == {"wrong_code": 4, "binding_void": 26}
    assert verify(started["sandbox_sms_code"]) == "binding_void"
