"""The send page's kind switch in a real browser: with the field being left empty, the
other kind's amount is emptied too, never left holding a stale value (SPEC §4 Send page:
the switch carries over what was typed, and only that)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from redpacket.packets.models import Packet
from tests.browser.test_packets import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_switching_with_an_empty_amount_leaves_no_stale_value(live_asgi, new_page, group):
    room, users = group(5)
    page = new_page(live_asgi)
    log_in(page, users[0], live_asgi)
    page.goto(f"/packets/send/{room.pk}/")
    page.get_by_label("红包个数").fill("5")
    page.get_by_label("总金额").fill("10.00")
    page.get_by_role("button", name="改为普通红包").click()
    expect(page.get_by_label("单个金额")).to_have_value("2.00")
    page.get_by_role("button", name="改为拼手气红包").click()
    expect(page.get_by_label("总金额")).to_have_value("10.00")

    # The total is emptied: switching now carries nothing, so 单个金额 is empty too.
    page.get_by_label("总金额").fill("")
    page.get_by_role("button", name="改为普通红包").click()
    expect(page.get_by_label("单个金额")).to_have_value("")
    expect(page.locator("#send-total")).to_have_text("0.00")
    # And back: 单个金额 empty → 总金额 empty, not the 10.00 typed before.
    page.get_by_role("button", name="改为拼手气红包").click()
    expect(page.get_by_label("总金额")).to_have_value("")
    expect(page.get_by_role("button", name="塞钱进红包", exact=True)).to_be_disabled()
    assert not Packet.objects.exists()
