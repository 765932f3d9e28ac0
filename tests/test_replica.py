"""History reads from a replica (redpacket/kernel/replica.py; README "Settings":
DATABASE_REPLICA_URL). The replica here is a second alias on the test database itself
(what `TEST: {"MIRROR": "default"}` does for DATABASE_REPLICA_URL): the queries each
alias runs are counted, so the tests see which one served a page. A real streaming
replica is the cluster stack's (`make cluster`)."""

from __future__ import annotations

import copy

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from redpacket.kernel import replica
from redpacket.packets import services as packet_services
from tests.invariants import assert_invariants
from tests.redpacket.conftest import group, send  # noqa: F401 - the packet fixtures
from tests.wallet.conftest import bind_card, fund  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


@pytest.fixture
def with_replica(settings):
    """History reads on: the "replica" alias (tests/settings.py) mirrors the test database,
    so it sees committed rows (transactional tests)."""
    settings.REPLICA_READS = True
    replica.replica_reset()
    yield
    replica.replica_reset()


@pytest.fixture
def dead_replica(with_replica):
    """The "replica" alias cannot be reached: connection refused / no such file."""
    connection = connections[replica.REPLICA]
    connection.close()
    kept = connection.settings_dict
    dead = copy.deepcopy(kept)
    if dead["ENGINE"].endswith("postgresql"):
        dead.update(HOST="127.0.0.1", PORT=1)
        dead["OPTIONS"] = {**dead.get("OPTIONS", {}), "connect_timeout": 2}
    else:
        dead["NAME"] = "/nonexistent-folder/replica.sqlite3"
    connection.settings_dict = dead
    yield
    connection.close()
    connection.settings_dict = kept


def _queries(alias: str) -> CaptureQueriesContext:
    return CaptureQueriesContext(connections[alias])


@pytest.fixture
def history(group, send, auth_client):  # noqa: F811
    """A room where user 0 sent a packet that user 1 opened; API clients of both."""
    room, users = group(3)
    packet = send(users[0], room, count=2, total_fen=600)
    share = packet_services.packet_open(user=users[1], packet_id=packet.pk)
    return {
        "room": room,
        "users": users,
        "packet": packet,
        "share": share,
        "sender": auth_client(users[0]),
        "receiver": auth_client(users[1]),
    }


def test_without_a_replica_everything_reads_the_primary(history):
    assert replica.replica_reads() is False
    assert replica.history_db(history["users"][1].pk) == "default"
    with _queries("replica") as on_replica:
        response = history["receiver"].get("/api/wallet/ledger")
    assert response.status_code == 200
    assert on_replica.captured_queries == []


def test_history_pages_and_apis_read_the_replica(with_replica, history, client):
    receiver, sender = history["users"][1], history["users"][0]
    with _queries("replica") as on_replica, _queries("default") as on_primary:
        ledger = history["sender"].get("/api/wallet/ledger")
        received = history["receiver"].get("/api/packets/received")
        sent = history["sender"].get("/api/packets/sent")
    assert ledger.status_code == received.status_code == sent.status_code == 200
    # What the replica served is what the pages show.
    amounts = [entry["amount_fen"] for entry in ledger.json()["results"]]
    assert amounts[0] == -600  # the packet's escrow, newest first
    assert received.json()["total_fen"] == history["share"].amount_fen
    assert [row["packet_id"] for row in sent.json()["results"]] == [history["packet"].pk]
    replica_sql = " ".join(query["sql"] for query in on_replica.captured_queries)
    assert "wallet_entry" in replica_sql
    assert "redpacket_claim" in replica_sql and "redpacket_packet" in replica_sql
    # The primary still authenticates and serves the rest, but not those lists.
    primary_sql = [query["sql"] for query in on_primary.captured_queries]
    assert not any('ORDER BY "wallet_entry"."id" DESC' in sql for sql in primary_sql)
    # The 我的红包 page and the ledger page too.
    client.force_login(receiver)
    with _queries("replica") as on_replica:
        page = client.get("/packets/mine/")
        ledger_page = client.get("/wallet/ledger/")
    assert page.status_code == ledger_page.status_code == 200
    assert len(on_replica.captured_queries) >= 2
    del sender


def test_older_messages_read_the_replica_and_the_newest_page_the_primary(with_replica, history):
    from chat import services as chat_services

    room, users = history["room"], history["users"]
    for n in range(5):
        chat_services.message_post_text(room=room, sender=users[2], text=f"消息{n}")
    viewer = history["sender"]
    replica.replica_reset()
    with _queries("replica") as on_replica:
        newest = viewer.get(f"/api/rooms/{room.pk}/messages", {"limit": 2})
    assert newest.status_code == 200
    assert on_replica.captured_queries == []  # a fresh message is never missed
    before = newest.json()["results"][-1]["id"]
    with _queries("replica") as on_replica:
        older = viewer.get(f"/api/rooms/{room.pk}/messages", {"before": before, "limit": 2})
    assert older.status_code == 200
    assert [m["id"] for m in older.json()["results"]] and all(
        m["id"] < before for m in older.json()["results"]
    )
    assert any("chat_message" in q["sql"] for q in on_replica.captured_queries)


def test_a_user_who_just_wrote_reads_the_primary(with_replica, history):
    receiver = history["users"][1]
    client = history["receiver"]
    assert replica.history_db(receiver.pk) == "replica"
    # Any write request of theirs (here: a websocket ticket) marks them a recent writer.
    assert client.post("/api/auth/ws-ticket").status_code in (200, 201)
    assert replica.wrote_recently(receiver.pk)
    with _queries("replica") as on_replica:
        ledger = client.get("/api/wallet/ledger")
        received = client.get("/api/packets/received")
    assert ledger.status_code == received.status_code == 200
    assert on_replica.captured_queries == []
    # Someone else is not concerned.
    assert replica.history_db(history["users"][0].pk) == "replica"


def test_a_write_through_the_api_marks_the_writer(with_replica, history):
    receiver, client = history["users"][2], history["receiver"]
    opener = history["users"][2]
    from tests.conftest import TEST_PASSWORD  # noqa: F401 - the users' password

    assert not replica.wrote_recently(receiver.pk)
    from rest_framework.test import APIClient

    from redpacket.accounts.services import token_issue

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=opener).key}")
    opened = api.post(f"/api/packets/{history['packet'].pk}/open")
    assert opened.status_code == 200, opened.content
    assert replica.wrote_recently(opener.pk)
    with _queries("replica") as on_replica:
        received = api.get("/api/packets/received")
    assert received.json()["total_fen"] == opened.json()["amount_fen"]
    assert on_replica.captured_queries == []
    del client
    assert_invariants()


def test_a_dead_replica_falls_back_to_the_primary_quickly(dead_replica, history):
    import time

    client = history["sender"]
    started = time.monotonic()
    ledger = client.get("/api/wallet/ledger")
    assert ledger.status_code == 200
    assert ledger.json()["results"][0]["amount_fen"] == -600
    assert time.monotonic() - started < 5
    # Set aside: the next requests do not try it again for a while.
    assert replica.history_db(history["users"][0].pk) == "default"
    started = time.monotonic()
    assert client.get("/api/packets/received").status_code == 200
    assert time.monotonic() - started < 2


def test_money_paths_never_read_the_replica(with_replica, group, send, make_user):  # noqa: F811
    from wallet.selectors import balance_of

    room, users = group(4)
    with _queries("replica") as on_replica:
        packet = send(users[0], room, count=3, total_fen=900)
        shares = [packet_services.packet_open(user=u, packet_id=packet.pk) for u in users[1:]]
        balances = [balance_of(user) for user in users]
    assert sum(share.amount_fen for share in shares) == 900
    assert on_replica.captured_queries == []
    assert balances[0] == 100_000 - 900  # shares are credited later (crediting worker)
    assert_invariants()


def test_inside_a_transaction_history_reads_the_primary(with_replica, history):
    from django.db import transaction

    with transaction.atomic():
        assert replica.history_db(history["users"][1].pk) == "default"
    assert replica.history_db(history["users"][1].pk) == "replica"


def test_the_router_sends_every_write_to_the_primary_and_never_migrates_the_replica(
    with_replica, history
):
    from wallet.models import Entry

    router = replica.ReplicaRouter()
    entry = Entry.objects.using("replica").filter(account__user=history["users"][1]).first()
    assert entry is not None and entry._state.db == "replica"
    assert router.db_for_write(Entry, instance=entry) == "default"
    assert router.allow_migrate("replica", "wallet") is False
    assert router.allow_migrate("default", "wallet") is True
