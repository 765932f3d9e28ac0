"""SPEC §4 Paying in a real browser: a sender whose change is short and who has no card
types a packet, the pay sheet flags the short change before any PIN and offers
添加银行卡, the card is bound inside the flow (number → 下一步 → name, phone, SMS code),
the sheet comes back with the packet as typed, one PIN pays it with the new card."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from redpacket.packets.models import Packet
from tests.conftest import screenshot
from tests.invariants import assert_invariants
from wallet.models import BankCard, BankOperation
from wallet.selectors import balance_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, user, base_url):
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


def test_first_payment_binds_a_card_in_the_flow_and_keeps_the_packet(
    live_asgi, new_page, make_user, fund
):
    from chat import services as chat_services
    from wallet import services as wallet_services

    sender, friend, other = make_user(), make_user(), make_user()
    fund(friend, 10_000)
    wallet_services.wallet_transfer(
        sender=friend, recipient=sender, amount_fen=100, request_key="gift"
    )
    room = chat_services.room_create_group(
        creator=sender, name="付款群", member_ids=[friend.pk, other.pk]
    )
    page = new_page(live_asgi)
    log_in(page, sender, live_asgi)
    page.goto(f"/chat/rooms/{room.pk}/")
    page.wait_for_function("() => window.RPChat && window.RPChat.connected === true")
    page.get_by_role("button", name="更多功能").click()
    page.get_by_role("menuitem", name="红包").click()
    page.wait_for_url(f"**/packets/send/{room.pk}/")
    page.get_by_label("红包个数").fill("2")
    page.get_by_label("总金额").fill("5.00")
    page.get_by_label("祝福语").fill("绑卡也不丢")
    page.get_by_role("button", name="塞钱进红包", exact=True).click()

    # The sheet knows the balance: 零钱 is flagged short and cannot be chosen; no PIN yet.
    sheet = page.locator("#pay-sheet")
    expect(sheet.get_by_text("¥5.00")).to_be_visible()
    expect(sheet.get_by_text("零钱（剩余¥1.00）")).to_be_visible()
    expect(sheet.locator("[data-pay-short]")).to_have_text("零钱余额不足")
    expect(sheet.get_by_role("radio", name="零钱（剩余¥1.00）", exact=False)).to_be_disabled()
    expect(sheet.get_by_role("alert")).to_have_text("零钱余额不足，请添加银行卡")
    expect(sheet.get_by_role("button", name="使用零钱支付")).to_be_disabled()
    expect(page.locator(".pinpad")).to_have_count(0)
    page.wait_for_timeout(300)  # let the sheet finish sliding in
    screenshot(page, "pay-sheet-short")

    # 添加银行卡, inside the flow: the card number, 下一步, then name, phone and new PIN.
    sheet.get_by_role("button", name="添加银行卡").click()
    page.wait_for_url("**/wallet/cards/add/?next=*")
    expect(page.get_by_label("持卡人")).to_have_count(0)
    page.get_by_label("卡号").fill("4111 1111 1111 1111")
    screenshot(page, "pay-bind-number")
    page.get_by_role("button", name="下一步").click()
    expect(page.get_by_test_id("card-last4")).to_have_text("卡号尾号1111")
    page.get_by_label("持卡人").fill("张三")
    page.get_by_label("银行预留手机号").fill("13800138000")
    page.get_by_label("设置6位支付密码").fill("123456")
    screenshot(page, "pay-bind-details")
    page.get_by_role("button", name="获取验证码").click()
    code = page.get_by_test_id("sandbox-code").locator("strong").inner_text()
    page.get_by_label("短信验证码").fill(code)
    screenshot(page, "pay-bind-sms")
    page.get_by_role("button", name="完成").click()

    # Back on the sheet, the packet exactly as typed, the new card chosen.
    page.wait_for_url(f"**/packets/send/{room.pk}/")
    card = BankCard.objects.get(user=sender)
    expect(sheet).to_be_visible()
    expect(page.get_by_label("红包个数")).to_have_value("2")
    expect(page.get_by_label("总金额")).to_have_value("5.00")
    expect(page.get_by_label("祝福语")).to_have_value("绑卡也不丢")
    expect(page.locator("#send-total")).to_have_text("5.00")
    expect(sheet.get_by_text("¥5.00")).to_be_visible()
    expect(sheet.locator(f'input[value="{card.pk}"]')).to_be_checked()
    expect(sheet.get_by_text("1111")).to_be_visible()
    expect(sheet.locator("[data-pay-short]")).to_be_visible()
    expect(page.locator(".pinpad")).to_have_count(0)
    page.wait_for_timeout(300)
    screenshot(page, "pay-sheet-card")

    # One PIN, and the card pays.
    sheet.get_by_role("button", name="立即支付").click()
    pinpad = page.locator(".pinpad")
    expect(pinpad.get_by_text("请输入支付密码")).to_be_visible()
    expect(pinpad.get_by_text("¥5.00")).to_be_visible()
    for digit in "123456":
        pinpad.get_by_role("button", name=digit, exact=True).click()
    page.wait_for_url(f"**/chat/rooms/{room.pk}/")
    bubble = page.locator("#chat-messages .packet-bubble").filter(has_text="绑卡也不丢")
    expect(bubble).to_be_visible()
    screenshot(page, "pay-room")

    packet = Packet.objects.get()
    assert (packet.kind, packet.count, packet.total_fen) == ("lucky", 2, 500)
    assert packet.greeting == "绑卡也不丢" and packet.paid_with_card_id == card.pk
    assert balance_of(sender) == 100  # the short change stayed where it was
    charges = BankOperation.objects.filter(card=card)
    assert [(op.purpose, op.amount_fen, op.state) for op in charges] == [("charge", 500, "ok")]
    page.goto("/wallet/")
    expect(page.get_by_test_id("balance")).to_have_text("¥1.00")
    assert_invariants()
