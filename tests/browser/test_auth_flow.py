import pytest

from tests.conftest import screenshot

pytestmark = pytest.mark.browser


def test_register_login_and_land_on_room_list(live_asgi, new_page):
    page = new_page(live_asgi)
    page.goto("/accounts/register/")
    page.get_by_label("用户名").fill("browser-user")
    page.get_by_label("昵称").fill("浏览器")
    page.get_by_label("密码").fill("s3cret-enough-pw")
    page.get_by_role("button", name="注册").click()
    page.wait_for_url("**/chat/")

    page.get_by_text("我", exact=True).click()
    page.get_by_role("button", name="退出登录").click()
    page.wait_for_url("**/accounts/login/")

    page.get_by_label("用户名").fill("browser-user")
    page.get_by_label("密码").fill("s3cret-enough-pw")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/chat/")
    assert page.locator("h1").inner_text() == "微信"
    assert page.get_by_text("还没有聊天").is_visible()
    screenshot(page, "rooms-empty")
