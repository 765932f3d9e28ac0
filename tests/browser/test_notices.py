"""服务通知 and the live result page in real browsers (SPEC §4 "Money notices"): money the
server moves while a user sits on another page raises a toast and the wallet badge; the
result page turns "入账中…" into "已存入零钱…" and follows others' opens without a
reload; a page whose socket dropped catches up from the notice list."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from redpacket.packets import services as packets
from redpacket.packets.models import Claim
from tests.conftest import screenshot
from tests.invariants import assert_invariants
from wallet import services as wallet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Counts the page's websocket connections (a room page must not open a second one).
COUNT_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = 0;
  window.WebSocket = function (...args) { window.__sockets += 1; return new Native(...args); };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, { OPEN: 1, CLOSED: 3, CONNECTING: 0, CLOSING: 2 });
})();
"""


def shot(page, name: str) -> None:
    screenshot(page, name, full_page=False)  # the toasts sit over the viewport


def log_in(page, user, base_url):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def live(page):
    page.wait_for_function("() => window.RP && RP.live && RP.live.connected === true")


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@pytest.fixture
def slow_worker(monkeypatch):
    """Credits are queued but not run until the test plays the worker (`credit`)."""
    monkeypatch.setattr("wallet.crediting.credit_wake", lambda: None)

    def credit(user):
        for claim in Claim.objects.filter(user=user, credit_status="pending"):
            assert packets.claim_credit(claim_id=claim.pk)

    return credit


def test_money_moved_by_the_server_toasts_on_another_page_and_counts_on_the_badge(
    live_asgi, new_page, group, send, slow_worker
):
    room, (alice, bob, _carol) = group(3)
    packet = send(alice, room, count=2, total_fen=888, greeting="发财")
    share = packets.packet_open(user=bob, packet_id=packet.pk).amount_fen

    page = new_page(live_asgi)
    page.context.add_init_script(COUNT_SOCKETS)
    log_in(page, bob, live_asgi)
    page.goto("/wallet/notices/")  # the fixture's top-up is seen: no badge
    page.goto("/wallet/")
    live(page)
    badge = page.locator(".tabbar [data-notice-badge]")
    expect(badge).to_be_hidden()

    # Bob's share is credited by the worker while he sits on the wallet page.
    slow_worker(bob)
    toast = page.get_by_test_id("toast").filter(has_text="红包入账")
    expect(toast).to_contain_text(f"+¥{yuan(share)}")
    expect(badge).to_have_text("1")

    # Alice transfers money to him: a second toast, naming her; the badge counts 2.
    wallet.wallet_transfer(sender=alice, recipient=bob, amount_fen=1_234, request_key="gift")
    gift = page.get_by_test_id("toast").filter(has_text="收到转账")
    expect(gift).to_contain_text(alice.display_name)
    expect(gift).to_contain_text("+¥12.34")
    expect(badge).to_have_text("2")
    expect(page.locator("[data-testid=balance]")).to_be_visible()
    shot(page, "notice-toast")
    assert page.evaluate("window.__sockets") == 1

    # The 服务通知 page lists both, newest first, with links; visiting it clears the badge.
    page.get_by_role("link", name=re.compile("^服务通知")).click()
    page.wait_for_url("**/wallet/notices/")
    items = page.locator(".notice-item")
    expect(items.nth(0)).to_contain_text("收到转账")
    expect(items.nth(0)).to_contain_text(f"来自{alice.display_name}")
    expect(items.nth(0)).to_contain_text("+12.34")
    expect(items.nth(1)).to_contain_text("红包入账")
    expect(items.nth(1)).to_contain_text(f"+{yuan(share)}")
    assert items.nth(1).locator("a").get_attribute("href") == f"/packets/{packet.pk}/result/"
    expect(page.locator(".tabbar [data-notice-badge]")).to_be_hidden()
    shot(page, "notice-list")
    assert_invariants()


def test_a_room_page_hears_money_on_its_own_socket(live_asgi, new_page, group):
    room, (alice, bob) = group(2)
    page = new_page(live_asgi)
    page.context.add_init_script(COUNT_SOCKETS)
    log_in(page, bob, live_asgi)
    page.goto(f"/chat/rooms/{room.pk}/")
    page.wait_for_function("() => window.RPChat && window.RPChat.connected === true")
    wallet.wallet_transfer(sender=alice, recipient=bob, amount_fen=66, request_key="red")
    expect(page.get_by_test_id("toast").filter(has_text="收到转账")).to_contain_text("+¥0.66")
    assert page.evaluate("window.__sockets") == 1
    assert_invariants()


def test_a_dropped_socket_catches_up_from_the_notice_list(live_asgi, new_page, make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 10_000)
    page = new_page(live_asgi)
    log_in(page, bob, live_asgi)
    page.goto("/packets/mine/")
    live(page)
    badge = page.locator(".tabbar [data-notice-badge]")
    expect(badge).to_be_hidden()

    # The connection drops and stays down for a moment (the reconnect waits about 3 s).
    page.evaluate("() => { RP.live.backoff = {base: 3000, max: 3000}; RP.live.socket.close(); }")
    page.wait_for_function("() => RP.live.connected === false")
    wallet.wallet_transfer(sender=alice, recipient=bob, amount_fen=4_321, request_key="away")
    page.wait_for_timeout(300)
    expect(page.get_by_test_id("toast")).to_have_count(0)  # nobody was listening

    # Back online: the page asks the list for what it missed.
    live(page)
    toast = page.get_by_test_id("toast").filter(has_text="收到转账")
    expect(toast).to_contain_text("+¥43.21")
    expect(toast).to_have_count(1)
    expect(badge).to_have_text("1")
    shot(page, "notice-caught-up")
    assert_invariants()


def test_the_result_page_goes_live(live_asgi, new_page, group, send, slow_worker):
    room, (alice, bob, carol) = group(3)
    packet = send(alice, room, count=3, total_fen=900, greeting="一起抢")
    share = packets.packet_open(user=bob, packet_id=packet.pk).amount_fen

    page = new_page(live_asgi)
    log_in(page, bob, live_asgi)
    page.goto(f"/packets/{packet.pk}/result/")
    live(page)
    page.evaluate("() => { window.__sameDocument = true; }")
    credit_line = page.get_by_test_id("credit-line")
    expect(credit_line).to_have_text("入账中…")
    expect(page.get_by_test_id("summary")).to_have_text("领取1/3个")
    expect(page.locator(".claim")).to_have_count(1)
    shot(page, "result-live-crediting")

    # Carol opens: her row and the count arrive without a reload.
    packets.packet_open(user=carol, packet_id=packet.pk)
    expect(page.locator(".claim")).to_have_count(2)
    expect(page.locator(".claim-name").filter(has_text=carol.display_name)).to_be_visible()
    expect(page.get_by_test_id("summary")).to_have_text("领取2/3个")
    expect(credit_line).to_have_text("入账中…")

    # The worker credits Bob's share: the line switches, and a toast says so.
    slow_worker(bob)
    expect(page.get_by_test_id("credit-line")).to_have_text(re.compile("^已存入零钱，可用于"))
    expect(page.get_by_test_id("toast").filter(has_text="红包入账")).to_contain_text(
        f"+¥{yuan(share)}"
    )
    expect(page.get_by_test_id("my-amount")).to_contain_text(yuan(share))

    # The last share: the summary turns to the finished line, best luck is marked.
    packets.packet_open(user=alice, packet_id=packet.pk)
    expect(page.get_by_test_id("summary")).to_have_text(re.compile(r"^3个红包，\d+秒被抢光$"))
    expect(page.locator(".claim")).to_have_count(3)
    expect(page.get_by_test_id("best-luck")).to_have_count(1)
    assert page.evaluate("window.__sameDocument") is True
    shot(page, "result-live-credited")
    for user in (carol, alice):
        slow_worker(user)
    assert_invariants()
