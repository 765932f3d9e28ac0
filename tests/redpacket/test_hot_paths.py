"""What keeps the hot paths short (docs/performance.md): few statements per open, one
packet-state read per fan-out, the channel layer's connections kept between events."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest

from chat import hooks
from redpacket.packets import services
from redpacket.packets.gate import packet_store
from redpacket.packets.selectors import decorate_packet_messages
from tests.invariants import assert_invariants


def test_an_open_takes_a_handful_of_statements(
    group, send, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    room, users = group(4)
    packet = send(users[0], room, count=3)
    # Facts, gate and membership warm now (caches of rows are filled after commit).
    with django_capture_on_commit_callbacks(execute=True):
        services.packet_open(user=users[1], packet_id=packet.pk)
    # The transaction: lock (with the repeat check), update, claim, notice.
    with django_assert_max_num_queries(6):
        services.packet_open(user=users[2], packet_id=packet.pk)


def test_a_credit_takes_a_handful_of_statements(
    group, send, django_assert_num_queries, django_capture_on_commit_callbacks
):
    from redpacket.packets.models import Claim
    from wallet.models import Account
    from wallet.selectors import balance_of
    from wallet.services import system_account

    room, users = group(3)
    packet = send(users[0], room, count=2)
    services.packet_open(user=users[1], packet_id=packet.pk)
    # A warm process: the escrow's row is remembered once its transaction committed.
    with django_capture_on_commit_callbacks(execute=True):
        system_account(Account.Kind.PACKET_ESCROW)
    claim = Claim.objects.get(packet=packet, user=users[1])
    before = balance_of(users[1])
    # The claim taken (SELECT … FOR UPDATE SKIP LOCKED), the wallet found and locked,
    # the ledger's transaction, entries and balance, the claim marked; the sender's
    # notice, stored with the credit (its facts, the packet's rooms, the claimer's
    # memberships, the notice); plus the test's own savepoint and its release.
    with django_assert_num_queries(13):
        assert services.claim_credit(claim_id=claim.pk) is True
    assert balance_of(users[1]) == before + claim.amount_fen
    with django_assert_num_queries(3):  # credited already: one SELECT finds nothing
        assert services.claim_credit(claim_id=claim.pk) is False
    assert balance_of(users[1]) == before + claim.amount_fen
    assert_invariants()


def test_fanout_reads_a_packet_state_once_and_decorates_each_viewer(
    group, send, monkeypatch, django_capture_on_commit_callbacks
):
    room, users = group(3)
    packet = send(users[0], room, count=2)
    with django_capture_on_commit_callbacks(execute=True):  # the gate records the share
        opened = services.packet_open(user=users[1], packet_id=packet.pk)
    store = packet_store()
    reads = []
    real_state = store.state

    def counting_state(packet_id):
        reads.append(packet_id)
        return real_state(packet_id)

    monkeypatch.setattr(store, "state", counting_state)
    shared: dict = {}
    bubbles = {}
    for viewer in users:
        message = {"id": 1, "kind": "packet", "packet_id": packet.pk}
        with hooks.sharing_lookups(shared):
            decorate_packet_messages([message], viewer)
        bubbles[viewer.pk] = message["packet"]
    assert len(reads) == 1
    assert [bubbles[user.pk]["opened"] for user in users] == [False, True, False]
    assert {bubble["status"] for bubble in bubbles.values()} == {"active"}
    assert opened.amount_fen > 0


def test_outside_a_fanout_each_viewer_reads_only_their_own_share(
    group, send, monkeypatch, django_capture_on_commit_callbacks
):
    room, users = group(2)
    packet = send(users[0], room, count=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.packet_open(user=users[1], packet_id=packet.pk)
    store = packet_store()
    monkeypatch.setattr(store, "state", lambda packet_id: pytest.fail("state() read"))
    message = {"id": 1, "kind": "packet", "packet_id": packet.pk}
    decorate_packet_messages([message], users[1])
    assert message["packet"]["opened"] is True


@pytest.mark.redis
@pytest.mark.parametrize(
    "backend",
    ["channels_redis.pubsub.RedisPubSubChannelLayer", "channels_redis.core.RedisChannelLayer"],
)
def test_events_reach_a_redis_group_from_sync_code_over_one_pool(backend, settings):
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": backend, "CONFIG": {"hosts": [settings.REDIS_URL], "prefix": "wst"}}
    }
    # In a thread of its own: a browser test may have left an event loop in this one,
    # where async_to_sync refuses to run.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(_events_reach_a_redis_group).result()


def _events_reach_a_redis_group():
    from asgiref.sync import async_to_sync, sync_to_async
    from channels.layers import get_channel_layer

    from redpacket.kernel.events import _send_now, _sync_sender

    layer = get_channel_layer()

    def send_twice():
        _send_now("room.424242", {"type": "notice", "text": "一"})
        sender = _sync_sender(layer)
        _send_now("room.424242", {"type": "notice", "text": "二"})
        assert sender is not None and _sync_sender(layer) is sender  # one pool per process

    async def scenario():
        # One event loop throughout: the pub/sub layer subscribes per loop.
        channels = [await layer.new_channel() for _ in range(2)]
        for channel in channels:
            await layer.group_add("room.424242", channel)
        try:
            await sync_to_async(send_twice, thread_sensitive=False)()
            return [
                [
                    (await asyncio.wait_for(layer.receive(channel), 5))["event"]["text"]
                    for _ in range(2)
                ]
                for channel in channels
            ]
        finally:
            for channel in channels:
                await layer.group_discard("room.424242", channel)
            await layer.flush()

    assert async_to_sync(scenario)() == [["一", "二"], ["一", "二"]]
