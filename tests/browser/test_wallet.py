import pytest
from playwright.sync_api import expect

from tests.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def test_bind_a_card_top_up_and_see_the_balance(live_asgi, new_page, make_user):
    make_user("walleter")
    page = new_page(live_asgi)
    log_in(page, "walleter")
    page.get_by_role("link", name="钱包").click()
    expect(page.get_by_test_id("balance")).to_have_text("¥0.00")
    page.get_by_role("link", name="添加银行卡").click()
    page.get_by_label("卡号").fill("4111 1111 1111 1111")
    page.get_by_label("持卡人").fill("张三")
    page.get_by_label("银行预留手机号").fill("13800138000")
    page.get_by_label("设置6位支付密码").fill("123456")
    screenshot(page, "wallet-bind-card")
    page.get_by_role("button", name="下一步").click()
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
