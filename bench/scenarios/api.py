"""The HTTP scenarios: the crowd against the REST API, driven by wrk.

Each one seeds what its requests need (packets, money, a campaign), writes the tokens
and ids wrk's Lua script rotates through, and runs one or two loads (the second at 80 %
of the first's rate, where latency at a sustainable rate is the question). They share
the two load shapes the memory rounds repeat too: a file of hot packets and a hot open.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.context import Context, timer_bar
from bench.wrk import LoadResult


def floor(ctx: Context) -> dict[str, Any]:
    return ctx.load("floor", mode="me", tokens_file=ctx.crowd_tokens()).as_dict()


def hot_packet_file(ctx: Context, n: int, name: str) -> Path:
    """`n` live 100-share packets in the hot room; their ids in the file `name`."""
    from bench import seed

    ids = seed.bulk_packets(ctx.people, room=ctx.people.hot_room, n=n, count=100, total_fen=1000)
    return ctx.write_lines(name, ids)


def grab(ctx: Context) -> dict[str, Any]:
    packet = hot_packet_file(ctx, 1, "grab-packet.txt")
    tokens = ctx.crowd_tokens()
    result = ctx.load("grab check", mode="view", tokens_file=tokens, packets_file=packet)
    paced = ctx.load(
        "grab check at 80%",
        mode="view",
        tokens_file=tokens,
        packets_file=packet,
        rate=round(result.rps * 0.8),
    )
    return {**result.as_dict(), "at_80_percent": paced.as_dict()}


def hot_open_load(
    ctx: Context, label: str, *, seconds: float | None = None, rate: float | None = None
) -> LoadResult:
    """The crowd racing for fresh 100-share packets, one after the other."""
    packets = hot_packet_file(ctx, ctx.sizes.hot_packets, f"hot-{label.replace(' ', '-')}.txt")
    return ctx.load(
        label,
        mode="open_hot",
        tokens_file=ctx.crowd_tokens(),
        packets_file=packets,
        seconds=seconds or ctx.sizes.seconds,
        rate=rate,
        expected=(200, 409),
    )


def _claims_now() -> int:
    from bench import seed

    return seed.claims_total()


def growth_small(ctx: Context) -> dict[str, Any]:
    from bench import seed

    have = _claims_now()
    if have < ctx.sizes.growth_small:
        seed.load_history(ctx.people, claims=ctx.sizes.growth_small - have)
    claims = _claims_now()
    result = hot_open_load(ctx, "hot open (small history)")
    return {"claims_in_database": claims, **result.as_dict()}


def hot_open(ctx: Context) -> dict[str, Any]:
    result = hot_open_load(ctx, "hot open")
    paced = hot_open_load(ctx, "hot open at 80%", rate=round(result.rps * 0.8))
    return {**result.as_dict(), "at_80_percent": paced.as_dict()}


def spread_open(ctx: Context) -> dict[str, Any]:
    from bench import seed

    n = ctx.sizes.spread_packets
    with timer_bar(ctx.progress, f"seeding {n} packets", max(1, n // 700)):
        ids = seed.bulk_packets(
            ctx.people, room=ctx.people.hot_room, n=n, count=100, total_fen=1000
        )
    packets = ctx.write_lines("spread-packets.txt", ids)
    result = ctx.load(
        "spread open", mode="open_spread", tokens_file=ctx.crowd_tokens(), packets_file=packets
    )
    return {"live_packets": n, **result.as_dict()}


def send(ctx: Context) -> dict[str, Any]:
    from bench import seed

    people = ctx.people
    for sender in people.senders:
        seed.fund(people, sender, 200_000)
    seed.warm_auth(people.tokens_of(people.senders))
    tokens = ctx.write_lines("sender-tokens.txt", people.tokens_of(people.senders))
    result = ctx.load(
        "send",
        mode="send",
        tokens_file=tokens,
        expected=(201,),
        env={"BENCH_ROOM": str(people.hot_room.pk), "BENCH_TAG": f"send{time.time_ns()}"},
    )
    return {"senders": len(people.senders), **result.as_dict()}


def send_pin(ctx: Context) -> dict[str, Any]:
    """The send scenario again, the senders now with a payment PIN (every real sender has
    one once a card is bound): each send checks it under the PIN row's lock."""
    from bench import seed

    people = ctx.people
    for sender in people.senders:
        seed.give_pin(sender)
        seed.fund(people, sender, 200_000)
    tokens = ctx.write_lines("sender-tokens.txt", people.tokens_of(people.senders))
    result = ctx.load(
        "send_pin",
        mode="send_pin",
        tokens_file=tokens,
        expected=(201,),
        env={
            "BENCH_ROOM": str(people.hot_room.pk),
            "BENCH_TAG": f"sendpin{time.time_ns()}",
            "BENCH_PIN": seed.PIN,
        },
    )
    return {"senders": len(people.senders), **result.as_dict()}


def _growth_after(ctx: Context, size: int, label: str) -> dict[str, Any]:
    """History topped up to `size` claims, then the hot open measured as growth_small
    measured it; with its p50 as a multiple of growth_small's, and the load's time."""
    from bench import seed

    have = _claims_now()
    loaded: dict[str, Any] = {}
    if have < size:
        started = time.monotonic()
        with timer_bar(ctx.progress, "loading history", max(1, (size - have) // 25_000)):
            added = seed.load_history(ctx.people, claims=size - have)
        loaded = {"history_loaded": added, "load_seconds": round(time.monotonic() - started, 1)}
    claims = _claims_now()
    result = hot_open_load(ctx, label)
    small = ctx.results.get("growth_small", {})
    out = {"claims_in_database": claims, **loaded, **seed.partition_counts(), **result.as_dict()}
    if small.get("latency_ms"):
        out["p50_vs_small"] = round(
            result.latency_ms["p50"] / max(small["latency_ms"]["p50"], 0.01), 2
        )
    return out


def growth_large(ctx: Context) -> dict[str, Any]:
    return _growth_after(ctx, ctx.sizes.growth_large, "hot open (large history)")


def growth_huge(ctx: Context) -> dict[str, Any]:
    """The growth scenario at 10 M claims (quick: 50 k), over monthly partitions."""
    return _growth_after(ctx, ctx.sizes.growth_huge, "hot open (huge history)")


def shake_skip(ctx: Context) -> str | None:
    from django.urls import Resolver404, resolve

    try:
        resolve("/api/shake/campaigns/1/shake")
    except Resolver404:
        return "the shake app has no API yet (POST /api/shake/campaigns/<id>/shake)"
    return None


def shake(ctx: Context) -> dict[str, Any]:
    """Through the API alone (API.md "Shake"): a staff sponsor creates a campaign, the
    crowd shakes it. Reports shakes/s, what the answers were, and the busy (shed) rate."""
    from datetime import timedelta

    import httpx
    from django.contrib.auth.models import Permission
    from django.utils import timezone

    from bench import seed
    from redpacket.accounts.authentication import forget_user

    people = ctx.people
    sponsor = people.senders[-1]
    sponsor.is_staff = True
    sponsor.save(update_fields=["is_staff"])
    # Creating a campaign moves money: it needs Django's campaign permission.
    sponsor.user_permissions.add(
        Permission.objects.get(content_type__app_label="shake", codename="add_campaign")
    )
    forget_user(sponsor.pk)  # the cached user (from the send scenario) is not staff
    count = 10 * len(people.users)
    seed.fund(people, sponsor, count * 300)
    seed.warm_auth([people.tokens[sponsor.pk]])
    created = httpx.post(
        f"{ctx.url}/api/shake/campaigns",
        headers={
            "Authorization": f"Token {people.tokens[sponsor.pk]}",
            "Idempotency-Key": f"shake-{time.time_ns()}",
        },
        json={
            "name": "压测摇一摇",
            "budget_fen": count * 300,
            "count": count,
            "ends_at": (timezone.now() + timedelta(hours=1)).isoformat(),
            "tiers": [{"probability_ppm": 1_000_000, "min_fen": 200, "max_fen": 300}],
        },
        timeout=30,
    )
    if created.status_code != 201:
        raise RuntimeError(f"creating the campaign failed: {created.status_code} {created.text}")
    campaign = ctx.write_lines("shake-campaign.txt", [created.json()["id"]])
    result = ctx.load("shake", mode="shake", tokens_file=ctx.crowd_tokens(), packets_file=campaign)
    answers = result.extra.get("answers", {})
    data = result.as_dict()
    data["busy_rate"] = round(answers.get("busy", 0) / max(result.requests, 1), 4)
    return data
