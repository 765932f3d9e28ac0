import re

import pytest

from tests.invariants import assert_invariants
from tests.wallet.conftest import GOOD_CARD, PIN
from wallet.models import BankCard
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db


def _bind_through_pages(client):
    response = client.post(
        "/wallet/cards/add/",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000", "pin": PIN},
    )
    assert response.status_code == 302, response.content.decode()
    verify_url = response["Location"]
    page = client.get(verify_url).content.decode()
    code = re.search(r'data-testid="sandbox-code">[^<]*<strong>(\d{6})</strong>', page).group(1)
    done = client.post(verify_url, {"code": code})
    assert done.status_code == 302
    return BankCard.objects.get(user__username=client.username)


@pytest.fixture
def page_client(client, make_user):
    user = make_user()
    client.force_login(user)
    client.username = user.username
    client.user = user
    return client


def test_wallet_page_shows_balance_and_cards(page_client, fund):
    fund(page_client.user, 12_345)
    html = page_client.get("/wallet/").content.decode()
    assert "¥123.45" in html
    assert "1111" in html and "4111111111111111" not in html


def test_bind_topup_withdraw_and_transfer_through_pages(page_client, make_user):
    card = _bind_through_pages(page_client)
    form = page_client.get("/wallet/topup/").content.decode()
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', form).group(1)
    payload = {"card_id": card.pk, "amount_fen": "88.80", "pin": PIN, "idempotency_key": key}
    assert page_client.post("/wallet/topup/", payload).status_code == 302
    # The same form submitted twice (a double tap) moves money once.
    assert page_client.post("/wallet/topup/", payload).status_code == 302
    assert balance_of(page_client.user) == 8_880

    page_client.post(
        "/wallet/withdraw/",
        {"card_id": card.pk, "amount_fen": "0.80", "pin": PIN, "idempotency_key": "w1"},
    )
    friend = make_user("friend-page")
    page_client.post(
        "/wallet/transfer/",
        {"recipient": "friend-page", "amount_fen": "8", "pin": PIN, "idempotency_key": "t1"},
    )
    assert balance_of(page_client.user) == 8_000 and balance_of(friend) == 800
    ledger = page_client.get("/wallet/ledger/").content.decode()
    assert "充值" in ledger and "提现" in ledger and "转账" in ledger
    assert_invariants()


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "必填项"),
        ("abc", "请输入正确的金额"),
        ("1.234", "请输入正确的金额"),
        ("0", "金额不能低于"),
        ("-5", "请输入正确的金额"),
        ("99999999", "金额不能超过"),
    ],
)
def test_topup_form_errors(page_client, amount, message):
    card = _bind_through_pages(page_client)
    response = page_client.post(
        "/wallet/topup/",
        {"card_id": card.pk, "amount_fen": amount, "pin": PIN, "idempotency_key": "k"},
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert balance_of(page_client.user) == 0


def test_payment_refusals_show_as_form_errors(page_client, make_user):
    card = _bind_through_pages(page_client)
    wrong_pin = page_client.post(
        "/wallet/topup/",
        {"card_id": card.pk, "amount_fen": "1", "pin": "000000", "idempotency_key": "a"},
    )
    assert "支付密码错误" in wrong_pin.content.decode()
    short = page_client.post(
        "/wallet/withdraw/",
        {"card_id": card.pk, "amount_fen": "1", "pin": PIN, "idempotency_key": "b"},
    )
    assert "零钱余额不足" in short.content.decode()
    # A transfer over the balance is refused before its recipient is looked up: fund it.
    page_client.post(
        "/wallet/topup/",
        {"card_id": card.pk, "amount_fen": "1", "pin": PIN, "idempotency_key": "d"},
    )
    nobody = page_client.post(
        "/wallet/transfer/",
        {"recipient": "no-such-user", "amount_fen": "1", "pin": PIN, "idempotency_key": "c"},
    )
    assert "收款人不存在" in nobody.content.decode()


def test_bad_card_number_is_a_form_error(page_client):
    response = page_client.post(
        "/wallet/cards/add/",
        {"card_number": "1234", "holder_name": "张三", "phone": "13800138000", "pin": PIN},
    )
    assert response.status_code == 200 and "卡号无效" in response.content.decode()
    assert not BankCard.objects.exists()


def test_someone_elses_binding_page_is_404(page_client, make_user, client):
    from wallet import services

    other = make_user()
    binding, _ = services.card_bind_start(
        user=other, card_number=GOOD_CARD, holder_name="他", phone="13800138000", pin=PIN
    )
    assert page_client.get(f"/wallet/cards/bind/{binding.pk}/").status_code == 404


def test_card_binding_is_split_at_next_step(page_client):
    step1 = page_client.get("/wallet/cards/add/").content.decode()
    assert 'name="card_number"' in step1 and 'name="holder_name"' not in step1
    bad = page_client.post("/wallet/cards/add/", {"card_number": "4111111111111112"})
    assert 'name="holder_name"' not in bad.content.decode()
    assert "卡号无效" in bad.content.decode()
    step2 = page_client.post("/wallet/cards/add/", {"card_number": GOOD_CARD}).content.decode()
    assert 'name="holder_name"' in step2 and 'name="phone"' in step2
    assert "设置6位支付密码" in step2 and "获取验证码" in step2
    # A step-2 post whose hidden number was tampered with goes back to step 1.
    tampered = page_client.post(
        "/wallet/cards/add/",
        {"card_number": "1234", "holder_name": "张三", "phone": "13800138000", "pin": PIN},
    ).content.decode()
    assert "卡号无效" in tampered and 'name="holder_name"' not in tampered
    # Step 2's own errors stay on step 2.
    no_phone = page_client.post(
        "/wallet/cards/add/",
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "123", "pin": PIN},
    ).content.decode()
    assert "请输入银行预留的11位手机号" in no_phone and 'name="holder_name"' in no_phone
    assert not BankCard.objects.exists()


def test_a_withdrawal_over_the_balance_is_a_form_error_before_the_pin(page_client):
    card = _bind_through_pages(page_client)
    page_client.post(
        "/wallet/topup/",
        {"card_id": card.pk, "amount_fen": "10", "pin": PIN, "idempotency_key": "t"},
    )
    form = page_client.get("/wallet/withdraw/").content.decode()
    assert 'data-balance-fen="1000"' in form  # the PIN pad's script checks it first
    over = page_client.post(
        "/wallet/withdraw/",
        {"card_id": card.pk, "amount_fen": "99999", "pin": "", "idempotency_key": "w"},
    ).content.decode()
    assert re.search(r'class="field-error" role="alert">零钱余额不足<', over)
    assert balance_of(page_client.user) == 1_000
    assert "data-balance-fen" not in page_client.get("/wallet/topup/").content.decode()
    assert_invariants()
