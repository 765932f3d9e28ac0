"""摇一摇 in a real browser: the desktop button shakes, the answer and the remaining count
show."""

import pytest

from tests.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def test_the_desktop_button_shakes_and_shows_the_answer(
    live_asgi, new_page, make_user, make_campaign
):
    from playwright.sync_api import expect

    make_campaign(name="春晚摇一摇", budget_fen=200_000, count=300, greeting="新春快乐")
    make_user("shaker-browser", display_name="摇摇")
    page = new_page(live_asgi)
    log_in(page, "shaker-browser")
    page.get_by_role("link", name="摇一摇").click()
    page.wait_for_url("**/shake/")
    screenshot(page, "shake-list")
    page.get_by_role("link", name="春晚摇一摇").click()
    expect(page.get_by_test_id("remaining")).to_have_text("300")

    page.get_by_role("button", name="摇一摇", exact=True).click()
    win = page.get_by_test_id("shake-win")
    expect(win).to_be_visible()
    expect(win).to_contain_text("入账中…")  # credited asynchronously: the result page tells
    expect(win).to_contain_text("新春快乐")
    expect(win).to_contain_text("¥")
    screenshot(page, "shake")

    # The cap of one win each: the next shakes do not win; the page says so, and after a
    # few shakes it asks for the remaining count again.
    for _ in range(4):
        page.get_by_role("button", name="摇一摇", exact=True).click()
        expect(page.get_by_test_id("shake-miss")).to_be_visible()
        expect(page.get_by_role("button", name="摇一摇", exact=True)).to_be_enabled()
    expect(page.get_by_test_id("remaining")).to_have_text("300")  # cached: a 1% step is 3


def test_no_luck_reads_shake_again(live_asgi, new_page, make_user, make_campaign):
    from playwright.sync_api import expect

    campaign = make_campaign(name="手气活动", win_chance_ppm=1)
    make_user("unlucky-browser")
    page = new_page(live_asgi)
    log_in(page, "unlucky-browser")
    page.goto(f"/shake/{campaign.pk}/")
    page.get_by_role("button", name="摇一摇", exact=True).click()
    expect(page.get_by_test_id("shake-miss")).to_have_text("没摇到，再摇一次")
    screenshot(page, "shake-no-luck")
