"""SPEC §4 Paying without JavaScript: a sender whose change is short binds a card from
the send page (card number → 下一步 → holder name, phone, SMS code) and comes back to the
packet exactly as typed, paid by the new card. Plus the choice rule and the draft store."""

from __future__ import annotations

import re

import pytest

from redpacket.packets import drafts, rules
from redpacket.packets.models import Packet
from tests.invariants import assert_invariants
from tests.redpacket.test_send_page import browser_for, form_key
from tests.wallet.conftest import GOOD_CARD, PIN
from wallet.models import BankCard
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def short_sender(make_user, fund):
    """A group room whose first member has ¥1.00 of change (a gift) and no card."""
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
    return room, sender


PACKET = {"kind": "lucky", "count": "2", "total_fen": "5.00", "greeting": "绑卡也不丢"}


def test_the_draft_survives_binding_a_card_without_javascript(short_sender):
    room, sender = short_sender
    client = browser_for(sender)
    send_url = f"/packets/send/{room.pk}/"
    key = form_key(client.get(send_url).content.decode())

    # Paying from change: refused, with the way out on the same form.
    short = client.post(send_url, {"idempotency_key": key, "pay_with": "balance", **PACKET})
    html = short.content.decode()
    assert "零钱余额不足" in html and 'name="add_card"' in html
    assert not BankCard.objects.filter(user=sender).exists()

    # 添加银行卡: the draft is kept, the binding pages know where to come back to.
    to_bind = client.post(send_url, {"idempotency_key": key, "add_card": "1", **PACKET})
    assert to_bind.status_code == 302
    bind_url = to_bind["Location"]
    assert bind_url == f"/wallet/cards/add/?next=%2Fpackets%2Fsend%2F{room.pk}%2F"
    step1 = client.get(bind_url).content.decode()
    assert 'name="card_number"' in step1 and 'name="holder_name"' not in step1
    assert "下一步" in step1 and f'href="{send_url}"' in step1  # back goes to the packet

    # 下一步: holder name, reserved phone and, with the first card, the new PIN.
    step2 = client.post(bind_url, {"card_number": "4111 1111 1111 1111"}).content.decode()
    assert 'name="holder_name"' in step2 and 'name="phone"' in step2
    assert "设置6位支付密码" in step2 and "卡号尾号1111" in step2
    assert f'type="hidden" name="card_number" value="{GOOD_CARD}"' in step2
    sms = client.post(
        bind_url,
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000", "pin": PIN},
    )
    assert sms.status_code == 302 and "next=%2Fpackets%2Fsend%2F" in sms["Location"]
    verify = client.get(sms["Location"]).content.decode()
    code = re.search(r'data-testid="sandbox-code">[^<]*<strong>(\d{6})</strong>', verify).group(1)
    done = client.post(sms["Location"], {"code": code})
    assert done.status_code == 302 and done["Location"] == send_url
    card = BankCard.objects.get(user=sender)

    # Back on the send page: the packet exactly as typed, the new card chosen.
    page = client.get(send_url).content.decode()
    assert re.search(r'name="count" value="2"', page)
    assert re.search(r'name="total_fen" value="5.00"', page)
    assert re.search(r'name="greeting" value="绑卡也不丢"', page)
    assert re.search(rf'<option value="{card.pk}" selected>', page)
    assert '"resume": true' in page
    new_key = form_key(page)
    assert new_key != key  # a new payment attempt

    paid = client.post(
        send_url,
        {"idempotency_key": new_key, "pay_with": str(card.pk), "pin": PIN, **PACKET},
    )
    assert paid.status_code == 302 and paid["Location"] == f"/chat/rooms/{room.pk}/"
    packet = Packet.objects.get()
    assert packet.paid_with_card_id == card.pk and packet.total_fen == 500
    assert packet.greeting == "绑卡也不丢" and packet.count == 2
    assert balance_of(sender) == 100  # the change was not touched
    # The draft was used once: the page is empty again.
    again = client.get(send_url).content.decode()
    assert 'value="绑卡也不丢"' not in again and '"resume": false' in again
    assert_invariants()


def test_an_exclusive_draft_keeps_its_member_through_the_binding(short_sender):
    room, sender = short_sender
    member = room.memberships.exclude(user=sender).order_by("user_id").first().user
    client = browser_for(sender)
    send_url = f"/packets/send/{room.pk}/"
    key = form_key(client.get(send_url).content.decode())
    exclusive = {
        "kind": "exclusive",
        "share_fen": "3.00",
        "to_user_id": str(member.pk),
        "greeting": "只给你",
    }
    to_bind = client.post(send_url, {"idempotency_key": key, "add_card": "1", **exclusive})
    assert to_bind.status_code == 302
    page = client.get(send_url).content.decode()
    assert re.search(r'name="kind" value="exclusive"', page), "the kind came back lucky"
    assert re.search(rf'<option value="{member.pk}" selected>', page)
    assert re.search(r'name="share_fen" value="3.00"', page)
    assert not Packet.objects.exists()


def test_a_draft_belongs_to_its_room(short_sender, make_user):
    from chat import services as chat_services

    room, sender = short_sender
    other_room = chat_services.room_create_group(
        creator=sender, name="别的群", member_ids=[make_user().pk]
    )
    client = browser_for(sender)
    send_url = f"/packets/send/{room.pk}/"
    key = form_key(client.get(send_url).content.decode())
    client.post(send_url, {"idempotency_key": key, "add_card": "1", **PACKET})
    elsewhere = client.get(f"/packets/send/{other_room.pk}/").content.decode()
    assert 'value="绑卡也不丢"' not in elsewhere
    assert 'value="绑卡也不丢"' in client.get(send_url).content.decode()
    assert not Packet.objects.exists()


def test_the_binding_returns_only_to_this_site(short_sender):
    _room, sender = short_sender
    client = browser_for(sender)
    bind_url = "/wallet/cards/add/?next=https://evil.example/steal"
    step1 = client.get(bind_url).content.decode()
    assert 'class="topbar-back" href="/wallet/"' in step1
    sms = client.post(
        bind_url,
        {"card_number": GOOD_CARD, "holder_name": "张三", "phone": "13800138000", "pin": PIN},
    )
    assert sms.status_code == 302 and "evil" not in sms["Location"]
    verify = client.get(sms["Location"]).content.decode()
    code = re.search(r'data-testid="sandbox-code">[^<]*<strong>(\d{6})</strong>', verify).group(1)
    done = client.post(sms["Location"], {"code": code})
    assert done["Location"] == "/wallet/"


@pytest.mark.parametrize(
    ("balance", "cost", "cards", "choice"),
    [
        (500, 500, [3], None),  # change covers it exactly
        (499, 500, [], None),  # short, no card: the sheet offers 添加银行卡
        (499, 500, [3, 7, 5], 7),  # short: the newest card (the one just bound)
        (0, None, [3], None),  # nothing typed yet
    ],
)
def test_pay_card_choice(balance, cost, cards, choice):
    assert rules.pay_card_choice(balance_fen=balance, cost_fen=cost, card_ids=cards) == choice


def test_the_draft_keeps_no_pin_and_no_key():
    session: dict = {}
    drafts.draft_keep(
        session=session,
        room_id=4,
        data={**PACKET, "pin": PIN, "idempotency_key": "k", "greeting": "福" * 500},
    )
    assert drafts.draft_take(session=session, room_id=5) is None
    draft = drafts.draft_take(session=session, room_id=4)
    assert draft is not None and "pin" not in draft and "idempotency_key" not in draft
    assert len(draft["greeting"]) == drafts.MAX_FIELD_LENGTH and draft["count"] == "2"
    assert drafts.draft_take(session=session, room_id=4) is None
