"""SPEC §4 cell by cell, through the API: `view` of GET /api/packets/<id> (the open-page
table) and GET /api/packets/<id>/result (result rules 1–8, expired and unfinished lines)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from redpacket.accounts.services import token_issue
from redpacket.packets import facts, services
from redpacket.packets.models import Claim, Packet

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
    return client


def view_of(user, packet) -> dict:
    response = client_for(user).get(f"/api/packets/{packet.pk}")
    assert response.status_code == 200, response.json()
    return response.json()


def result_of(user, packet) -> dict:
    response = client_for(user).get(f"/api/packets/{packet.pk}/result")
    assert response.status_code == 200, response.json()
    return response.json()


def expire(packet) -> None:
    Packet.objects.filter(pk=packet.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    facts.forget(packet.pk)


@pytest.fixture
def scene(group, direct, send):
    """Build a packet of a kind ('lucky', 'normal', 'direct') in a state ('open',
    'finished', 'expired'); returns (packet, sender, bystander-without-share)."""

    def make(kind: str, state: str):
        if kind == "direct":
            room, (sender, other) = direct()
            packet = send(sender, room, kind="normal", count=1, share_fen=520)
            takers, bystander = [other], other
        else:
            room, users = group(5)
            sender, takers, bystander = users[0], users[1:3], users[4]
            packet = send(sender, room, kind=kind, count=2, total_fen=600, share_fen=300)
        if state == "finished":
            for taker in takers:
                services.packet_open(user=taker, packet_id=packet.pk)
        elif state == "expired":
            expire(packet)
        packet.refresh_from_db()
        return packet, sender, bystander

    return make


# --- The open page: every cell of the table -------------------------------------------


@pytest.mark.parametrize(
    ("kind", "state", "viewer", "expected"),
    [
        ("lucky", "open", "other", "open"),
        ("normal", "open", "other", "open"),
        ("direct", "open", "other", "open"),
        ("lucky", "open", "sender", "open"),
        ("normal", "open", "sender", "open"),
        ("direct", "open", "sender", "waiting"),
        ("lucky", "finished", "other", "finished"),
        ("normal", "finished", "other", "finished"),
        ("lucky", "finished", "sender", "finished"),
        ("normal", "finished", "sender", "finished"),
        ("lucky", "expired", "other", "expired"),
        ("normal", "expired", "other", "expired"),
        ("direct", "expired", "other", "expired"),
        ("lucky", "expired", "sender", "expired"),
        ("normal", "expired", "sender", "expired"),
        ("direct", "expired", "sender", "expired"),
    ],
)
def test_open_page_cell(scene, kind, state, viewer, expected):
    packet, sender, bystander = scene(kind, state)
    user = sender if viewer == "sender" else bystander
    body = view_of(user, packet)
    assert body["view"] == expected
    assert body["my_amount_fen"] is None
    assert ("total_fen" in body) == (viewer == "sender")


def test_a_viewer_with_a_share_goes_straight_to_the_result(scene):
    packet, _sender, bystander = scene("lucky", "open")
    amount = services.packet_open(user=bystander, packet_id=packet.pk).amount_fen
    body = view_of(bystander, packet)
    assert (body["view"], body["my_amount_fen"]) == ("opened", amount)


def test_the_sender_may_open_their_own_group_packet(scene):
    packet, sender, _ = scene("lucky", "open")
    response = client_for(sender).post(f"/api/packets/{packet.pk}/open")
    assert response.status_code == 200 and response.json()["repeat"] is False


def test_packet_shape(scene):
    packet, sender, _bystander = scene("lucky", "open")
    body = view_of(sender, packet)
    assert set(body) >= {
        "id",
        "room_id",
        "kind",
        "sender",
        "greeting",
        "count",
        "total_fen",
        "share_fen",
        "created_at",
        "expires_at",
        "status",
        "view",
        "my_amount_fen",
    }
    assert body["share_fen"] is None and body["status"] == "active" and body["total_fen"] == 600
    assert set(body["sender"]) >= {"id", "username", "display_name"}


# --- The result page: rules 1–8 -----------------------------------------------------------


def test_rule_1_and_3_receiver_sees_their_amount_credit_line_and_records_button(scene):
    packet, _sender, bystander = scene("lucky", "open")
    amount = services.packet_open(user=bystander, packet_id=packet.pk).amount_fen
    claim = Claim.objects.get(packet=packet, user=bystander)
    if claim.credit_status == "pending":  # no eager Celery: "入账中…" until the worker runs
        assert result_of(bystander, packet)["credit_line"] == "入账中…"
        services.claim_credit(claim_id=claim.pk)
    body = result_of(bystander, packet)
    assert body["my_amount_fen"] == amount
    assert body["credited"] is True
    assert body["credit_line"].startswith("已存入零钱，可用于")
    assert body["buttons"] == ["my_records"]


def test_rule_2_sender_of_an_unfinished_packet_can_continue_sending(scene):
    packet, sender, _ = scene("lucky", "open")
    body = result_of(sender, packet)
    assert body["buttons"] == ["continue_sending"]
    assert body["notes"] == ["未领取的红包，将于24小时后发起退款"]
    assert body["my_amount_fen"] is None


def test_rule_2_no_continue_button_once_finished_or_expired(scene):
    for state in ("finished", "expired"):
        packet, sender, _ = scene("lucky", state)
        body = result_of(sender, packet)
        assert "continue_sending" not in body["buttons"] and body["notes"] == []


def test_rule_4_finished_lucky_for_sender_and_others(scene):
    packet, sender, bystander = scene("lucky", "finished")
    Packet.objects.filter(pk=packet.pk).update(
        finished_at=packet.created_at + timedelta(seconds=42)
    )
    assert result_of(sender, packet)["summary"] == "2个红包共6.00元，42秒被抢光"
    assert result_of(bystander, packet)["summary"] == "2个红包，42秒被抢光"
    assert result_of(sender, packet)["finished_in_seconds"] == 42
    Packet.objects.filter(pk=packet.pk).update(
        finished_at=packet.created_at + timedelta(minutes=5, seconds=3)
    )
    assert result_of(bystander, packet)["summary"] == "2个红包，5分钟被抢光"
    Packet.objects.filter(pk=packet.pk).update(
        finished_at=packet.created_at + timedelta(hours=3, minutes=1)
    )
    assert result_of(bystander, packet)["summary"] == "2个红包，3小时被抢光"


def test_rule_4_finished_normal(scene):
    packet, sender, bystander = scene("normal", "finished")
    assert result_of(sender, packet)["summary"] == "2个红包共6.00元"
    assert result_of(bystander, packet)["summary"] == "2个红包共6.00元"


def test_rule_5_unfinished_group_packet_for_sender_and_others(scene):
    packet, sender, bystander = scene("lucky", "open")
    services.packet_open(user=bystander, packet_id=packet.pk)
    mine = result_of(bystander, packet)
    theirs = result_of(sender, packet)
    claimed = mine["my_amount_fen"]
    assert theirs["summary"] == f"已领取1/2个，共{claimed // 100}.{claimed % 100:02d}/6.00元"
    assert theirs["claimed_fen"] == claimed and theirs["claimed_count"] == 1
    assert mine["summary"] == "领取1/2个"
    assert "claimed_fen" not in mine


def test_rule_6_count_one_waiting(scene):
    packet, sender, _ = scene("direct", "open")
    assert result_of(sender, packet)["summary"] == "红包金额5.20元，等待对方领取"


def test_rule_7_claim_list_for_lucky_everyone_for_normal_only_the_sender(scene):
    lucky, lucky_sender, lucky_other = scene("lucky", "finished")
    assert len(result_of(lucky_other, lucky)["claims"]) == 2
    assert len(result_of(lucky_sender, lucky)["claims"]) == 2
    normal, normal_sender, normal_other = scene("normal", "finished")
    assert result_of(normal_other, normal)["claims"] == []
    rows = result_of(normal_sender, normal)["claims"]
    assert len(rows) == 2 and set(rows[0]) == {"user", "amount_fen", "opened_at", "best_luck"}


def test_rule_8_best_luck_marks_one_row_only_on_finished_lucky(scene):
    finished, sender, _ = scene("lucky", "finished")
    rows = result_of(sender, finished)["claims"]
    assert sum(row["best_luck"] for row in rows) == 1
    best = max(rows, key=lambda row: row["amount_fen"])
    assert best["best_luck"]
    unfinished, sender2, other2 = scene("lucky", "open")
    services.packet_open(user=other2, packet_id=unfinished.pk)
    assert not any(row["best_luck"] for row in result_of(sender2, unfinished)["claims"])
    normal, normal_sender, _ = scene("normal", "finished")
    assert not any(row["best_luck"] for row in result_of(normal_sender, normal)["claims"])


def test_expired_summary_amounts_for_the_sender_only(scene):
    packet, sender, bystander = scene("lucky", "open")
    services.packet_open(user=bystander, packet_id=packet.pk)
    expire(packet)
    claimed = result_of(bystander, packet)["my_amount_fen"]
    assert result_of(sender, packet)["summary"] == (
        f"该红包已过期。已领取1/2个，共{claimed // 100}.{claimed % 100:02d}/6.00元"
    )
    assert result_of(bystander, packet)["summary"] == "该红包已过期。已领取1/2个"
