"""专属红包 in real browsers (Debian's chromium, 375×812): the sender picks a member on the
send page and pays; the chosen member sees 开 and opens it; another member sees
"专属于{name}的红包" with no 开; the sender waits on the result page, then sees the claim.
Screenshots: exclusive-*.png (docs/screenshots/ holds them: SCREENSHOT_DIR, README)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from redpacket.packets.models import Claim, Packet
from tests.browser.test_packets import bubble, log_in, open_room
from tests.conftest import screenshot
from tests.invariants import assert_invariants

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shot(page, name: str) -> None:
    screenshot(page, name)


def test_an_exclusive_packet_from_picker_to_claim(live_asgi, new_page, group):
    room, (alice, bob, carol, dave) = group(4)
    label = f"专属于{bob.name}的红包"
    alice_page, bob_page, carol_page = (new_page(live_asgi) for _ in range(3))
    for page, user in ((alice_page, alice), (bob_page, bob), (carol_page, carol)):
        log_in(page, user, live_asgi)
    open_room(bob_page, room)
    open_room(carol_page, room)

    # Alice: the send page, switched to 专属红包; the picker lists everyone but her.
    alice_page.goto(f"/packets/send/{room.pk}/")
    alice_page.get_by_label("红包个数").fill("3")
    alice_page.get_by_label("总金额").fill("15.60")
    alice_page.get_by_role("button", name="改为专属红包").click()
    picker = alice_page.get_by_label("发给谁")
    expect(picker).to_be_visible()
    expect(alice_page.get_by_label("红包个数")).to_be_hidden()
    expect(alice_page.get_by_test_id("member-count")).to_be_hidden()
    # 总金额 ÷ 红包个数 becomes the one share, as the switch to 普通红包 does.
    expect(alice_page.get_by_role("textbox", name="金额", exact=True)).to_have_value("5.20")
    expect(alice_page.locator("#send-total")).to_have_text("5.20")
    names = picker.locator("option").all_inner_texts()
    assert names == ["选择群成员", bob.name, carol.name, dave.name], names
    pay = alice_page.get_by_role("button", name="塞钱进红包", exact=True)
    expect(pay).to_be_disabled()  # nobody picked yet
    alice_page.get_by_role("button", name="改为拼手气红包").click()
    expect(alice_page.get_by_label("总金额")).to_have_value("15.60")
    alice_page.get_by_role("button", name="改为专属红包").click()
    picker.select_option(str(bob.pk))
    alice_page.get_by_label("祝福语").fill("只给你的")
    expect(pay).to_be_enabled()
    expect(alice_page.get_by_role("alert")).to_be_hidden()
    shot(alice_page, "exclusive-send")
    pay.click()
    sheet = alice_page.get_by_role("dialog")
    expect(sheet.get_by_text("¥5.20")).to_be_visible()
    sheet.get_by_role("button", name="立即支付").click()
    pinpad = alice_page.locator(".pinpad")
    for digit in "123456":
        pinpad.get_by_role("button", name=digit, exact=True).click()
    alice_page.wait_for_url(f"**/chat/rooms/{room.pk}/")
    packet = Packet.objects.get()
    assert (packet.kind, packet.count, packet.total_fen, packet.to_user_id) == (
        "exclusive",
        1,
        520,
        bob.pk,
    )

    # Everyone's bubble reads 专属于Bob的红包, Alice's own too.
    expect(bubble(alice_page, "只给你的")).to_contain_text(label)
    expect(bubble(carol_page, "只给你的")).to_contain_text(label, timeout=5000)
    expect(bubble(bob_page, "只给你的")).to_contain_text(label, timeout=5000)
    shot(carol_page, "exclusive-bubble")

    # Carol: the card says whose it is, with no 开.
    bubble(carol_page, "只给你的").click()
    overlay = carol_page.get_by_role("dialog")
    expect(overlay.get_by_text(f"{alice.name}的红包")).to_be_visible()
    expect(overlay.get_by_test_id("packet-subtitle")).to_have_text(label)
    expect(overlay.get_by_role("button", name="开红包")).to_have_count(0)
    carol_page.wait_for_timeout(300)  # let the card finish its pop-in
    shot(carol_page, "exclusive-other")
    carol_page.keyboard.press("Escape")

    # Alice taps her own: the result page, waiting for Bob.
    bubble(alice_page, "只给你的").click()
    alice_page.wait_for_url(re.compile(r"/packets/\d+/result/"))
    expect(alice_page.get_by_test_id("summary")).to_have_text(f"红包金额5.20元，等待{bob.name}领取")
    expect(alice_page.get_by_test_id("exclusive-to")).to_have_text(label)
    expect(alice_page.locator(".claim")).to_have_count(0)
    shot(alice_page, "exclusive-waiting")

    # Bob: 开, "给你发了一个红包", then his share.
    bubble(bob_page, "只给你的").click()
    overlay = bob_page.get_by_role("dialog")
    expect(overlay.get_by_test_id("packet-subtitle")).to_have_text("给你发了一个红包")
    open_button = overlay.get_by_role("button", name="开红包")
    expect(open_button).to_be_focused()
    bob_page.wait_for_timeout(300)
    shot(bob_page, "exclusive-open")
    open_button.click()
    bob_page.wait_for_url(re.compile(r"/packets/\d+/result/"))
    expect(bob_page.get_by_test_id("my-amount")).to_have_text("5.20元")
    expect(bob_page.get_by_test_id("summary")).to_have_text("1个红包共5.20元")
    assert list(Claim.objects.values_list("user_id", "amount_fen")) == [(bob.pk, 520)]

    # Alice sees the claim; so does Carol, through 看看大家的手气.
    alice_page.reload()
    expect(alice_page.get_by_test_id("summary")).to_have_text("1个红包共5.20元")
    claims = alice_page.locator(".claim")
    expect(claims).to_have_count(1)
    expect(claims.first).to_contain_text(bob.name)
    expect(claims.first).to_contain_text("5.20元")
    shot(alice_page, "exclusive-claimed")
    bubble(carol_page, "只给你的").click()
    overlay = carol_page.get_by_role("dialog")
    expect(overlay.get_by_role("button", name="开红包")).to_have_count(0)
    overlay.get_by_role("link", name="看看大家的手气").click()
    carol_page.wait_for_url(re.compile(r"/packets/\d+/result/"))
    expect(carol_page.locator(".claim")).to_have_count(1)
    expect(carol_page.locator(".claim").first).to_contain_text(bob.name)
    assert Claim.objects.count() == 1
    assert_invariants()
