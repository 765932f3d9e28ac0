"""A shake win in a real browser is a packet of the user's like any other: shake and win
(the page says "入账中…", never "已存入零钱" before the credit), find it in 我的红包 listed
and counted, open its result page, and watch the credit line turn when the credit lands."""

from __future__ import annotations

import re

import pytest

from tests.conftest import log_in, screenshot
from tests.invariants import assert_invariants

pytestmark = pytest.mark.browser


def test_a_win_is_listed_counted_and_has_its_result_page(
    live_asgi, new_page, make_user, sponsor, make_campaign, credit_pending, monkeypatch
):
    from playwright.sync_api import expect

    from wallet import crediting

    # Hold the credit back (no worker): the pending state is what this flow shows first.
    held: list[int] = []
    monkeypatch.setattr(crediting, "credit_wake", lambda: held.append(1))

    sponsor.display_name = "春晚赞助"
    sponsor.save(update_fields=["display_name"])
    campaign = make_campaign(name="春晚摇一摇", greeting="新春快乐", count=300, budget_fen=200_000)
    make_user("shake-winner", display_name="摇摇")
    page = new_page(live_asgi)
    log_in(page, "shake-winner")

    page.goto(f"/shake/{campaign.pk}/")
    page.get_by_role("button", name="摇一摇", exact=True).click()
    win = page.get_by_test_id("shake-win")
    expect(win).to_contain_text("春晚赞助的红包")
    expect(win).to_contain_text("新春快乐")
    expect(page.get_by_test_id("shake-credit")).to_have_text("入账中…")
    expect(win).not_to_contain_text("已存入零钱")
    amount = win.locator(".shake-packet-amount").inner_text()
    assert re.fullmatch(r"¥\d+\.\d\d", amount), amount
    yuan = amount[1:]
    screenshot(page, "shake-win-won")
    assert len(held) == 1

    # 我的红包: the win is listed (sponsor, amount) and counted in the totals.
    page.goto("/packets/mine/")
    expect(page.get_by_test_id("records-count")).to_have_text("1")
    expect(page.get_by_test_id("records-total")).to_have_text(f"{yuan}元")
    row = page.locator('a.record[data-source="shake"]')
    expect(row).to_have_count(1)
    expect(row).to_contain_text("春晚赞助")
    expect(row).to_contain_text(f"{yuan}元")
    screenshot(page, "shake-win-records")

    # Its result page: sponsor, greeting, amount; "入账中…" until the credit lands.
    row.click()
    page.wait_for_url(re.compile(r"/shake/wins/\d+/"))
    expect(page.get_by_test_id("win-title")).to_contain_text("春晚赞助的红包")
    expect(page.get_by_test_id("win-greeting")).to_have_text("新春快乐")
    expect(page.get_by_test_id("my-amount")).to_have_text(f"{yuan}元")
    expect(page.get_by_test_id("credit-line")).to_have_text("入账中…")
    screenshot(page, "shake-win-pending")

    assert credit_pending() == 1
    # No reload: the page sees the credit and switches its line.
    expect(page.get_by_test_id("credit-line")).to_have_text(
        re.compile("^已存入零钱，可用于"), timeout=8000
    )
    screenshot(page, "shake-win-result")
    page.get_by_role("link", name="‹").or_(page.locator(".topbar-back")).first.click()
    page.wait_for_url("**/packets/mine/**")
    assert_invariants()
