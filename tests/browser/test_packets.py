"""Red packets in real browsers (Debian's chromium): the send page's switch and inline
errors, then the whole story in one group room — send through the pay sheet and the PIN
pad, the bubble arrives live, 开, the result, 我的红包, the sender's notices and the
bubble turning 已被领完 — and the same pages in English."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from redpacket.packets import services
from redpacket.packets.models import Packet
from tests.conftest import screenshot
from tests.invariants import assert_invariants
from wallet.crediting import credits_drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, user, base_url):
    """A session for `user` in this page's browser context (the login form has its own
    browser test; skipping it keeps these fast)."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def open_room(page, room):
    page.goto(f"/chat/rooms/{room.pk}/")
    page.wait_for_function("() => window.RPChat && window.RPChat.connected === true")


def bubble(page, greeting):
    return page.locator("#chat-messages .packet-bubble").filter(has_text=greeting)


def test_the_switch_keeps_input_and_errors_show_inline(live_asgi, new_page, group):
    room, users = group(5)
    page = new_page(live_asgi)
    log_in(page, users[0], live_asgi)
    page.goto(f"/packets/send/{room.pk}/")
    expect(page.get_by_text("本群共5人")).to_be_visible()
    pay = page.get_by_role("button", name="塞钱进红包", exact=True)
    expect(pay).to_be_disabled()

    page.get_by_label("红包个数").fill("5")
    page.get_by_label("总金额").fill("10.00")
    expect(page.locator("#send-total")).to_have_text("10.00")
    expect(pay).to_be_enabled()
    page.get_by_role("button", name="改为普通红包").click()
    expect(page.get_by_label("单个金额")).to_have_value("2.00")
    expect(page.get_by_label("红包个数")).to_have_value("5")
    expect(page.locator("#send-total")).to_have_text("10.00")
    page.get_by_label("单个金额").fill("2.50")
    expect(page.locator("#send-total")).to_have_text("12.50")
    page.get_by_role("button", name="改为拼手气红包").click()
    expect(page.get_by_label("总金额")).to_have_value("12.50")
    page.get_by_label("单个金额").is_hidden()

    # Over the limit: the server's own text, before paying, and the button stays off.
    page.get_by_label("红包个数").fill("1")
    page.get_by_label("总金额").fill("201")
    expect(page.get_by_role("alert").filter(has_text="单个红包金额不可超过200元")).to_be_visible()
    expect(pay).to_be_disabled()
    page.get_by_label("红包个数").fill("6")
    expect(page.get_by_role("alert").filter(has_text="红包个数不可超过群人数")).to_be_visible()
    page.get_by_label("红包个数").fill("2")
    page.get_by_label("总金额").fill("6.66")
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(pay).to_be_enabled()
    screenshot(page, "packet-send")
    assert not Packet.objects.exists()


def test_send_grab_open_result_records_and_notices(live_asgi, new_page, group):
    room, (alice, bob, carol) = group(3)
    alice_page, bob_page = new_page(live_asgi), new_page(live_asgi)
    log_in(alice_page, alice, live_asgi)
    log_in(bob_page, bob, live_asgi)
    open_room(bob_page, room)
    open_room(alice_page, room)

    # Alice: "+" → 红包 → the send page; a double tap opens one sheet, one payment.
    alice_page.get_by_role("button", name="更多功能").click()
    alice_page.get_by_role("menuitem", name="红包").click()
    alice_page.wait_for_url(f"**/packets/send/{room.pk}/")
    alice_page.get_by_label("红包个数").fill("2")
    alice_page.get_by_label("总金额").fill("3.00")
    alice_page.get_by_label("祝福语").fill("新春大吉")
    alice_page.get_by_role("button", name="塞钱进红包", exact=True).dblclick()
    sheet = alice_page.get_by_role("dialog")
    expect(sheet).to_have_count(1)
    expect(sheet.get_by_text("¥3.00")).to_be_visible()
    expect(sheet.get_by_text("零钱（剩余¥1000.00）")).to_be_visible()
    alice_page.wait_for_timeout(300)  # let the sheet finish sliding in
    screenshot(alice_page, "packet-pay-sheet")
    sheet.get_by_role("button", name="立即支付").click()
    pinpad = alice_page.locator(".pinpad")
    expect(pinpad.get_by_text("请输入支付密码")).to_be_visible()
    for digit in "123456":
        pinpad.get_by_role("button", name=digit, exact=True).click()
    alice_page.wait_for_url(f"**/chat/rooms/{room.pk}/")
    expect(bubble(alice_page, "新春大吉")).to_be_visible()
    assert Packet.objects.count() == 1

    # Bob sees the bubble without a reload, taps it: the overlay with 开.
    expect(bubble(bob_page, "新春大吉")).to_be_visible(timeout=5000)
    expect(bubble(bob_page, "新春大吉")).to_contain_text("微信红包")
    bubble(bob_page, "新春大吉").click()
    overlay = bob_page.get_by_role("dialog")
    expect(overlay.get_by_text(f"{alice.name}的红包")).to_be_visible()
    expect(overlay.get_by_text("发了一个红包，金额随机")).to_be_visible()
    expect(overlay.get_by_role("link", name="看看大家的手气")).to_be_visible()
    open_button = overlay.get_by_role("button", name="开红包")
    expect(open_button).to_be_focused()
    bob_page.wait_for_timeout(300)  # let the card finish its pop-in
    screenshot(bob_page, "packet-open")
    open_button.click()
    bob_page.wait_for_url(re.compile(r"/packets/\d+/result/"))
    expect(bob_page.get_by_test_id("my-amount")).to_contain_text("元")
    claim = Packet.objects.get().claims.get(user=bob)
    if claim.credit_status == "pending":  # no eager Celery: the worker's part, then live
        services.claim_credit(claim_id=claim.pk)
    expect(bob_page.get_by_test_id("credit-line")).to_have_text(re.compile("^已存入零钱，可用于"))
    expect(bob_page.get_by_test_id("summary")).to_have_text("领取1/2个")
    screenshot(bob_page, "packet-result")

    # Alice hears about it in the room.
    expect(
        alice_page.locator(".notice").filter(has_text=f"{bob.name}领取了你的红包")
    ).to_be_visible(timeout=5000)

    # Bob's records show it; back in the room his bubble reads 已领取.
    bob_page.get_by_role("link", name="查看我的红包记录").click()
    bob_page.wait_for_url("**/packets/mine/")
    expect(bob_page.get_by_test_id("records-count")).to_have_text("1")
    amount = Packet.objects.get().claims.get(user=bob).amount_fen
    expect(bob_page.get_by_test_id("records-total")).to_have_text(
        f"{amount // 100}.{amount % 100:02d}元"
    )
    screenshot(bob_page, "packets-mine")
    open_room(bob_page, room)
    expect(bubble(bob_page, "新春大吉")).to_contain_text("已领取")

    # Carol takes the last share: Alice's bubble turns 已被领完, with the last notice.
    carol_page = new_page(live_asgi)
    log_in(carol_page, carol, live_asgi)
    open_room(carol_page, room)
    bubble(carol_page, "新春大吉").click()
    carol_page.get_by_role("dialog").get_by_role("button", name="开红包").click()
    carol_page.wait_for_url(re.compile(r"/packets/\d+/result/"))
    expect(carol_page.get_by_test_id("summary")).to_have_text(re.compile(r"^2个红包，\d+秒被抢光$"))
    expect(carol_page.get_by_test_id("best-luck")).to_have_count(1)
    expect(bubble(alice_page, "新春大吉")).to_contain_text("已被领完", timeout=5000)
    credits_drain()  # no eager Celery: the worker's part (the sender's notices come with it)
    expect(alice_page.locator(".notice").filter(has_text="你的红包已被领完")).to_be_visible()
    screenshot(alice_page, "chat-packet-bubbles")
    assert Packet.objects.get().status == "finished"
    assert_invariants()


def test_a_late_open_switches_the_overlay_to_the_finished_card(live_asgi, new_page, group, send):
    from redpacket.packets import services

    room, (alice, bob, carol) = group(3)
    packet = send(alice, room, count=1, total_fen=100, greeting="手快有手慢无")
    page = new_page(live_asgi)
    log_in(page, bob, live_asgi)
    open_room(page, room)
    bubble(page, "手快有手慢无").click()
    expect(page.get_by_role("dialog").get_by_role("button", name="开红包")).to_be_visible()
    services.packet_open(user=carol, packet_id=packet.pk)  # while Bob's card is open
    page.get_by_role("dialog").get_by_role("button", name="开红包").click()
    expect(page.get_by_role("dialog").get_by_text("手慢了，红包派完了")).to_be_visible()
    expect(page.get_by_role("dialog").get_by_role("link", name="看看大家的手气")).to_be_visible()
    expect(bubble(page, "手快有手慢无")).to_contain_text("已被领完")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)

    # A packet message without the per-viewer summary still draws, as an active packet.
    state, text = page.evaluate(
        """() => {
          const node = RPChat.renderers.packet({id: 999999, room_id: RPChat.room.id,
            kind: "packet", text: "没有摘要", packet_id: 424242, sender: RPChat.me,
            created_at: new Date().toISOString()}, {frame: RPChat.frame});
          return [node.querySelector(".packet-bubble").dataset.packetState, node.textContent];
        }"""
    )
    assert state == "active" and "没有摘要" in text and "微信红包" in text
    assert "已领取" not in text


def test_the_pages_in_english(live_asgi, new_page, group, send):
    room, (alice, bob, _carol) = group(3)
    packet = send(alice, room, count=2, total_fen=600, greeting="Happy new year")
    page = new_page(live_asgi)
    log_in(page, bob, live_asgi)
    page.goto("/chat/")
    page.get_by_text("我", exact=True).click()
    page.get_by_label("语言").select_option("en")
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="Wallet")).to_be_visible()

    open_room(page, room)
    expect(bubble(page, "Happy new year")).to_contain_text("Red Packet")
    bubble(page, "Happy new year").click()
    overlay = page.get_by_role("dialog")
    expect(overlay.get_by_text(f"Red packet from {alice.name}")).to_be_visible()
    expect(overlay.get_by_text("sent a red packet with random amounts")).to_be_visible()
    overlay.get_by_role("button", name="Open the red packet").click()
    page.wait_for_url(re.compile(r"/packets/\d+/result/"))
    expect(page.get_by_test_id("summary")).to_have_text("1/2 opened")
    claim = packet.claims.get(user=bob)
    if claim.credit_status == "pending":  # no eager Celery: the worker's part, then live
        expect(page.get_by_test_id("credit-line")).to_have_text("Crediting…")
        services.claim_credit(claim_id=claim.pk)
    expect(page.get_by_test_id("credit-line")).to_have_text(
        re.compile("^Added to your balance, ready to ")
    )
    expect(page.get_by_role("link", name="View my red packet records")).to_be_visible()
    screenshot(page, "packet-result-en")

    page.goto(f"/packets/send/{room.pk}/")
    expect(page.get_by_text("3 members in this group")).to_be_visible()
    page.get_by_label("Number of packets").fill("1")
    page.get_by_label("Total amount").fill("201")
    expect(page.get_by_role("alert")).to_have_text("A single packet cannot exceed 200 yuan")
    expect(page.get_by_role("button", name="Put money in the packet", exact=True)).to_be_disabled()
    page.get_by_role("button", name="Switch to a normal packet").click()
    expect(page.get_by_label("Amount each")).to_have_value("201.00")
    screenshot(page, "packet-send-en")
    assert packet.pk
