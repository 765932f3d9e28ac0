"""Where one operation's time goes, without the servers in between.

    python -m bench.inprocess me|peek|open|send|credit|drain [-n 1000] [--profile [--dump F]]

Runs the operation `n` times, one after the other, in this process: an open or a send
through Django's test client (the whole middleware, DRF and service path, the gate and
the events on the benchmark's Redis), a credit through the service a worker runs, or
(drain) batches of credits as the crediting worker takes them (DRAIN_BATCH, default
CREDIT_BATCH_SIZE).
Prints operations per second and, with `--profile`, cProfile's heaviest functions in CPU
time (waits on the database and Redis are not this process's cost). It uses the
benchmark's database and Redis db (`make bench` or `make bench-quick` creates and
migrates them) and adds its own users to them.

This is the profile to take where py-spy cannot attach to the stack's processes (some
containers refuse it: `--profile` of `make bench` then reports "no samples"), and the
quickest way to see what a change to one hot path is worth.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from collections import Counter
from collections.abc import Callable

from bench.env import setup_django, target_from_environment

SHOWN = r"work/.*/(redpacket|chat|wallet|shake)/|celery/app/task|kombu/messaging|serializers.py"


def _people(crowd: int, senders: int):  # type: ignore[no-untyped-def]
    from bench import seed

    return seed.create_people(crowd=crowd, senders=senders, tag=f"ip{time.time_ns()}")


_HANDLER = None


def _client(token: str):  # type: ignore[no-untyped-def]
    """A test client with the token; all of them share one handler, as a server's
    requests share one process: each client's own would build the middleware chain
    (WhiteNoise reads the collected static files) on its first request, inside the timing."""
    from django.test import Client
    from django.test.client import ClientHandler

    global _HANDLER
    if _HANDLER is None:
        _HANDLER = ClientHandler(enforce_csrf_checks=False)
        _HANDLER.load_middleware()
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    client.handler = _HANDLER
    return client


def prepare_open(n: int) -> Callable[[int], object]:
    """`n` live 10-share packets, opened round-robin by 50 members."""
    from bench import seed

    people = _people(200, 1)
    packets = seed.bulk_packets(people, room=people.hot_room, n=n, count=10, total_fen=1000)
    clients = [_client(token) for token in people.tokens_of(people.users[:50])]
    return lambda i: clients[i % len(clients)].post(f"/api/packets/{packets[i]}/open").status_code


def prepare_me(n: int) -> Callable[[int], object]:
    """The floor request: `GET /api/me` with a cached token, 50 users round-robin."""
    from bench import seed

    people = _people(60, 1)
    tokens = people.tokens_of(people.users[:50])
    seed.warm_auth(tokens)
    clients = [_client(token) for token in tokens]
    return lambda i: clients[i % len(clients)].get("/api/me").status_code


def prepare_peek(n: int) -> Callable[[int], object]:
    """The grab check: `GET /api/packets/<id>` of live packets by room members."""
    from bench import seed

    people = _people(60, 1)
    packets = seed.bulk_packets(people, room=people.hot_room, n=50, count=10, total_fen=1000)
    tokens = people.tokens_of(people.users[:50])
    seed.warm_auth(tokens)
    clients = [_client(token) for token in tokens]
    return lambda i: clients[i % len(clients)].get(f"/api/packets/{packets[i % 50]}").status_code


def prepare_send(n: int) -> Callable[[int], object]:
    """20 funded senders (no PIN) paying 2-share packets into a big room."""
    from bench import seed

    people = _people(300, 20)
    for sender in people.senders:
        seed.fund(people, sender, 200 * n)
    clients = [_client(token) for token in people.tokens_of(people.senders)]
    body = json.dumps(
        {
            "room_id": people.hot_room.pk,
            "kind": "lucky",
            "count": 2,
            "total_fen": 200,
            "greeting": "bench",
            "pay_with": "balance",
        }
    )
    tag = time.time_ns()

    def send(i: int) -> object:
        return (
            clients[i % len(clients)]
            .post(
                "/api/packets",
                body,
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"{tag}-{i}",
            )
            .status_code
        )

    return send


def prepare_credit(n: int) -> Callable[[int], object]:
    """`n` pending claims of finished packets, credited one by one."""
    from bench import seed
    from redpacket.packets import services

    people = _people(100, 1)
    backlog = seed.claim_backlog(people, packets=max(1, n // 100), count=100)
    return lambda i: services.claim_credit(claim_id=backlog[i][0])


def drain_batch() -> int:
    """The drain's batch size: DRAIN_BATCH, else the worker's (CREDIT_BATCH_SIZE)."""
    import os

    from django.conf import settings

    return int(os.environ.get("DRAIN_BATCH") or settings.CREDIT_BATCH_SIZE)


def prepare_drain(n: int) -> Callable[[int], object]:
    """`n` pending claims of finished packets; each operation credits a batch
    (`drain_batch()`, largest first, as the crediting worker does)."""
    from bench import seed
    from redpacket.packets import services
    from wallet import crediting

    people = _people(100, 1)
    seed.claim_backlog(people, packets=max(1, n // 100), count=100)
    return lambda i: crediting.credit_batch(services.CLAIMS, limit=drain_batch())


OPERATIONS = {
    "me": prepare_me,
    "peek": prepare_peek,
    "open": prepare_open,
    "send": prepare_send,
    "credit": prepare_credit,
    "drain": prepare_drain,
}


def _load() -> str:
    import os

    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("operation", choices=sorted(OPERATIONS))
    parser.add_argument("-n", type=int, default=1000, help="operations (credit: whole hundreds)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument("--dump", metavar="FILE", help="with --profile: also save the stats here")
    args = parser.parse_args()
    setup_django(target_from_environment())

    run = OPERATIONS[args.operation](args.n)
    n = args.n - args.n % 100 if args.operation == "credit" else args.n
    if args.operation == "drain":
        n = args.n // drain_batch()
    outcomes: Counter[object] = Counter()
    profiler = cProfile.Profile(time.process_time)
    started = time.perf_counter()
    cpu_started = time.process_time()
    if args.profile:
        profiler.enable()
    for i in range(n):
        outcomes[run(i)] += 1
    if args.profile:
        profiler.disable()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    print(f"{args.operation}: {n} in {elapsed:.2f} s = {n / elapsed:.0f}/s in one process")
    print(f"cpu: {1000 * cpu / n:.3f} ms per operation (this process, load average {_load()})")
    if args.operation == "drain":
        credits = sum(k * v for k, v in outcomes.items())
        print(f"credits: {credits} = {credits / elapsed:.0f}/s")
    print(f"outcomes: {dict(outcomes)}")
    if args.profile:
        print("(cProfile slows everything about twice; read the shares, not the times)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(SHOWN, 40)
        if args.dump:
            profiler.dump_stats(args.dump)


if __name__ == "__main__":
    main()
