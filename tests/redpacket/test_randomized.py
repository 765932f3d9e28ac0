"""A long seeded random run: sends, opens, expiries, credits and worker kills, with
SPEC §8 checked after every step. The seed and the steps run are printed; a failure
names its seed and step, and REDPACKET_SEED=<seed> replays it exactly (the operations are
drawn from the seed; only the worker's timing differs)."""

import os
import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from redpacket.kernel.errors import DomainError
from redpacket.packets import facts, services
from redpacket.packets.models import Claim, Packet
from tests.invariants import invariant_findings
from tests.redpacket.conftest import FAST_SWEEP, all_credited
from tests.workers import wait_until

pytestmark = [
    pytest.mark.celery,
    pytest.mark.redis,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

OPERATIONS = {
    "send": 18,
    "open": 55,
    "expire": 6,
    "credit": 12,
    "sweep": 5,
    "kill_worker": 2,
    "forward": 2,
}


def test_random_operations_keep_every_invariant(people, workers, fund):
    from chat import services as chat_services

    seed = int(os.environ.get("REDPACKET_SEED") or random.SystemRandom().randrange(2**32))
    steps = int(os.environ.get("REDPACKET_STEPS", "300"))
    rng = random.Random(seed)
    print(f"\nrandomized run: REDPACKET_SEED={seed} REDPACKET_STEPS={steps}")

    room, first, others = people(7, money=300_000)
    users = [first, *others]
    for user in others:
        fund(user, 100_000)  # binds a card: every user's payment PIN is 123456
    other_room = chat_services.room_create_group(
        creator=first, name="另一个群", member_ids=[u.pk for u in others[:3]]
    )
    worker = workers(concurrency=2, beat=True, env=FAST_SWEEP)
    kills = 0
    counts = dict.fromkeys(OPERATIONS, 0)

    for step in range(steps):
        operation = rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        counts[operation] += 1
        packets = list(Packet.objects.order_by("pk").values_list("pk", flat=True))
        try:
            if operation == "send" or not packets:
                sender = rng.choice(users)
                kind = rng.choice(["lucky", "normal"])
                count = rng.randint(1, 9)  # up to more than the 8 members, to hit the limit
                services.packet_send(
                    sender=sender,
                    room_id=room.pk,
                    kind=kind,
                    count=count,
                    total_fen=rng.randint(count, count * 3_000) if kind == "lucky" else None,
                    share_fen=rng.randint(1, 3_000) if kind == "normal" else None,
                    pin="123456",
                    request_key=str(uuid.UUID(int=rng.getrandbits(128))),
                )
            elif operation == "open":
                services.packet_open(user=rng.choice(users), packet_id=rng.choice(packets))
            elif operation == "expire":
                packet_id = rng.choice(packets)
                Packet.objects.filter(pk=packet_id, status="active").update(
                    expires_at=timezone.now() - timedelta(seconds=1)
                )
                facts.forget(packet_id)
                services.packets_expire_due()
            elif operation == "credit":
                pending = list(
                    Claim.objects.filter(credit_status="pending").values_list("pk", flat=True)
                )
                if pending:
                    services.claim_credit(claim_id=rng.choice(pending))
            elif operation == "sweep":
                from wallet.tasks import credit_sweep

                credit_sweep()
            elif operation == "kill_worker":
                worker.kill()
                kills += 1
                worker = workers(concurrency=2, beat=True, env=FAST_SWEEP)
            elif operation == "forward":
                packet = Packet.objects.get(pk=rng.choice(packets))
                services.packet_forward(
                    user=packet.sender, packet_id=packet.pk, room_id=other_room.pk
                )
        except DomainError:
            pass  # refusals (finished, expired, limits, balance) are part of the game
        findings = invariant_findings()
        assert not findings, f"REDPACKET_SEED={seed} step {step} ({operation}): " + "; ".join(
            map(str, findings)
        )

    took = wait_until(all_credited, timeout=120, message="every claim credited at the end")
    findings = invariant_findings()
    assert not findings, f"REDPACKET_SEED={seed} at the end: " + "; ".join(map(str, findings))
    print(
        f"seed {seed}: {steps} steps {counts}, {Packet.objects.count()} packets, "
        f"{Claim.objects.count()} claims, {kills} worker kills; "
        f"drained {took:.1f}s after the last step"
    )
