from datetime import timedelta

import pytest
from django.utils import timezone

from chat.models import Message
from redpacket.packets import errors, services
from redpacket.packets.allocation import lucky_shares
from redpacket.packets.models import Claim, Packet
from tests.invariants import assert_invariants
from wallet import errors as wallet_errors
from wallet.crediting import credits_drain
from wallet.models import Account
from wallet.selectors import balance_of, system_balance

pytestmark = pytest.mark.django_db(transaction=True)


def test_send_takes_the_money_into_escrow_and_posts_the_packet(group, send):
    room, (alice, *_rest) = group(3)
    packet = send(alice, room, count=3, total_fen=1_000, greeting="新年快乐")
    assert balance_of(alice) == 100_000 - 1_000
    assert system_balance(Account.Kind.PACKET_ESCROW) == 1_000
    assert (packet.remaining_count, packet.remaining_fen, packet.status) == (3, 1_000, "active")
    message = Message.objects.get(packet_id=packet.pk)
    assert (message.kind, message.room_id, message.text) == ("packet", room.pk, "新年快乐")
    assert packet.expires_at - packet.created_at == timedelta(days=1)
    assert_invariants()


def test_send_is_once_per_request_key(group, send):
    room, (alice, *_rest) = group(3)
    first = send(alice, room, request_key="k1")
    again = send(alice, room, request_key="k1")
    assert first.pk == again.pk
    assert Packet.objects.count() == 1 and balance_of(alice) == 100_000 - 900
    assert_invariants()


def test_send_more_than_the_balance_changes_nothing(group, send):
    room, (alice, *_rest) = group(3, money=500)
    with pytest.raises(wallet_errors.InsufficientBalance):
        send(alice, room, count=2, total_fen=501)
    assert not Packet.objects.exists() and not Message.objects.filter(kind="packet").exists()
    assert balance_of(alice) == 500
    assert_invariants()


def test_send_by_card_leaves_change_alone(group, send):
    from wallet.models import BankCard

    room, (alice, *_rest) = group(3)
    card = BankCard.objects.get(user=alice)
    packet = send(alice, room, count=2, total_fen=2_000, pay_with=card.pk)
    assert balance_of(alice) == 100_000
    assert packet.paid_with_card_id == card.pk
    assert system_balance(Account.Kind.PACKET_ESCROW) == 2_000
    assert_invariants()


def test_send_by_a_declined_card_is_refused_and_nothing_is_created(group, send, bind_card):
    room, (alice, *_rest) = group(3)
    declined = bind_card(alice, number="4000000000000002")
    with pytest.raises(wallet_errors.CardDeclined):
        send(alice, room, count=2, total_fen=200, pay_with=declined.pk)
    assert not Packet.objects.exists()
    assert_invariants()


def test_open_gives_shares_that_match_the_allocation_and_sum_to_the_total(group, send, settings):
    room, users = group(5)
    packet = send(users[0], room, count=5, total_fen=5_000)
    amounts = [services.packet_open(user=user, packet_id=packet.pk).amount_fen for user in users]
    assert sum(amounts) == 5_000
    assert amounts == lucky_shares(
        total_fen=5_000, count=5, secret=settings.ALLOCATION_SECRET.encode(), packet_id=packet.pk
    )
    packet.refresh_from_db()
    assert (packet.status, packet.remaining_count, packet.remaining_fen) == ("finished", 0, 0)
    assert packet.finished_at is not None
    assert_invariants()


def test_second_open_returns_the_same_share(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=2)
    first = services.packet_open(user=users[1], packet_id=packet.pk)
    again = services.packet_open(user=users[1], packet_id=packet.pk)
    assert (first.repeat, again.repeat) == (False, True)
    assert first.amount_fen == again.amount_fen
    assert Claim.objects.filter(user=users[1]).count() == 1


def test_open_after_the_last_share_is_finished(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=1, kind="normal", share_fen=50)
    services.packet_open(user=users[1], packet_id=packet.pk)
    with pytest.raises(errors.PacketFinished):
        services.packet_open(user=users[2], packet_id=packet.pk)


def test_repeat_opens_and_refusals_of_a_finished_packet_are_answered_from_one_read(
    group, send, monkeypatch
):
    """The snapshot that brings the facts also says whether the caller has a share and
    whether places are left: the crowd behind a finished packet is never admitted."""
    from redpacket.packets.gate import packet_store

    room, users = group(4)
    packet = send(users[0], room, count=1, kind="normal", share_fen=50)
    first = services.packet_open(user=users[1], packet_id=packet.pk)
    store = packet_store()
    admits = []
    admit = store.admit
    monkeypatch.setattr(store, "admit", lambda *args: admits.append(args) or admit(*args))
    again = services.packet_open(user=users[1], packet_id=packet.pk)
    assert (again.amount_fen, again.repeat) == (first.amount_fen, True)
    for late in users[2:]:
        with pytest.raises(errors.PacketFinished):
            services.packet_open(user=late, packet_id=packet.pk)
    assert admits == []
    assert Claim.objects.filter(packet=packet).count() == 1
    assert_invariants()


def test_open_after_expiry_is_410_but_a_share_already_taken_is_still_shown(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=2)
    taken = services.packet_open(user=users[1], packet_id=packet.pk)
    Packet.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    from redpacket.packets import facts

    facts.forget(packet.pk)
    with pytest.raises(errors.PacketExpired):
        services.packet_open(user=users[2], packet_id=packet.pk)
    assert services.packet_open(user=users[1], packet_id=packet.pk).amount_fen == taken.amount_fen


def test_non_member_and_direct_sender_may_not_open(direct, send, make_user):
    room, (a, b) = direct()
    packet = send(a, room, kind="normal", count=1, share_fen=888)
    with pytest.raises(errors.PacketNotAllowed):
        services.packet_open(user=a, packet_id=packet.pk)
    with pytest.raises(errors.PacketNotAllowed):
        services.packet_open(user=make_user(), packet_id=packet.pk)
    assert services.packet_open(user=b, packet_id=packet.pk).amount_fen == 888


def test_credit_moves_the_share_to_change_exactly_once(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=600)
    result = services.packet_open(user=users[1], packet_id=packet.pk)
    claim = Claim.objects.get(user=users[1])
    # Eager Celery (embedded default) has already credited it on commit; run it again.
    if claim.credit_status == "pending":
        assert services.claim_credit(claim_id=claim.pk) is True
    assert services.claim_credit(claim_id=claim.pk) is False
    assert balance_of(users[1]) == 100_000 + result.amount_fen
    assert_invariants()


def test_credit_tells_the_receiver_which_packet_it_came_from(group, send, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "redpacket.kernel.events._send_now", lambda group, event: sent.append((group, event))
    )
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=600)
    result = services.packet_open(user=users[1], packet_id=packet.pk)
    claim = Claim.objects.get(user=users[1])
    if claim.credit_status == "pending":  # no eager Celery: credit it here
        assert services.claim_credit(claim_id=claim.pk) is True
    assert (
        f"user.{users[1].pk}",
        {
            "type": "wallet.credited",
            "amount_fen": result.amount_fen,
            "balance_fen": 100_000 + result.amount_fen,
            "source": "claim",
            "packet_id": packet.pk,
        },
    ) in sent
    assert_invariants()


def test_expire_refunds_the_remainder_once(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=3, total_fen=900)
    opened = services.packet_open(user=users[1], packet_id=packet.pk).amount_fen
    for claim in Claim.objects.filter(credit_status="pending"):
        services.claim_credit(claim_id=claim.pk)
    Packet.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.packets_expire_due() == 1
    assert services.packets_expire_due() == 0
    assert services.packet_expire(packet_id=packet.pk) is False
    packet.refresh_from_db()
    assert (packet.status, packet.refunded_fen, packet.remaining_fen) == (
        "expired",
        900 - opened,
        0,
    )
    assert balance_of(users[0]) == 100_000 - 900 + (900 - opened)
    assert_invariants()


def test_forward_posts_the_packet_in_another_room_whose_members_may_open(
    group, send, make_user, fund
):
    from chat import services as chat_services

    room, users = group(3)
    outsider = make_user()
    other_room = chat_services.room_create_group(
        creator=users[0], name="另一个群", member_ids=[outsider.pk]
    )
    packet = send(users[0], room, count=3)
    with pytest.raises(errors.PacketNotAllowed):
        services.packet_open(user=outsider, packet_id=packet.pk)
    message = services.packet_forward(user=users[0], packet_id=packet.pk, room_id=other_room.pk)
    assert (message.room_id, message.packet_id) == (other_room.pk, packet.pk)
    assert services.packet_open(user=outsider, packet_id=packet.pk).amount_fen > 0
    with pytest.raises(errors.PacketNotAllowed):
        services.packet_forward(user=users[1], packet_id=packet.pk, room_id=room.pk)


def test_sender_is_told_who_took_a_share_and_when_all_are_gone(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=2)
    services.packet_open(user=users[1], packet_id=packet.pk)
    services.packet_open(user=users[2], packet_id=packet.pk)
    credits_drain()  # the notices come with the credits (eager without a broker)
    notices = list(
        Message.objects.filter(kind="notice", recipient=users[0])
        .order_by("id")
        .values_list("text", flat=True)
    )
    assert notices == [
        f"{users[1].name}领取了你的红包",
        f"{users[2].name}领取了你的红包",
        "你的红包已被领完",
    ]


def test_sender_who_takes_the_last_share_is_told_all_are_gone(group, send):
    room, users = group(2)
    packet = send(users[0], room, count=2)
    services.packet_open(user=users[1], packet_id=packet.pk)
    services.packet_open(user=users[0], packet_id=packet.pk)  # the sender takes the last
    credits_drain()
    notices = list(
        Message.objects.filter(kind="notice", recipient=users[0])
        .order_by("id")
        .values_list("text", flat=True)
    )
    assert notices == [f"{users[1].name}领取了你的红包", "你的红包已被领完"]
    assert_invariants()
