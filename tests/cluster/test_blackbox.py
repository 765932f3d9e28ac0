"""The black-box subset: the API and the websockets over HTTP only (API.md), against the
address of `make cluster` — the session's own cluster, or CLUSTER_URL's (start it with
`make cluster`, then `CLUSTER_URL=http://127.0.0.1:8000 pytest tests/cluster/test_blackbox.py`).
Every request goes through nginx to one of two web nodes or daphnes, the gate and the
facts through the Redis Cluster, the events through the sharded channel layer, the
writes through pgbouncer, and the history reads through the replica."""

from __future__ import annotations

import os

import pytest

from tests.cluster.client import PIN, next_event

pytestmark = [pytest.mark.slow]


@pytest.fixture(autouse=True)
def _invariants_after(request):
    """SPEC §8 on the cluster's database after each test (own cluster only: CLUSTER_URL's
    database is not known here)."""
    own = None if os.environ.get("CLUSTER_URL") else request.getfixturevalue("cluster")
    yield
    if own is not None:
        from tests.cluster.conftest import assert_cluster_invariants

        assert_cluster_invariants(own)


def test_register_me_and_the_error_shape(api):
    person = api.register()
    me = api.ok("GET", "/api/me", person)
    assert me["id"] == person.id and me["username"] == person.username

    anonymous = api.call("GET", "/api/me")
    assert anonymous.status_code == 401 and set(anonymous.json()) >= {"code", "message"}
    taken = api.call(
        "POST",
        "/api/auth/register",
        body={"username": person.username, "password": "another-pw-1357"},
    )
    assert taken.status_code == 400
    assert taken.json()["code"] == "username_taken" and "username" in taken.json()["fields"]


def test_top_up_transfer_and_the_ledger_history(api):
    alice, bob = api.register(), api.register()
    assert api.fund(alice, 10_000) == 10_000
    body = api.ok(
        "POST",
        "/api/wallet/transfer",
        alice,
        {"to_user_id": bob.id, "amount_fen": 700, "pin": PIN},
        money=True,
    )
    assert body["balance_fen"] == 9_300
    assert api.balance(bob) == 700
    # History (a replica read) shows the caller's own writes at once.
    ledger = api.ok("GET", "/api/wallet/ledger", alice)["results"]
    assert [row["amount_fen"] for row in ledger[:2]] == [-700, 10_000]
    assert api.ok("GET", "/api/wallet/ledger", bob)["results"][0]["amount_fen"] == 700

    retry = {"to_user_id": bob.id, "amount_fen": 100, "pin": PIN}
    key = "same-key-twice"
    first = api.call("POST", "/api/wallet/transfer", alice, retry, money=True, idempotency_key=key)
    again = api.call("POST", "/api/wallet/transfer", alice, retry, money=True, idempotency_key=key)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert api.balance(bob) == 800


def test_a_message_reaches_the_other_member_over_the_websocket(api):
    alice, bob, stranger = api.register(), api.register(), api.register()
    room = api.group(alice, [bob], name="集群")
    with api.websocket(bob, f"/ws/rooms/{room['id']}/") as socket:
        posted = api.ok("POST", f"/api/rooms/{room['id']}/messages", alice, {"text": "你好，集群"})
        event = next_event(socket, "message.new")
        assert event["message"]["id"] == posted["id"]
        assert event["message"]["text"] == "你好，集群"
    assert api.call("GET", f"/api/rooms/{room['id']}", stranger).status_code in (403, 404)
    listed = api.ok("GET", f"/api/rooms/{room['id']}/messages", bob)["results"]
    assert listed[0]["id"] == posted["id"]


def test_a_packet_is_sent_opened_credited_and_shown_in_the_history(api):
    sender = api.register()
    members = [api.register() for _ in range(4)]
    api.fund(sender, 5_000)
    room = api.group(sender, members, name="抢红包")
    with (
        api.websocket(members[0], f"/ws/rooms/{room['id']}/") as room_socket,
        api.websocket(members[0], "/ws/me/") as own_socket,
    ):
        packet = api.send_lucky(sender, room["id"], count=3, total_fen=300)
        assert next_event(room_socket, "packet.new")["packet"]["id"] == packet["id"]
        opened = [api.call("POST", f"/api/packets/{packet['id']}/open", m) for m in members]
        assert [r.status_code for r in opened] == [200, 200, 200, 409]
        assert opened[3].json()["code"] == "finished"
        amounts = [r.json()["amount_fen"] for r in opened[:3]]
        assert sum(amounts) == 300 and min(amounts) >= 1
        credited = next_event(own_socket, "wallet.credited", timeout=30)
        assert credited["amount_fen"] == amounts[0] and credited["packet_id"] == packet["id"]
        assert next_event(room_socket, "packet.finished")["packet_id"] == packet["id"]

    again = api.ok("POST", f"/api/packets/{packet['id']}/open", members[0])
    assert again == {"amount_fen": amounts[0], "repeat": True} or (
        again["repeat"] is True and again["amount_fen"] == amounts[0]
    )
    result = api.ok("GET", f"/api/packets/{packet['id']}/result", sender)
    assert result["claimed_count"] == 3 and result["claimed_fen"] == 300
    received = api.ok("GET", "/api/packets/received", members[1])
    assert received["count"] == 1 and received["total_fen"] == amounts[1]
    assert api.ok("GET", "/api/packets/sent", sender)["total_fen"] == 300
    assert api.balance(sender) == 4_700
    assert api.call("GET", f"/api/packets/{packet['id']}", api.register()).status_code == 404
