import uuid

import pytest

from tests.invariants import assert_invariants
from tests.wallet.conftest import GOOD_CARD, PIN
from wallet.models import BankCard, LedgerTransaction, PaymentPin
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db


def key() -> dict:
    return {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}


def bind_via_api(client, number=GOOD_CARD, pin=PIN):
    started = client.post(
        "/api/cards",
        {"card_number": number, "holder_name": "张三", "phone": "13800138000", "pin": pin},
        format="json",
    )
    assert started.status_code == 201, started.json()
    body = started.json()
    assert body["status"] == "sms_sent" and len(body["sandbox_sms_code"]) == 6
    verified = client.post(
        f"/api/cards/{body['binding_id']}/verify", {"code": body["sandbox_sms_code"]}, format="json"
    )
    assert verified.status_code == 201, verified.json()
    return verified.json()


def test_wallet_shape_before_anything(auth_client):
    client = auth_client()
    body = client.get("/api/wallet").json()
    assert body == {"balance_fen": 0, "has_pin": False, "pin_locked_until": None, "cards": []}


def test_bind_topup_withdraw_transfer_and_ledger(auth_client, make_user):
    client = auth_client()
    card = bind_via_api(client)
    assert set(card) >= {"id", "bank", "last4", "card_type"} and card["last4"] == "1111"
    wallet = client.get("/api/wallet").json()
    assert wallet["has_pin"] is True and wallet["cards"] == [card]

    topup = client.post(
        "/api/wallet/topup",
        {"card_id": card["id"], "amount_fen": 10_000, "pin": PIN},
        format="json",
        **key(),
    )
    assert topup.status_code == 200 and topup.json() == {"balance_fen": 10_000}
    withdraw = client.post(
        "/api/wallet/withdraw",
        {"card_id": card["id"], "amount_fen": 2_500, "pin": PIN},
        format="json",
        **key(),
    )
    assert withdraw.status_code == 200 and withdraw.json() == {"balance_fen": 7_500}
    friend = make_user()
    transfer = client.post(
        "/api/wallet/transfer",
        {"to_user_id": friend.pk, "amount_fen": 500, "pin": PIN, "note": "午饭"},
        format="json",
        **key(),
    )
    assert transfer.status_code == 200 and transfer.json() == {"balance_fen": 7_000}
    assert balance_of(friend) == 500

    ledger = client.get("/api/wallet/ledger").json()
    assert ledger["next"] is None
    rows = ledger["results"]
    assert [(r["kind"], r["amount_fen"], r["balance_after_fen"]) for r in rows] == [
        ("transfer", -500, 7_000),
        ("withdraw", -2_500, 7_500),
        ("topup", 10_000, 10_000),
    ]
    assert set(rows[0]) == {
        "id",
        "kind",
        "amount_fen",
        "balance_after_fen",
        "created_at",
        "reference",
    }
    assert_invariants()


def test_replay_returns_the_first_response_and_moves_no_money(auth_client):
    client = auth_client()
    card = bind_via_api(client)
    headers = key()
    body = {"card_id": card["id"], "amount_fen": 1_000, "pin": PIN}
    first = client.post("/api/wallet/topup", body, format="json", **headers)
    second = client.post("/api/wallet/topup", body, format="json", **headers)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {"balance_fen": 1_000}
    assert second["Idempotent-Replayed"] == "true"
    assert balance_of(client.user) == 1_000
    assert LedgerTransaction.objects.filter(kind="topup").count() == 1
    assert_invariants()


def test_answered_keys_are_forgotten_after_their_window_and_pending_ones_kept(
    auth_client, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from wallet.idempotency import idempotency_purge
    from wallet.models import IdempotencyRecord

    settings.IDEMPOTENCY_KEEP_DAYS = 7
    client = auth_client()
    card = bind_via_api(client)
    headers = key()
    body = {"card_id": card["id"], "amount_fen": 1_000, "pin": PIN}
    assert client.post("/api/wallet/topup", body, format="json", **headers).status_code == 200
    fresh = key()
    client.post("/api/wallet/topup", body, format="json", **fresh)
    old = timezone.now() - timedelta(days=8)
    IdempotencyRecord.objects.update(updated_at=old)
    IdempotencyRecord.objects.filter(pk=IdempotencyRecord.objects.latest("pk").pk).update(
        updated_at=timezone.now()
    )
    stuck = IdempotencyRecord.objects.create(
        user=client.user, scope="api:stuck", key_digest="x", request_hash="y"
    )
    IdempotencyRecord.objects.filter(pk=stuck.pk).update(updated_at=old)

    assert idempotency_purge() == 1
    assert IdempotencyRecord.objects.count() == 2  # the recent answer and the stuck one
    assert IdempotencyRecord.objects.filter(pk=stuck.pk).exists()  # still processing: kept
    # The forgotten key is a new request now: it tops up again.
    again = client.post("/api/wallet/topup", body, format="json", **headers)
    assert again.status_code == 200 and "Idempotent-Replayed" not in again
    assert balance_of(client.user) == 3_000
    assert_invariants()


def test_same_key_with_another_body_is_409(auth_client):
    client = auth_client()
    card = bind_via_api(client)
    headers = key()
    client.post(
        "/api/wallet/topup",
        {"card_id": card["id"], "amount_fen": 1_000, "pin": PIN},
        format="json",
        **headers,
    )
    clash = client.post(
        "/api/wallet/topup",
        {"card_id": card["id"], "amount_fen": 2_000, "pin": PIN},
        format="json",
        **headers,
    )
    assert clash.status_code == 409 and clash.json()["code"] == "idempotency_mismatch"
    assert balance_of(client.user) == 1_000


@pytest.mark.parametrize("header", [None, "", "k" * 65])
def test_money_requests_need_a_valid_idempotency_key(auth_client, header):
    client = auth_client()
    card = bind_via_api(client)
    extra = {} if header is None else {"HTTP_IDEMPOTENCY_KEY": header}
    response = client.post(
        "/api/wallet/topup",
        {"card_id": card["id"], "amount_fen": 100, "pin": PIN},
        format="json",
        **extra,
    )
    assert response.status_code == 400 and response.json()["code"] == "idempotency_key_required"
    assert balance_of(client.user) == 0


def test_a_validation_error_releases_the_key(auth_client):
    client = auth_client()
    card = bind_via_api(client)
    headers = key()
    bad = client.post(
        "/api/wallet/topup",
        {"card_id": card["id"], "amount_fen": -1, "pin": PIN},
        format="json",
        **headers,
    )
    assert bad.status_code == 400
    good = client.post(
        "/api/wallet/topup",
        {"card_id": card["id"], "amount_fen": 1, "pin": PIN},
        format="json",
        **headers,
    )
    assert good.status_code == 200


@pytest.mark.parametrize(
    ("amount", "field"),
    [
        (None, "amount_fen"),
        (0, "amount_fen"),
        (-100, "amount_fen"),
        (12.5, "amount_fen"),
        (100.0, "amount_fen"),
        ("100", "amount_fen"),
        (True, "amount_fen"),
        (10**15, "amount_fen"),
        ([], "amount_fen"),
    ],
)
@pytest.mark.parametrize("path", ["/api/wallet/topup", "/api/wallet/withdraw"])
def test_bad_amounts_are_400_and_change_nothing(auth_client, fund, amount, field, path):
    client = auth_client()
    fund(client.user, 5_000)
    card = BankCard.objects.get(user=client.user)
    payload = {"card_id": card.pk, "pin": PIN}
    if amount is not None:
        payload["amount_fen"] = amount
    response = client.post(path, payload, format="json", **key())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and field in body["fields"] and body["message"]
    assert balance_of(client.user) == 5_000
    assert_invariants()


def test_transfer_bad_input(auth_client, fund, make_user):
    client = auth_client()
    fund(client.user, 5_000)
    other = make_user()
    cases = [
        ({"to_user_id": 999_999, "amount_fen": 100, "pin": PIN}, 400, "to_user_id"),
        ({"to_user_id": "abc", "amount_fen": 100, "pin": PIN}, 400, "to_user_id"),
        ({"to_user_id": client.user.pk, "amount_fen": 100, "pin": PIN}, 400, "to_user_id"),
        ({"to_user_id": other.pk, "amount_fen": 0, "pin": PIN}, 400, "amount_fen"),
        ({"to_user_id": other.pk, "amount_fen": 100, "pin": PIN, "note": "x" * 500}, 400, "note"),
    ]
    for payload, status, field in cases:
        response = client.post("/api/wallet/transfer", payload, format="json", **key())
        assert response.status_code == status, payload
        assert field in response.json()["fields"], payload
    assert balance_of(client.user) == 5_000 and balance_of(other) == 0
    assert_invariants()


def test_another_users_card_is_not_found(auth_client, fund):
    owner, thief = auth_client(), auth_client()
    fund(owner.user, 1_000)
    card = BankCard.objects.get(user=owner.user)
    bind_via_api(thief)
    for path in ("/api/wallet/topup", "/api/wallet/withdraw"):
        response = thief.post(
            path, {"card_id": card.pk, "amount_fen": 100, "pin": PIN}, format="json", **key()
        )
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert thief.delete(f"/api/cards/{card.pk}").status_code == 404
    assert BankCard.objects.get(pk=card.pk).is_active
    assert balance_of(owner.user) == 1_000 and balance_of(thief.user) == 0


def test_payment_refusals_are_422(auth_client, make_user):
    client = auth_client()
    card = bind_via_api(client)
    friend = make_user()
    cases = [
        (
            "/api/wallet/transfer",
            {"to_user_id": friend.pk, "amount_fen": 1, "pin": PIN},
            "insufficient_balance",
        ),
        (
            "/api/wallet/withdraw",
            {"card_id": card["id"], "amount_fen": 1, "pin": PIN},
            "insufficient_balance",
        ),
        ("/api/wallet/topup", {"card_id": card["id"], "amount_fen": 1}, "pin_required"),
        (
            "/api/wallet/topup",
            {"card_id": card["id"], "amount_fen": 1, "pin": "000000"},
            "wrong_pin",
        ),
    ]
    for path, payload, code in cases:
        response = client.post(path, payload, format="json", **key())
        assert response.status_code == 422, (path, response.json())
        assert response.json()["code"] == code
    assert balance_of(client.user) == 0 and balance_of(friend) == 0


@pytest.mark.parametrize(
    ("number", "code"),
    [("4000000000000002", "card_declined"), ("4000000000009995", "insufficient_funds")],
)
def test_refusing_sandbox_cards_are_422(auth_client, number, code):
    client = auth_client()
    card = bind_via_api(client, number=number)
    response = client.post(
        "/api/wallet/topup",
        {"card_id": card["id"], "amount_fen": 100, "pin": PIN},
        format="json",
        **key(),
    )
    assert response.status_code == 422 and response.json()["code"] == code
    assert balance_of(client.user) == 0
    assert_invariants()


def test_pin_lock_is_422_pin_locked_and_reported_in_wallet(auth_client):
    client = auth_client()
    card = bind_via_api(client)
    codes = []
    for _ in range(6):
        response = client.post(
            "/api/wallet/topup",
            {"card_id": card["id"], "amount_fen": 100, "pin": "000000"},
            format="json",
            **key(),
        )
        codes.append(response.json()["code"])
    assert codes == ["wrong_pin"] * 4 + ["pin_locked"] * 2
    assert response.json()["message"] == "支付密码错误次数过多，请3小时后再试"
    assert client.get("/api/wallet").json()["pin_locked_until"] is not None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (
            {
                "card_number": "4111111111111112",
                "holder_name": "张三",
                "phone": "13800138000",
                "pin": PIN,
            },
            "card_number",
        ),
        (
            {"card_number": "abcd", "holder_name": "张三", "phone": "13800138000", "pin": PIN},
            "card_number",
        ),
        ({"card_number": GOOD_CARD, "holder_name": "张三", "phone": "12345", "pin": PIN}, "phone"),
        (
            {"card_number": GOOD_CARD, "holder_name": " ", "phone": "13800138000", "pin": PIN},
            "holder_name",
        ),
        ({"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000"}, "pin"),
        (
            {
                "card_number": GOOD_CARD,
                "holder_name": "张三",
                "phone": "13800138000",
                "pin": "12ab56",
            },
            "pin",
        ),
        (
            {
                "card_number": GOOD_CARD,
                "holder_name": "张三",
                "phone": "13800138000",
                "pin": "1234567",
            },
            "pin",
        ),
        ({}, "card_number"),
    ],
)
def test_bad_card_binding_is_400(auth_client, payload, field):
    client = auth_client()
    response = client.post("/api/cards", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not BankCard.objects.exists() and not PaymentPin.objects.exists()


def test_wrong_sms_code_then_void(auth_client):
    client = auth_client()
    started = client.post(
        "/api/cards",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000", "pin": PIN},
        format="json",
    ).json()
    wrong = "000000" if started["sandbox_sms_code"] != "000000" else "111111"
    codes = [
        client.post(
            f"/api/cards/{started['binding_id']}/verify", {"code": wrong}, format="json"
        ).json()["code"]
        for _ in range(6)
    ]
    assert codes == ["wrong_code"] * 4 + ["binding_void"] * 2
    assert not BankCard.objects.exists()


def test_someone_elses_binding_is_not_found(auth_client):
    owner, other = auth_client(), auth_client()
    started = owner.post(
        "/api/cards",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000", "pin": PIN},
        format="json",
    ).json()
    response = other.post(
        f"/api/cards/{started['binding_id']}/verify",
        {"code": started["sandbox_sms_code"]},
        format="json",
    )
    assert response.status_code == 404
    bogus = other.post("/api/cards/not-a-uuid/verify", {"code": "1"}, format="json")
    assert bogus.status_code == 404 and bogus.json()["code"] == "not_found"


def test_remove_card(auth_client):
    client = auth_client()
    card = bind_via_api(client)
    assert client.delete(f"/api/cards/{card['id']}").status_code == 204
    assert client.get("/api/wallet").json()["cards"] == []
    assert client.delete(f"/api/cards/{card['id']}").status_code == 404


def test_sandbox_code_is_hidden_outside_the_sandbox(auth_client, settings):
    settings.PAYMENTS_SANDBOX = False
    client = auth_client()
    body = client.post(
        "/api/cards",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000", "pin": PIN},
        format="json",
    ).json()
    assert "sandbox_sms_code" not in body and body["status"] == "sms_sent"


def test_wallet_endpoints_need_auth(api_client):
    for method, path in [
        ("get", "/api/wallet"),
        ("post", "/api/wallet/topup"),
        ("post", "/api/wallet/withdraw"),
        ("post", "/api/wallet/transfer"),
        ("get", "/api/wallet/ledger"),
        ("post", "/api/cards"),
    ]:
        response = getattr(api_client, method)(path, {}, format="json")
        assert response.status_code == 401, path
        assert response.json()["code"] == "not_authenticated"


def test_user_without_a_card_pays_from_change_without_a_pin(auth_client, make_user, fund):
    from wallet import services

    client = auth_client()
    donor, friend = make_user(), make_user()
    fund(donor, 300)
    services.wallet_transfer(
        sender=donor, recipient=client.user, amount_fen=300, request_key="gift"
    )
    response = client.post(
        "/api/wallet/transfer", {"to_user_id": friend.pk, "amount_fen": 300}, format="json", **key()
    )
    assert response.status_code == 200 and response.json() == {"balance_fen": 0}
    assert balance_of(friend) == 300
    assert_invariants()
