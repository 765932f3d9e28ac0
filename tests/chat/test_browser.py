"""Two people in one room in real browsers: live delivery, and catching up after the
socket drops."""

import pytest

from tests.conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def open_room(page, room):
    page.goto(f"/chat/rooms/{room.pk}/")
    page.wait_for_function("() => window.RPChat && window.RPChat.connected === true")


def test_members_see_each_others_messages_live_and_after_a_reconnect(
    live_asgi, new_page, make_user, group_room
):
    from playwright.sync_api import expect

    alice = make_user("alice-live", display_name="爱丽丝")
    bob = make_user("bob-live", display_name="鲍勃")
    room = group_room(alice, bob, name="浏览器测试群")
    alice_page, bob_page = new_page(live_asgi), new_page(live_asgi)
    log_in(alice_page, "alice-live")
    log_in(bob_page, "bob-live")
    expect(bob_page.locator("#room-list")).to_contain_text("浏览器测试群")
    screenshot(bob_page, "chat-rooms")
    open_room(alice_page, room)
    open_room(bob_page, room)

    # Enter sends; the other member sees it without reloading.
    alice_page.get_by_label("输入消息").fill("新年好，Bob！")
    alice_page.get_by_label("输入消息").press("Enter")
    expect(
        bob_page.locator("#chat-messages .bubble").filter(has_text="新年好，Bob！")
    ).to_be_visible(timeout=2000)
    expect(alice_page.get_by_label("输入消息")).to_have_value("")

    # Bob's socket drops; Alice posts while he is away; his page reconnects by itself
    # and fetches what he missed, without a reload.
    bob_page.evaluate(
        "window.notReloaded = true; RPChat.backoff.base = 2500; RPChat.socket.close()"
    )
    bob_page.wait_for_function("() => window.RPChat.connected === false")
    alice_page.get_by_label("输入消息").fill("你断线时发的消息")
    alice_page.get_by_role("button", name="发送").click()
    expect(
        alice_page.locator("#chat-messages .bubble").filter(has_text="你断线时发的消息")
    ).to_be_visible()
    assert bob_page.evaluate("window.RPChat.connected") is False  # it was really missed live
    expect(
        bob_page.locator("#chat-messages .bubble").filter(has_text="你断线时发的消息")
    ).to_be_visible(timeout=8000)
    assert bob_page.evaluate("window.RPChat.connected && window.notReloaded") is True
    assert (
        bob_page.locator("#chat-messages .bubble").filter(has_text="你断线时发的消息").count() == 1
    )

    # Live delivery works again on the new socket.
    alice_page.get_by_label("输入消息").fill("又连上了")
    alice_page.get_by_label("输入消息").press("Enter")
    expect(bob_page.locator("#chat-messages .bubble").filter(has_text="又连上了")).to_be_visible(
        timeout=2000
    )
    screenshot(bob_page, "chat-room")


def test_plus_menu_opens_with_the_red_packet_entry_by_keyboard(
    live_asgi, new_page, make_user, group_room
):
    from playwright.sync_api import expect

    alice = make_user("alice-menu")
    room = group_room(alice, name="菜单群")
    page = new_page(live_asgi)
    log_in(page, "alice-menu")
    open_room(page, room)
    plus = page.get_by_role("button", name="更多功能")
    plus.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("menuitem", name="红包")).to_be_focused()
    expect(plus).to_have_attribute("aria-expanded", "true")
    screenshot(page, "chat-plus-menu")
    page.keyboard.press("Escape")
    expect(page.get_by_role("menuitem", name="红包")).to_be_hidden()


def test_every_time_is_in_the_sites_zone_whatever_the_browsers(
    live_asgi, new_page, make_user, group_room, settings
):
    """One time-zone rule (SPEC §6): pages show times in the site's zone (TIME_ZONE), the
    ones the server renders and the ones the room's script draws alike — here for a
    browser in New York, 13 hours behind Shanghai."""
    import datetime as dt

    from playwright.sync_api import expect

    from chat import services
    from chat.models import Message

    assert settings.TIME_ZONE == "Asia/Shanghai"
    alice = make_user("alice-zone")
    room = group_room(alice, name="时区群")
    message = services.message_post_text(room=room, sender=alice, text="几点了？")
    # 2026-01-15 23:30 UTC: 16 January 07:30 in Shanghai, 15 January 18:30 in New York.
    Message.objects.filter(pk=message.pk).update(
        created_at=dt.datetime(2026, 1, 15, 23, 30, tzinfo=dt.UTC)
    )
    page = new_page(live_asgi, timezone_id="America/New_York")
    log_in(page, "alice-zone")
    assert page.evaluate("() => new Date(Date.UTC(2026, 0, 15, 23, 30)).getDate()") == 15
    expect(page.locator("#room-list .room-time")).to_have_text("26/1/16")
    open_room(page, room)
    label = page.locator("#chat-messages .msg-time").first
    expect(label).to_have_text("2026/1/16 07:30")
