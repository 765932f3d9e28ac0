"""Crediting as an outbox (ARCHITECTURE.md "Credit"): pending claims are the queue, a
batch credits many at once (one ledger transaction each, one balance write per wallet),
concurrent drains share the queue through SKIP LOCKED, opens only wake the worker (one
wake-up in flight), the sweeper heals a lost wake-up, and the sender's notices are
stored exactly once, by the credit."""

import threading
from collections import Counter

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from chat.models import Message
from redpacket.packets import services
from redpacket.packets.models import Claim
from tests.concurrency import run_parallel
from tests.invariants import assert_invariants
from tests.redpacket.conftest import FAST_SWEEP, all_credited
from tests.workers import wait_until
from wallet import crediting
from wallet.models import Account, Entry, LedgerTransaction
from wallet.selectors import balance_of


@pytest.fixture
def asleep(monkeypatch):
    """The crediting worker never wakes: opens leave their claims pending, and the
    wake-ups they would have sent are counted (`asleep.sent`, each one's delay in
    `asleep.delays`)."""

    class Sleeper:
        sent = 0
        delays: list[float] = []

    def count(*, delay_seconds: float = 0):
        Sleeper.sent += 1
        Sleeper.delays.append(delay_seconds)

    monkeypatch.setattr(crediting, "_send_drain", count)
    return Sleeper


def _claims_credited_once() -> None:
    claims = dict(Claim.objects.values_list("pk", "credit_status"))
    credits = Counter(
        LedgerTransaction.objects.filter(kind="claim_credit").values_list("reference", flat=True)
    )
    assert set(claims.values()) == {"credited"}
    assert credits == Counter({f"claim:{pk}": 1 for pk in claims})


def _notices_of(sender) -> Counter:
    return Counter(
        Message.objects.filter(kind="notice", recipient=sender).values_list("text", flat=True)
    )


@pytest.mark.django_db
def test_a_batch_credits_many_claims_of_one_user_with_one_balance_write(
    people, send, asleep, django_capture_on_commit_callbacks
):
    room, sender, members = people(2)
    lucky, other = members
    packets = [send(sender, room, count=2, total_fen=400 + i) for i in range(12)]
    for packet in packets:
        services.packet_open(user=lucky, packet_id=packet.pk)
    services.packet_open(user=other, packet_id=packets[0].pk)
    assert Claim.objects.filter(credit_status="pending").count() == 13
    before = {user.pk: balance_of(user) for user in members}

    with (
        CaptureQueriesContext(connection) as queries,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        assert crediting.credit_batch(services.CLAIMS) == 13

    balance_writes = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "wallet_account"')]
    assert len(balance_writes) == 1, balance_writes  # both wallets, in one statement
    ledger_inserts = [
        q["sql"] for q in queries if q["sql"].startswith('INSERT INTO "wallet_ledgertransaction"')
    ]
    assert len(ledger_inserts) == 1  # one statement ...
    _claims_credited_once()  # ... one ledger transaction per claim
    mine = list(Claim.objects.filter(user=lucky).order_by("credited_at"))
    assert [c.amount_fen for c in mine] == sorted((c.amount_fen for c in mine), reverse=True)
    assert balance_of(lucky) == before[lucky.pk] + sum(c.amount_fen for c in mine)
    wallets = dict(Account.objects.filter(user__in=members).values_list("user_id", "pk"))
    # Each entry of the wallet carries the running balance, in the order credited.
    running = list(
        Entry.objects.filter(account_id=wallets[lucky.pk], transaction__kind="claim_credit")
        .order_by("pk")
        .values_list("amount_fen", "balance_after_fen")
    )
    expected, total = [], before[lucky.pk]
    for amount, _ in running:
        total += amount
        expected.append((amount, total))
    assert running == expected and total == balance_of(lucky)
    assert callbacks  # wallet.credited and the notices go out only after commit
    assert_invariants()


@pytest.mark.django_db
def test_the_wallet_credited_events_carry_each_credits_running_balance(
    people, send, asleep, monkeypatch
):
    from wallet import crediting as module

    room, sender, members = people(1)
    packets = [send(sender, room, count=1, total_fen=100 * (i + 1)) for i in range(3)]
    for packet in packets:
        services.packet_open(user=members[0], packet_id=packet.pk)
    before = balance_of(members[0])
    events = []
    monkeypatch.setattr(
        module, "publish_many_on_commit", lambda pairs: events.extend(e for _g, e in pairs)
    )
    assert crediting.credits_drain() == 3
    assert [(e["amount_fen"], e["balance_fen"]) for e in events] == [
        (300, before + 300),
        (200, before + 500),
        (100, before + 600),
    ]
    assert {e["source"] for e in events} == {"claim"}
    assert [e["packet_id"] for e in events] == [p.pk for p in reversed(packets)]
    assert_invariants()


@pytest.mark.django_db
def test_opens_send_one_wake_up_while_one_is_in_flight(
    people, send, asleep, django_capture_on_commit_callbacks, settings
):
    room, sender, members = people(8)
    packets = [send(sender, room, count=8, total_fen=800) for _ in range(5)]
    for packet in packets:
        for member in members:
            with django_capture_on_commit_callbacks(execute=True):  # each open commits
                services.packet_open(user=member, packet_id=packet.pk)
    assert Claim.objects.filter(credit_status="pending").count() == 40
    assert asleep.sent == 1  # forty opens, one message
    assert asleep.delays == [settings.CREDIT_WAKE_DELAY_MS / 1000]  # due after the delay
    # The drain clears the flag before it credits: the next open wakes again.
    assert crediting.credits_drain() == 40
    extra = send(sender, room, count=2, total_fen=200)
    for member in members[:2]:
        with django_capture_on_commit_callbacks(execute=True):
            services.packet_open(user=member, packet_id=extra.pk)
    assert asleep.sent == 2
    assert crediting.credits_drain() == 2
    _claims_credited_once()
    assert_invariants()


@pytest.mark.django_db
def test_a_drain_goes_on_while_batches_come_full_and_stops_at_the_first_that_is_not(
    people, send, asleep, settings, monkeypatch
):
    settings.CREDIT_BATCH_SIZE = 5
    room, sender, members = people(12)
    packet = send(sender, room, count=12, total_fen=1_200)
    for member in members:
        services.packet_open(user=member, packet_id=packet.pk)
    batches = []
    batch = crediting.credit_batch

    def counted(source, **kwargs):
        credited = batch(source, **kwargs)
        batches.append((source.model._meta.model_name, credited))
        return credited

    monkeypatch.setattr(crediting, "credit_batch", counted)
    assert crediting.credits_drain() == 12
    # 5 + 5 + 2: the third batch took every pending claim it could see, so no fourth
    # (claims committed after it have their own wake-up).
    assert [n for model, n in batches if model == "claim"] == [5, 5, 2]
    _claims_credited_once()
    assert_invariants()


@pytest.mark.django_db
def test_notices_are_stored_once_per_claim_though_a_batch_is_redelivered(
    people, send, asleep, django_capture_on_commit_callbacks
):
    room, sender, members = people(3)
    packet = send(sender, room, count=3, total_fen=900)
    for member in members:
        services.packet_open(user=member, packet_id=packet.pk)
    assert not _notices_of(sender)  # the open path stores none

    # A worker dies mid-batch: its transaction rolls back, notices and all.
    with pytest.raises(RuntimeError), transaction.atomic():
        assert crediting.credit_batch(services.CLAIMS) == 3
        assert len(_notices_of(sender)) == 4
        raise RuntimeError("killed")
    assert not _notices_of(sender)
    assert Claim.objects.filter(credit_status="pending").count() == 3

    # The message is redelivered, and the sweeper's drain runs too.
    with django_capture_on_commit_callbacks(execute=True):
        assert crediting.credits_drain() == 3
        assert crediting.credits_drain() == 0
        for claim_id in Claim.objects.values_list("pk", flat=True):
            assert services.claim_credit(claim_id=claim_id) is False
    assert _notices_of(sender) == Counter(
        {f"{m.name}领取了你的红包": 1 for m in members} | {"你的红包已被领完": 1}
    )
    # In the order the shares were taken, the last one last.
    texts = list(
        Message.objects.filter(kind="notice", recipient=sender)
        .order_by("pk")
        .values_list("text", flat=True)
    )
    assert texts[-1] == "你的红包已被领完"
    _claims_credited_once()
    assert_invariants()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_skips_the_rows_another_worker_holds(people, send, asleep, settings):
    room, sender, members = people(10)
    packet = send(sender, room, count=10, total_fen=5_000)
    for member in members:
        services.packet_open(user=member, packet_id=packet.pk)
    largest = list(Claim.objects.order_by("-amount_fen", "pk").values_list("pk", flat=True)[:4])
    held, release = threading.Event(), threading.Event()

    def other_worker():
        try:
            with transaction.atomic():
                rows = crediting._take(services.CLAIMS, ids=None, limit=4)
                assert [row[0] for row in rows] == largest
                held.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=other_worker)
    thread.start()
    try:
        assert held.wait(30)
        # Not blocked by the held rows: this batch takes the next ones.
        assert crediting.credit_batch(services.CLAIMS) == 6
        assert set(
            Claim.objects.filter(credit_status="pending").values_list("pk", flat=True)
        ) == set(largest)
    finally:
        release.set()
        thread.join(30)
    assert crediting.credits_drain() == 4
    _claims_credited_once()
    assert_invariants()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_drains_at_once_credit_each_claim_exactly_once(people, send, asleep, settings):
    settings.CREDIT_BATCH_SIZE = 7
    room, sender, members = people(20)
    before = {m.pk: balance_of(m) for m in members}
    packets = [send(sender, room, count=20, total_fen=4_000) for _ in range(10)]
    for packet in packets:
        for member in members:
            services.packet_open(user=member, packet_id=packet.pk)
    assert Claim.objects.filter(credit_status="pending").count() == 200
    results = run_parallel(crediting.credits_drain, [()] * 3)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(results) == 200
    print(f"\n200 claims shared by three drains: {results}")
    _claims_credited_once()
    received = Counter()
    for user_id, amount in Claim.objects.values_list("user_id", "amount_fen"):
        received[user_id] += amount
    for member in members:
        assert balance_of(member) == before[member.pk] + received[member.pk]
    assert _notices_of(sender)["你的红包已被领完"] == 10
    assert_invariants()


@pytest.mark.celery
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_lost_wake_up_is_healed_by_the_sweeper(people, send, workers):
    from django.core.cache import cache

    room, sender, members = people(5)
    # A wake-up was sent and lost (a flushed broker) while its flag stays set: the
    # opens below send none.
    assert cache.add(crediting.WAKE_FLAG, 1, timeout=600)
    for _ in range(4):
        packet = send(sender, room, count=5, total_fen=1_000)
        for member in members:
            services.packet_open(user=member, packet_id=packet.pk)
    assert Claim.objects.filter(credit_status="pending").count() == 20
    workers(concurrency=1, beat=True, env=FAST_SWEEP)
    took = wait_until(all_credited, timeout=60, message="the sweeper drained the queue")
    print(f"\nlost wake-up: 20 claims credited by the sweeper in {took:.1f}s")
    _claims_credited_once()
    assert _notices_of(sender)["你的红包已被领完"] == 4
    assert_invariants()


@pytest.mark.redis
@pytest.mark.django_db
def test_a_batchs_events_reach_the_connections_listening():
    """The batch's events skip, in one round trip, the groups nobody listens to, and
    still reach those someone does (on either Redis channel layer)."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from redpacket.kernel import events

    layer = get_channel_layer()
    kept_after: list[set[str]] = []

    def publish() -> None:  # from a plain thread, as a worker's batch does (autocommit)
        events.publish_many_on_commit(
            [
                ("user.434343", {"type": "notice", "text": "无人在线"}),
                ("user.424242", {"type": "wallet.credited", "amount_fen": 1}),
                ("user.424242", {"type": "notice", "text": "在线"}),
            ]
        )
        sender = events._sync_sender(layer)
        assert sender is not None  # a Redis channel layer: the test is marked redis
        kept_after.append(set(sender.local.empty))

    async def scenario():
        # The channel, its group and the receive in one event loop: the pub/sub layer
        # subscribes per process and loop.
        channel = await layer.new_channel()
        await layer.group_add("user.424242", channel)
        try:
            await asyncio.sleep(0.2)  # the subscription is in place
            await asyncio.to_thread(publish)
            return [(await asyncio.wait_for(layer.receive(channel), 5))["event"] for _ in range(2)]
        finally:
            await layer.group_discard("user.424242", channel)

    received = async_to_sync(scenario)()
    assert received == [
        {"type": "wallet.credited", "amount_fen": 1},
        {"type": "notice", "text": "在线"},
    ]
    assert kept_after == [set()]  # nothing kept after the batch
