"""专属红包 (SPEC §3 "exclusive", §4): a group packet of one share for one chosen member.
Through the API (API.md "Red packets"): the send's fields and refusals, who may open it,
the `view` each viewer gets, the result page, the bubble, the records, forwarding, the
database's own constraint and 对账's findings. SPEC §8 after every money test."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from chat import services as chat_services
from redpacket.packets import facts, services
from redpacket.packets.models import Claim, Packet
from tests.invariants import assert_invariants
from tests.redpacket.test_api import client_for, post_packet
from wallet.reconciliation import reconcile
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db(transaction=True)


def body_for(room, to_user, **extra):
    return {
        "room_id": room.pk,
        "kind": "exclusive",
        "count": 1,
        "share_fen": 520,
        "to_user_id": to_user.pk,
        "greeting": "给你的",
        "pin": "123456",
        **extra,
    }


@pytest.fixture
def exclusive(group):
    """A group of four (sender, recipient, two others) and an exclusive ¥5.20 packet."""

    def make():
        room, users = group(4)
        sender, recipient, _other, _third = users
        response = post_packet(sender, body_for(room, recipient))
        assert response.status_code == 201, response.json()
        return Packet.objects.get(pk=response.json()["id"]), room, users

    return make


def name_of(user) -> str:
    return user.display_name or user.username


# --- send ---------------------------------------------------------------------------------


def test_send_answers_with_to_user_and_takes_the_money(group):
    room, (sender, recipient, *_) = group(4)
    before = balance_of(sender)
    response = post_packet(sender, body_for(room, recipient))
    assert response.status_code == 201, response.json()
    packet = response.json()
    assert packet["kind"] == "exclusive" and packet["count"] == 1
    assert packet["share_fen"] == 520 and packet["total_fen"] == 520
    assert packet["to_user"]["id"] == recipient.pk
    assert packet["to_user"]["username"] == recipient.username
    assert packet["status"] == "active" and packet["greeting"] == "给你的"
    stored = Packet.objects.get(pk=packet["id"])
    assert (stored.kind, stored.to_user_id, stored.total_fen) == ("exclusive", recipient.pk, 520)
    assert balance_of(sender) == before - 520
    assert_invariants()


def test_replayed_send_is_one_packet(group):
    room, (sender, recipient, *_) = group(3)
    first = post_packet(sender, body_for(room, recipient), key="excl-1")
    second = post_packet(sender, body_for(room, recipient), key="excl-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and Packet.objects.count() == 1
    other = post_packet(sender, body_for(room, recipient, share_fen=521), key="excl-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_mismatch"
    assert balance_of(sender) == 100_000 - 520
    assert_invariants()


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"to_user_id": None}, "to_user_id", "请选择领取人"),
        ("omit_to_user", "to_user_id", "请选择领取人"),
        ("outsider", "to_user_id", "领取人不在本群"),
        ("sender", "to_user_id", "专属红包不能发给自己"),
        ({"count": 2}, "count", "专属红包个数只能为1个"),
        ({"count": 0}, "count", "红包个数至少为1个"),
        ({"share_fen": None}, "share_fen", "请填写单个金额"),
        ({"share_fen": 20_001}, "share_fen", "单个红包金额不可超过200元"),
        ({"to_user_id": "2"}, "to_user_id", "必须是整数"),
        ({"to_user_id": 999_999}, "to_user_id", "领取人不在本群"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_sends_are_400_with_fields_and_pay_nothing(group, make_user, change, field, text):
    room, (sender, recipient, *_) = group(4)
    body = body_for(room, recipient)
    if change == "omit_to_user":
        del body["to_user_id"]
    elif change == "outsider":
        body["to_user_id"] = make_user().pk
    elif change == "sender":
        body["to_user_id"] = sender.pk
    else:
        body.update(change)
    response = post_packet(sender, body)
    assert response.status_code == 400, response.json()
    error = response.json()
    assert error["code"] and field in error["fields"], error
    assert text in str(error["fields"][field]), error
    assert Packet.objects.count() == 0 and balance_of(sender) == 100_000
    assert_invariants()


def test_an_exclusive_packet_in_a_direct_room_is_refused(direct):
    room, (sender, other) = direct()
    response = post_packet(sender, body_for(room, other))
    assert response.status_code == 400
    assert response.json()["fields"]["kind"] == "单聊只能发普通红包"
    assert Packet.objects.count() == 0 and balance_of(sender) == 100_000
    assert_invariants()


def test_the_database_refuses_an_exclusive_packet_without_its_member(exclusive):
    packet, _, (sender, _recipient, other, _third) = exclusive()
    for change in ({"to_user": None}, {"to_user": sender}, {"count": 2, "total_fen": 1040}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Packet.objects.filter(pk=packet.pk).update(**change)
    lucky = Packet.objects.create(
        **{
            f.name: getattr(packet, f.name)
            for f in Packet._meta.concrete_fields
            if f.name not in ("id", "kind", "to_user", "share_fen", "request_key", "fund_reference")
        },
        kind="lucky",
        request_key="x",
        fund_reference="x",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Packet.objects.filter(pk=lucky.pk).update(to_user=other)
    Packet.objects.filter(pk=lucky.pk).delete()
    assert_invariants()


# --- open and view ------------------------------------------------------------------------


def views(packet, users) -> list[str]:
    out = []
    for user in users:
        response = client_for(user).get(f"/api/packets/{packet.pk}")
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["to_user"]["id"] == packet.to_user_id
        out.append(body["view"])
    return out


def test_only_the_chosen_member_opens_it(exclusive):
    packet, _, (sender, recipient, other, third) = exclusive()
    assert views(packet, [sender, recipient, other, third]) == [
        "waiting",
        "open",
        "exclusive",
        "exclusive",
    ]
    for user in (other, third, sender):
        refused = client_for(user).post(f"/api/packets/{packet.pk}/open")
        assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"
    assert not Claim.objects.exists()

    opened = client_for(recipient).post(f"/api/packets/{packet.pk}/open")
    assert opened.status_code == 200 and opened.json() == {"amount_fen": 520, "repeat": False}
    again = client_for(recipient).post(f"/api/packets/{packet.pk}/open")
    assert again.json() == {"amount_fen": 520, "repeat": True}
    refused = client_for(other).post(f"/api/packets/{packet.pk}/open")
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"

    assert views(packet, [sender, recipient, other]) == ["waiting", "opened", "exclusive"]
    mine = client_for(recipient).get(f"/api/packets/{packet.pk}").json()
    assert mine["my_amount_fen"] == 520 and mine["status"] == "finished"
    assert list(Claim.objects.values_list("user_id", flat=True)) == [recipient.pk]
    packet.refresh_from_db()
    assert packet.status == "finished" and packet.remaining_fen == 0
    assert_invariants()


def test_the_service_refuses_others_before_the_gate(exclusive):
    from redpacket.packets import errors
    from redpacket.packets.gate import packet_store

    packet, _, (_sender, recipient, other, _third) = exclusive()
    with pytest.raises(errors.PacketNotAllowed):
        services.packet_open(user=other, packet_id=packet.pk)
    # The gate still has its one place, and nobody was admitted into it.
    state = packet_store().state(packet.pk)
    assert state.left == 1 and other.pk not in state.shares
    assert services.packet_open(user=recipient, packet_id=packet.pk).amount_fen == 520
    assert_invariants()


def test_the_claim_statement_takes_nothing_for_another(exclusive):
    """Below the service's check: the one-statement claim itself refuses another user."""
    from django.db import connection

    from redpacket.packets.services import open as open_service

    packet, _, (_sender, recipient, other, _third) = exclusive()
    take = open_service._take_sql if connection.vendor == "postgresql" else open_service._take_orm
    assert take(packet_id=packet.pk, user=other, now=timezone.now()) is None
    assert not Claim.objects.exists()
    assert take(packet_id=packet.pk, user=recipient, now=timezone.now()).amount_fen == 520
    assert_invariants()


def test_expired_exclusive_packet(exclusive):
    packet, _, (sender, recipient, other, _third) = exclusive()
    before = balance_of(sender)
    Packet.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    facts.forget(packet.pk)
    assert views(packet, [sender, recipient, other]) == ["expired", "expired", "expired"]
    late = client_for(recipient).post(f"/api/packets/{packet.pk}/open")
    assert late.status_code == 410 and late.json()["code"] == "expired"
    assert services.packets_expire_due() == 1
    assert balance_of(sender) == before + 520
    summary = client_for(sender).get(f"/api/packets/{packet.pk}/result").json()["summary"]
    assert summary == "该红包已过期。已领取0/1个，共0.00/5.20元"
    assert_invariants()


# --- result -------------------------------------------------------------------------------


def result(user, packet) -> dict:
    response = client_for(user).get(f"/api/packets/{packet.pk}/result")
    assert response.status_code == 200, response.json()
    return response.json()


def test_result_waits_for_the_member_then_shows_the_claim_to_the_room(exclusive):
    packet, _, (sender, recipient, other, _third) = exclusive()
    waiting = result(sender, packet)
    assert waiting["summary"] == f"红包金额5.20元，等待{name_of(recipient)}领取"
    assert waiting["buttons"] == ["continue_sending"] and waiting["claims"] == []
    assert waiting["packet"]["to_user"]["id"] == recipient.pk
    bystander = result(other, packet)
    assert bystander["summary"] == f"等待{name_of(recipient)}领取"
    assert bystander["buttons"] == [] and "claimed_fen" not in bystander
    assert "total_fen" not in bystander["packet"]

    services.packet_open(user=recipient, packet_id=packet.pk)
    for viewer in (sender, recipient, other):
        done = result(viewer, packet)
        assert done["summary"] == "1个红包共5.20元"
        assert [(c["user"]["id"], c["amount_fen"], c["best_luck"]) for c in done["claims"]] == [
            (recipient.pk, 520, False)
        ]
        assert done["claimed_count"] == 1
    assert result(recipient, packet)["buttons"] == ["my_records"]
    assert result(recipient, packet)["my_amount_fen"] == 520
    assert result(sender, packet)["buttons"] == []
    assert_invariants()


# --- bubble, records, forward -------------------------------------------------------------


def test_the_bubble_reads_exclusive_to_the_member_for_everyone(exclusive):
    packet, room, users = exclusive()
    recipient = users[1]
    for viewer in users:
        messages = client_for(viewer).get(f"/api/rooms/{room.pk}/messages").json()["results"]
        bubble = next(m for m in messages if m["packet_id"] == packet.pk and m["kind"] == "packet")
        assert bubble["packet"]["exclusive_label"] == f"专属于{name_of(recipient)}的红包"
        assert bubble["packet"]["kind"] == "exclusive"


def test_records_list_exclusive_packets(exclusive):
    packet, _, (sender, recipient, _other, _third) = exclusive()
    services.packet_open(user=recipient, packet_id=packet.pk)
    received = client_for(recipient).get("/api/packets/received").json()
    assert received["total_fen"] == 520 and received["count"] == 1
    assert received["results"][0]["kind"] == "exclusive"
    assert received["results"][0]["packet_id"] == packet.pk
    sent = client_for(sender).get("/api/packets/sent").json()
    assert sent["count"] == 1 and sent["total_fen"] == 520
    row = sent["results"][0]
    assert (row["kind"], row["state"], row["claimed_count"]) == ("exclusive", "已领完", 1)
    for user, tab, shown in (
        (recipient, "received", name_of(sender)),
        (sender, "sent", "专属红包"),
    ):
        client = Client()
        client.force_login(user)
        page = client.get(f"/packets/mine/?tab={tab}")
        html = page.content.decode()
        assert page.status_code == 200 and shown in html and "5.20" in html
    assert_invariants()


def test_forward_only_into_rooms_of_the_member(exclusive, make_user):
    packet, _room, (sender, recipient, other, _third) = exclusive()
    without = chat_services.room_create_group(
        creator=sender, name="没有他", member_ids=[other.pk, make_user().pk]
    )
    refused = client_for(sender).post(
        f"/api/packets/{packet.pk}/forward", {"room_id": without.pk}, format="json"
    )
    assert refused.status_code == 403 and refused.json()["code"] == "not_allowed"
    with_him = chat_services.room_create_group(
        creator=sender, name="有他", member_ids=[recipient.pk, make_user().pk]
    )
    forwarded = client_for(sender).post(
        f"/api/packets/{packet.pk}/forward", {"room_id": with_him.pk}, format="json"
    )
    assert forwarded.status_code == 201, forwarded.json()
    assert services.packet_open(user=recipient, packet_id=packet.pk).amount_fen == 520
    assert_invariants()


# --- 对账 -----------------------------------------------------------------------------------


def test_reconciliation_finds_a_claim_by_someone_else(exclusive):
    packet, _, (_sender, recipient, other, _third) = exclusive()
    services.packet_open(user=recipient, packet_id=packet.pk)
    assert reconcile().status == "clean"
    Claim.objects.filter(packet=packet).update(user=other)
    run = reconcile()
    finding = run.findings.get(kind="exclusive_claimant")
    assert f"packet {packet.pk}" in finding.object
    assert (finding.expected, finding.actual) == (f"user {recipient.pk}", f"user {other.pk}")


def test_reconciliation_finds_a_second_claim(exclusive):
    packet, _, (_sender, recipient, other, _third) = exclusive()
    services.packet_open(user=recipient, packet_id=packet.pk)
    claim = Claim.objects.get(packet=packet)
    Claim.objects.create(
        packet=packet, user=other, index=1, amount_fen=1, opened_at=claim.opened_at
    )
    kinds = set(reconcile().findings.values_list("kind", flat=True))
    assert {"exclusive_claims", "exclusive_claimant"} <= kinds


def test_a_page_post_sends_one_to_the_picked_member(group):
    """The send page without JavaScript: the picker lists the members but the sender,
    the kind switch keeps what was typed, errors come back inline."""
    import re

    room, (sender, recipient, *_rest) = group(4)
    client = Client()
    client.force_login(sender)
    page = client.get(f"/packets/send/{room.pk}/").content.decode()
    picker = re.search(r'<select name="to_user_id".*?</select>', page, re.S).group(0)
    options = re.findall(r'<option value="(\d+)"', picker)
    assert sorted(map(int, options)) == sorted(u.pk for u in group_members(room) if u != sender)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)

    switched = client.post(
        f"/packets/send/{room.pk}/",
        {
            "idempotency_key": key,
            "kind": "normal",
            "count": "3",
            "share_fen": "2.50",
            "switch": "exclusive",
        },
    ).content.decode()
    assert 'name="kind" value="exclusive"' in switched and 'value="2.50"' in switched

    missing = client.post(
        f"/packets/send/{room.pk}/",
        {
            "idempotency_key": key,
            "kind": "exclusive",
            "share_fen": "2.50",
            "pay_with": "balance",
            "pin": "123456",
        },
    )
    assert missing.status_code == 200 and "请选择领取人" in missing.content.decode()
    assert Packet.objects.count() == 0

    sent = client.post(
        f"/packets/send/{room.pk}/",
        {
            "idempotency_key": key,
            "kind": "exclusive",
            "count": "3",  # left over from the other kind: an exclusive packet is one share
            "share_fen": "2.50",
            "to_user_id": str(recipient.pk),
            "pay_with": "balance",
            "pin": "123456",
        },
    )
    assert sent.status_code == 302
    packet = Packet.objects.get()
    assert (packet.kind, packet.count, packet.total_fen, packet.to_user_id) == (
        "exclusive",
        1,
        250,
        recipient.pk,
    )
    assert_invariants()


def group_members(room):
    from chat import selectors as chat_selectors

    return chat_selectors.room_members(room)


def test_open_pages_per_viewer(exclusive):
    packet, _, (sender, recipient, other, _third) = exclusive()

    def page(user, path):
        client = Client()
        client.force_login(user)
        return client.get(path)

    label = f"专属于{name_of(recipient)}的红包"
    theirs = page(other, f"/packets/{packet.pk}/")
    html = theirs.content.decode()
    assert theirs.status_code == 200 and label in html and "packet-open-button" not in html
    mine = page(recipient, f"/packets/{packet.pk}/").content.decode()
    assert "给你发了一个红包" in mine and "packet-open-button" in mine and label not in mine
    waiting = page(sender, f"/packets/{packet.pk}/")
    assert waiting.status_code == 302 and "/result" in waiting["Location"]
    shown = page(sender, waiting["Location"]).content.decode()
    assert f"红包金额5.20元，等待{name_of(recipient)}领取" in shown

    client = Client()
    client.force_login(other)
    assert client.post(f"/packets/{packet.pk}/").status_code == 403
    assert not Claim.objects.exists()
    client.force_login(recipient)
    opened = client.post(f"/packets/{packet.pk}/")
    assert opened.status_code == 302 and "/result" in opened["Location"]
    assert Claim.objects.get().user_id == recipient.pk
    assert_invariants()


def test_admin_shows_and_filters_by_kind_and_recipient(exclusive, send, make_user):
    packet, room, (sender, recipient, _other, _third) = exclusive()
    lucky = send(sender, room, count=2, total_fen=200)
    admin = make_user(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    listing = client.get("/admin/redpacket/packet/")
    html = listing.content.decode()
    assert listing.status_code == 200 and "专属红包" in html and str(recipient) in html
    assert f"to_user__id__exact={recipient.pk}" in html  # the recipient filter
    only = client.get(f"/admin/redpacket/packet/?to_user__id__exact={recipient.pk}")
    assert list(only.context["cl"].result_list) == [packet]
    by_kind = client.get("/admin/redpacket/packet/?kind__exact=exclusive")
    assert list(by_kind.context["cl"].result_list) == [packet]
    detail = client.get(f"/admin/redpacket/packet/{packet.pk}/change/")
    assert detail.status_code == 200 and str(recipient) in detail.content.decode()
    assert lucky not in list(only.context["cl"].result_list)
    assert_invariants()
