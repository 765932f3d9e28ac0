"""Money integrity against a hostile client: every movement has exactly its ledger twin,
whatever keys, retries or bodies a client sends (SPEC §8, invariant 6 above all).

Each test names the hole it closes; each failed on the code before the fix."""

import logging

import pytest

from tests.invariants import assert_invariants
from tests.wallet.conftest import DECLINED_CARD, PIN
from wallet import errors, services
from wallet.models import (
    Account,
    BankOperation,
    IdempotencyRecord,
    LedgerTransaction,
    SandboxStatementLine,
)
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db


def _post(client, path, body, key):
    return client.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def _bank_credits(amount_fen):
    return SandboxStatementLine.objects.filter(
        operation="credit", outcome="ok", amount_fen=amount_fen
    )


# --- 1. A reference can never be spelled by a client -------------------------------------


def test_a_key_spelling_an_earlier_reversal_withdraws_nothing_without_a_debit(
    auth_client, bind_card, fund
):
    """Withdraw 1 fen with key k1 to a declined card (reversed), then ¥50,000 with key
    "k1:reversal": before the fix the second withdrawal found "its" reference posted,
    answered 200 and the bank paid out 5,000,000 fen with no debit."""
    client = auth_client()
    user = client.user
    fund(user, 1_000)
    declined = bind_card(user, number=DECLINED_CARD)
    good = user.bank_cards.filter(is_active=True).exclude(pk=declined.pk).first()

    first = _post(
        client,
        "/api/wallet/withdraw",
        {"card_id": declined.pk, "amount_fen": 1, "pin": PIN},
        "k1",
    )
    assert first.status_code == 422 and first.json()["code"] == "card_declined"
    second = _post(
        client,
        "/api/wallet/withdraw",
        {"card_id": good.pk, "amount_fen": 5_000_000, "pin": PIN},
        "k1:reversal",
    )
    assert second.status_code == 422 and second.json()["code"] == "insufficient_balance"
    assert not _bank_credits(5_000_000).exists()
    assert balance_of(user) == 1_000
    assert_invariants()


def test_the_same_attack_through_the_withdraw_page_moves_nothing(
    client, make_user, bind_card, fund
):
    user = make_user()
    client.force_login(user)
    fund(user, 1_000)
    declined = bind_card(user, number=DECLINED_CARD)
    good = user.bank_cards.exclude(pk=declined.pk).first()
    client.post(
        "/wallet/withdraw/",
        {"card_id": declined.pk, "amount_fen": "0.01", "pin": PIN, "idempotency_key": "k1"},
    )
    page = client.post(
        "/wallet/withdraw/",
        {"card_id": good.pk, "amount_fen": "50000", "pin": PIN, "idempotency_key": "k1:reversal"},
    )
    assert page.status_code == 200 and "零钱余额不足" in page.content.decode()
    assert not _bank_credits(5_000_000).exists()
    assert balance_of(user) == 1_000
    assert_invariants()


def test_posting_a_reference_again_with_other_legs_is_refused_loudly(make_user, fund, caplog):
    alice, bob, mallory = make_user(), make_user(), make_user()
    fund(alice, 1_000)
    services.wallet_transfer(sender=alice, recipient=bob, amount_fen=100, request_key="r1")
    clearing = services.system_account(Account.Kind.BANK_CLEARING)
    with (
        caplog.at_level(logging.ERROR, logger="wallet.services"),
        pytest.raises(errors.LedgerConflict),
    ):
        services.ledger_post(
            kind=LedgerTransaction.Kind.WITHDRAW,
            reference=f"transfer:{alice.pk}:r1",
            legs=[services.Leg(clearing, -500), services.Leg.wallet_of(mallory, 500)],
        )
    assert "ledger conflict" in caplog.text
    assert balance_of(mallory) == 0
    # The same movement again is still a quiet replay.
    services.wallet_transfer(sender=alice, recipient=bob, amount_fen=100, request_key="r1")
    assert balance_of(bob) == 100
    assert_invariants()


def test_a_client_string_can_never_become_a_request_key(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    with pytest.raises(ValueError):
        services.wallet_transfer(sender=alice, recipient=bob, amount_fen=1, request_key="a:b")
    assert_invariants()


# --- 2. A returned card charge never funds anything ---------------------------------------


def test_a_returned_charge_is_never_resumed(make_user, bind_card):
    user = make_user()
    card = bind_card(user)
    for _attempt in range(2):
        with (
            pytest.raises(RuntimeError),
            services.card_charge(user=user, card=card, amount_fen=300, request_key="p1"),
        ):
            raise RuntimeError("payment failed")
    charges = BankOperation.objects.filter(purpose="charge").order_by("pk")
    assert [c.state for c in charges] == ["returned", "returned"]
    debits = SandboxStatementLine.objects.filter(operation="debit", outcome="ok")
    assert sorted(debits.values_list("reference", flat=True)) == sorted(
        c.reference for c in charges
    )
    assert balance_of(user) == 0
    assert_invariants()


# --- 4. No secret in a stored fingerprint --------------------------------------------------


def test_the_stored_fingerprint_carries_no_pin_and_no_key(auth_client, bind_card, fund):
    """Before the fix the fingerprint was an unsalted SHA-256 of the body, PIN included:
    all 10⁶ PINs fall in seconds, and admin showed it."""
    client = auth_client()
    user = client.user
    card = bind_card(user)
    body = {"card_id": card.pk, "amount_fen": 100, "pin": PIN}
    assert _post(client, "/api/wallet/topup", body, "pin-key-1").status_code == 200
    wrong = _post(client, "/api/wallet/topup", {**body, "pin": "654321"}, "pin-key-2")
    assert wrong.status_code == 422
    first, second = IdempotencyRecord.objects.filter(user=user).order_by("pk")
    # The same request with another PIN has the same digest: it says nothing of the PIN.
    assert first.request_hash == second.request_hash
    stored = " ".join(str(v) for v in IdempotencyRecord.objects.values_list().first())
    assert "pin-key-1" not in stored and PIN not in stored


def test_admin_shows_no_digest(admin_client, auth_client, bind_card):
    client = auth_client()
    user = client.user
    card = bind_card(user)
    _post(client, "/api/wallet/topup", {"card_id": card.pk, "amount_fen": 100, "pin": PIN}, "k")
    record = IdempotencyRecord.objects.get(user=user)
    page = admin_client.get(f"/admin/wallet/idempotencyrecord/{record.pk}/change/")
    assert page.status_code == 200
    assert record.request_hash not in page.content.decode()
    assert record.key_digest not in page.content.decode()


# --- 5. Pages go through the same idempotency rules ---------------------------------------


def test_a_transfer_form_key_resubmitted_with_another_amount_is_refused(client, make_user, fund):
    """Before the fix the page showed "转账成功" and moved nothing."""
    user, friend = make_user(), make_user("friend-integrity")
    client.force_login(user)
    fund(user, 20_000)
    form = {
        "recipient": "friend-integrity",
        "amount_fen": "1",
        "pin": PIN,
        "idempotency_key": "tk",
    }
    assert client.post("/wallet/transfer/", form).status_code == 302
    again = client.post("/wallet/transfer/", {**form, "amount_fen": "100"})
    assert again.status_code == 200
    assert "同一个幂等键不能用于不同的请求" in again.content.decode()
    assert balance_of(friend) == 100 and balance_of(user) == 19_900
    replay = client.post("/wallet/transfer/", form, follow=True)
    assert "转账成功" in replay.content.decode()
    assert balance_of(friend) == 100
    assert_invariants()


def test_a_key_is_scoped_to_its_endpoint(auth_client, make_user, fund, bind_card):
    client = auth_client()
    user = client.user
    friend = make_user()
    fund(user, 10_000)
    card = user.bank_cards.first()
    transfer = {"to_user_id": friend.pk, "amount_fen": 100, "pin": PIN}
    assert _post(client, "/api/wallet/transfer", transfer, "shared").status_code == 200
    topup = {"card_id": card.pk, "amount_fen": 100, "pin": PIN}
    assert _post(client, "/api/wallet/topup", topup, "shared").status_code == 200
    assert balance_of(user) == 10_000 and balance_of(friend) == 100
    assert_invariants()


@pytest.mark.parametrize("bad_key", ["", "x" * 65, "中文", "tab\there", "nul\x00"])
def test_keys_outside_printable_ascii_are_refused(auth_client, make_user, fund, bad_key):
    client = auth_client()
    user = client.user
    fund(user, 1_000)
    response = client.post(
        "/api/wallet/transfer",
        {"to_user_id": make_user().pk, "amount_fen": 1, "pin": PIN},
        format="json",
        HTTP_IDEMPOTENCY_KEY=bad_key,
    )
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert balance_of(user) == 1_000
