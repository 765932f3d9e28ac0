"""The fan-out scenario: how long a `packet.new` takes to reach every member of a room.

The members are websockets held by separate processes (bench/fanout.py, whose lines
READY / STOP / RESULT this module speaks), so that the clients' event loops do not share
a core with the timing here. This side sends the packets through the API, notes when each
send began, and turns the members' arrival times into the last and the median member's
delay; a member that never got a packet counts as an error.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.context import ROOT, Context, timer_bar


def fanout(ctx: Context) -> dict[str, Any]:
    import httpx

    from bench import seed

    people, sizes = ctx.people, ctx.sizes
    sender = people.senders[0]
    members = people.users[: sizes.fanout_members]
    room = seed.group_room(sender, members, "广播群")
    seed.fund(people, sender, 10_000 * sizes.fanout_sends)
    tokens = ctx.write_lines("fanout-tokens.txt", people.tokens_of(members))
    seed.warm_auth(people.tokens_of(members))
    per = -(-len(members) // sizes.fanout_processes)
    drivers = []
    for start in range(0, len(members), per):
        drivers.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.fanout",
                    ctx.url,
                    str(room.pk),
                    str(tokens),
                    str(start),
                    str(per),
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        )
    connected = 0
    for driver in drivers:
        line = driver.stdout.readline()  # type: ignore[union-attr]
        if not line.startswith("READY"):
            raise RuntimeError(f"a fan-out driver failed: {line!r}")
        connected += int(line.split()[1])
    sent: dict[str, float] = {}
    errors = 0
    client = httpx.Client(
        base_url=ctx.url, headers={"Authorization": f"Token {people.tokens[sender.pk]}"}
    )
    with timer_bar(ctx.progress, "fan-out sends", sizes.fanout_sends * 1.5):
        for i in range(sizes.fanout_sends):
            time.sleep(1.0)
            started = time.time()
            response = client.post(
                "/api/packets",
                json={
                    "room_id": room.pk,
                    "kind": "lucky",
                    "count": 10,
                    "total_fen": 1000,
                    "pay_with": "balance",
                    "pin": seed.PIN,  # ignored until the sender has a PIN (send_pin gives one)
                },
                headers={"Idempotency-Key": f"fanout-{time.time_ns()}-{i}"},
            )
            if response.status_code != 201:
                errors += 1
                continue
            sent[str(response.json()["id"])] = started
        time.sleep(2.0)
    received: dict[str, list[float]] = {}
    retries, first_errors = 0, []
    for driver in drivers:
        output, _ = driver.communicate("STOP\n", timeout=60)
        line = next(row for row in output.splitlines() if row.startswith("RESULT "))
        data = json.loads(line.removeprefix("RESULT "))
        errors += data["errors"]
        retries += data["handshake_retries"]
        first_errors += data["first_errors"]
        for packet_id, times in data["received"].items():
            received.setdefault(packet_id, []).extend(times)
    lasts, medians, missing = [], [], 0
    for packet_id, started in sent.items():
        times = sorted(t - started for t in received.get(packet_id, []))
        missing += len(members) - len(times)
        if times:
            lasts.append(times[-1] * 1000)
            medians.append(times[len(times) // 2] * 1000)
    errors += missing
    return {
        "members": len(members),
        "connected": connected,
        "sends": len(sent),
        "missing_deliveries": missing,
        "handshake_retries": retries,
        "first_errors": first_errors[:3],
        "errors": errors,
        "last_member_ms": {
            "p50": round(statistics.median(lasts), 1) if lasts else None,
            "p99": round(_percentile(lasts, 99), 1) if lasts else None,
            "max": round(max(lasts), 1) if lasts else None,
        },
        "median_member_ms": round(statistics.median(medians), 1) if medians else None,
    }


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]
