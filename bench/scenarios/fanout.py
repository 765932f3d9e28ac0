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
    joining = time.monotonic()
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
    joined_s = time.monotonic() - joining
    sent: dict[str, float] = {}
    answers: list[float] = []  # the POST's own time, ms
    errors = 0
    client = httpx.Client(
        base_url=ctx.url, headers={"Authorization": f"Token {people.tokens[sender.pk]}"}
    )
    seconds = sizes.fanout_sends + 5
    servers = ctx.asgi_processes()
    cpu_before = _cpu_seconds(servers)
    with (
        ctx.profiling("fan-out", seconds, lambda: [process.pid for process in servers]),
        timer_bar(ctx.progress, "fan-out sends", seconds),
    ):
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
            answers.append((time.time() - started) * 1000)
            if response.status_code != 201:
                errors += 1
                continue
            sent[str(response.json()["id"])] = started
        time.sleep(5.0)  # a late packet still counts (in the delays), not as missing
    asgi_cpu_s = _cpu_seconds(servers) - cpu_before
    received: dict[str, list[float]] = {}
    retries, first_errors, handshakes = 0, [], []
    for driver in drivers:
        output, _ = driver.communicate("STOP\n", timeout=60)
        line = next(row for row in output.splitlines() if row.startswith("RESULT "))
        data = json.loads(line.removeprefix("RESULT "))
        errors += data["errors"]
        retries += data["handshake_retries"]
        first_errors += data["first_errors"]
        handshakes += data["handshake_s"]
        for packet_id, times in data["received"].items():
            received.setdefault(packet_id, []).extend(times)
    firsts, lasts, medians, missing = [], [], [], 0
    for packet_id, started in sent.items():
        times = sorted(t - started for t in received.get(packet_id, []))
        missing += len(members) - len(times)
        if times:
            firsts.append(times[0] * 1000)
            lasts.append(times[-1] * 1000)
            medians.append(times[len(times) // 2] * 1000)
    errors += missing
    return {
        "members": len(members),
        "connected": connected,
        "sends": len(sent),
        "missing_deliveries": missing,
        "handshake_retries": retries,
        "handshake": {
            # From starting the member processes to the last one's READY (their start-up
            # included), and each member's ticket request + websocket upgrade.
            "all_joined_s": round(joined_s, 2),
            "joins_per_s": round(connected / joined_s, 1) if joined_s else None,
            "p50_ms": round(statistics.median(handshakes) * 1000, 1) if handshakes else None,
            "p99_ms": round(_percentile(handshakes, 99) * 1000, 1) if handshakes else None,
        },
        "first_errors": first_errors[:3],
        "errors": errors,
        "last_member_ms": {
            "p50": round(statistics.median(lasts), 1) if lasts else None,
            "p99": round(_percentile(lasts, 99), 1) if lasts else None,
            "max": round(max(lasts), 1) if lasts else None,
        },
        "median_member_ms": round(statistics.median(medians), 1) if medians else None,
        # Where the time goes: the send's answer (the event leaves at its commit) and
        # the first member's delay; the rest is writing the frames.
        "send_answer_ms_p50": round(statistics.median(answers), 1) if answers else None,
        "first_member_ms_p50": round(statistics.median(firsts), 1) if firsts else None,
        # CPU the ASGI servers spent while the packets went out, per delivery: the cost
        # that does not depend on what else shares the machine.
        "asgi_cpu_ms_per_delivery": (
            round(asgi_cpu_s * 1000 / (len(sent) * len(members) - missing), 3)
            if len(sent) * len(members) > missing
            else None
        ),
    }


def _cpu_seconds(processes: list[Any]) -> float:
    total = 0.0
    for process in processes:
        times = process.cpu_times()
        total += times.user + times.system
    return total


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[rank]
