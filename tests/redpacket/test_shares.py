"""Shares computed at send, taken by index at open (ARCHITECTURE.md "Open"): the same
values the keyed stream gives (SPEC §3), kept in a row of their own and never shown; on
PostgreSQL an open's claim is one statement, elsewhere one ORM transaction. The rest of
the packet suites (races, faults, the money machine) run against whichever path the
database takes."""

import json

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from redpacket.accounts.services import token_issue
from redpacket.packets import services
from redpacket.packets.allocation import packet_shares
from redpacket.packets.models import Claim, Packet, PacketShares
from tests.invariants import assert_invariants
from wallet.reconciliation import reconcile

pytestmark = pytest.mark.django_db(transaction=True)


def _stored(packet: Packet) -> list[int] | None:
    return PacketShares.objects.filter(packet=packet).values_list("amounts", flat=True).first()


def _expected(packet: Packet) -> list[int]:
    return packet_shares(
        kind=packet.kind,
        count=packet.count,
        total_fen=packet.total_fen,
        share_fen=packet.share_fen,
        secret=settings.ALLOCATION_SECRET.encode(),
        packet_id=packet.pk,
        max_share_fen=settings.REDPACKET_MAX_SHARE_FEN,
    )


@pytest.mark.parametrize(
    ("kind", "amounts"), [("lucky", {"total_fen": 1_234}), ("normal", {"share_fen": 88})]
)
def test_shares_are_kept_at_send_and_taken_in_order(group, send, kind, amounts):
    room, users = group(5)
    packet = send(users[0], room, kind=kind, count=4, **amounts)
    assert _stored(packet) == _expected(packet)
    # The sender opens too: the last share is theirs.
    for user in [*users[1:4], users[0]]:
        services.packet_open(user=user, packet_id=packet.pk)
    claims = list(Claim.objects.filter(packet=packet).order_by("index"))
    assert [c.amount_fen for c in claims] == _stored(packet)
    assert [c.user_id for c in claims] == [u.pk for u in [*users[1:4], users[0]]]
    packet.refresh_from_db()
    assert (packet.remaining_count, packet.remaining_fen, packet.status) == (0, 0, "finished")
    assert packet.finished_at is not None
    assert_invariants()


def test_the_share_list_never_leaves_the_server(group, send, admin_client):
    room, users = group(3)
    packet = send(users[0], room, count=3, total_fen=999)
    services.packet_open(user=users[1], packet_id=packet.pk)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=users[0]).key}")
    answers = [
        api.get(f"/api/packets/{packet.pk}").json(),
        api.get(f"/api/packets/{packet.pk}/result").json(),
        api.get(f"/api/rooms/{room.pk}/messages").json(),
    ]
    for answer in answers:
        assert "shares" not in json.dumps(answer)
    unopened = json.dumps(_stored(packet)[1:])  # what nobody may learn in advance
    for page in (
        admin_client.get(f"/admin/redpacket/packet/{packet.pk}/change/"),
        admin_client.get("/admin/redpacket/packet/"),
    ):
        assert page.status_code == 200
        assert unopened not in page.content.decode()
        assert "shares" not in page.content.decode()


def test_reconciliation_finds_a_stored_share_list_that_was_altered(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=3, total_fen=900)
    assert reconcile().status == "clean"
    shares = _stored(packet)
    altered = list(reversed(shares)) if shares[0] != shares[-1] else None
    altered = altered or [shares[0] + 1, shares[1] - 1, shares[2]]
    PacketShares.objects.filter(packet=packet).update(amounts=altered)
    run = reconcile()
    finding = run.findings.get(kind="stored_shares")
    assert finding.object == f"packet {packet.pk}"
    assert str(altered[0]) not in finding.expected + finding.actual


@pytest.mark.postgres
def test_on_postgresql_a_claim_is_one_statement_without_a_row_lock(group, send):
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=500)
    list_version = _list_version(packet)
    with CaptureQueriesContext(connection) as queries:
        services.packet_open(user=users[1], packet_id=packet.pk)
    packet_writes = [q["sql"] for q in queries if "redpacket_packet" in q["sql"]]
    assert len(packet_writes) == 1, packet_writes
    assert packet_writes[0].lstrip().startswith("WITH taken AS")
    assert not any("FOR UPDATE" in q["sql"] for q in queries)
    # Autocommit: the claim is not wrapped in BEGIN … COMMIT (the sender's notice, stored
    # after it, is its own short transaction).
    sql = [q["sql"].strip().upper() for q in queries]
    at = next(i for i, text in enumerate(sql) if text.startswith("WITH TAKEN AS"))
    assert (sql[at - 1] if at else "") != "BEGIN" and sql[at + 1 : at + 2] != ["COMMIT"], sql
    claim = Claim.objects.get(packet=packet, user=users[1])
    packet.refresh_from_db()
    assert claim.amount_fen == _stored(packet)[0] and claim.index == 0
    assert packet.remaining_fen == 500 - claim.amount_fen
    # The share list is read, never rewritten: only the narrow packet row is.
    assert _list_version(packet) == list_version
    assert_invariants()


def _list_version(packet: Packet) -> str:
    """The xmin of the packet's share list row: the transaction that wrote its current
    version (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT xmin::text FROM redpacket_packetshares WHERE packet_id = %s", [packet.pk]
        )
        return cursor.fetchone()[0]


def test_a_packet_sent_without_a_share_list_gets_one_at_its_first_open(group, send):
    """A packet sent during a deploy by a process still on the code from before the list:
    its first open computes and stores the list, and takes the same share as ever."""
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=777)
    expected = _stored(packet)
    PacketShares.objects.filter(packet=packet).delete()
    services.packet_open(user=users[1], packet_id=packet.pk)
    services.packet_open(user=users[2], packet_id=packet.pk)
    packet.refresh_from_db()
    assert _stored(packet) == expected
    amounts = list(
        Claim.objects.filter(packet=packet).order_by("index").values_list("amount_fen", flat=True)
    )
    assert amounts == expected and packet.remaining_fen == 0
    assert reconcile().status == "clean"
    assert_invariants()
