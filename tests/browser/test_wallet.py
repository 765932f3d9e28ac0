import re

import pytest
from playwright.sync_api import expect

from tests.conftest import log_in, screenshot
from tests.invariants import assert_invariants
from wallet.selectors import balance_of

pytestmark = pytest.mark.browser


def test_bind_a_card_top_up_and_see_the_balance(live_asgi, new_page, make_user):
    make_user("walleter")
    page = new_page(live_asgi)
    log_in(page, "walleter")
    page.get_by_role("link", name="钱包").click()
    expect(page.get_by_test_id("balance")).to_have_text("¥0.00")
    page.get_by_role("link", name="添加银行卡").click()
    # Split at 下一步 (SPEC §4): the card number first, then who holds it.
    expect(page.get_by_label("持卡人")).to_have_count(0)
    page.get_by_label("卡号").fill("4111 1111 1111 1111")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_test_id("card-last4")).to_have_text("卡号尾号1111")
    page.get_by_label("持卡人").fill("张三")
    page.get_by_label("银行预留手机号").fill("13800138000")
    page.get_by_label("设置6位支付密码").fill("123456")
    screenshot(page, "wallet-bind-card")
    page.get_by_role("button", name="获取验证码").click()
    code = page.get_by_test_id("sandbox-code").locator("strong").inner_text()
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="完成").click()
    page.wait_for_url("**/wallet/")
    expect(page.locator("#cards")).to_contain_text("1111")

    page.get_by_role("link", name="充值").click()
    page.get_by_label("金额（元）").fill("66.60")
    page.get_by_role("button", name="充值").click()
    # The PIN pad asks for the payment PIN.
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("请输入支付密码")).to_be_visible()
    screenshot(page, "wallet-pinpad")
    for digit in "123456":
        dialog.get_by_role("button", name=digit, exact=True).click()
    page.wait_for_url("**/wallet/")
    expect(page.get_by_test_id("balance")).to_have_text("¥66.60")
    screenshot(page, "wallet-home")


def test_a_withdrawal_over_the_balance_never_opens_the_pin_pad(
    live_asgi, new_page, make_user, fund
):
    user = make_user("withdrawer")
    fund(user, 1_000)
    page = new_page(live_asgi)
    log_in(page, "withdrawer")
    page.goto("/wallet/withdraw/")
    page.get_by_label("金额（元）").fill("99999")
    page.get_by_role("button", name="提现").click()
    expect(page.get_by_role("alert").filter(has_text="零钱余额不足")).to_be_visible()
    expect(page.locator(".pinpad")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/wallet/withdraw/$"))
    screenshot(page, "pay-withdraw-over-balance")

    # Within the balance the pad asks for the PIN once and the money goes.
    page.get_by_label("金额（元）").fill("4")
    page.get_by_role("button", name="提现").click()
    pinpad = page.locator(".pinpad")
    expect(pinpad.get_by_text("请输入支付密码")).to_be_visible()
    for digit in "123456":
        pinpad.get_by_role("button", name=digit, exact=True).click()
    page.wait_for_url("**/wallet/")
    expect(page.get_by_test_id("balance")).to_have_text("¥6.00")
    assert balance_of(user) == 600
    assert_invariants()
