"""Red packet reads that the API and the pages share — one place for SPEC §4's rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict

from django.db.models import Count, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from chat import hooks
from chat.hooks import register_message_decorator
from redpacket.accounts.models import User
from redpacket.accounts.selectors import user_data
from redpacket.kernel.replica import history_db
from redpacket.packets import errors, facts, rules
from redpacket.packets.facts import PacketFacts
from redpacket.packets.gate import PacketStore, Snapshot, packet_store
from redpacket.packets.models import Claim, Packet
from redpacket.packets.services.common import public_packet
from redpacket.packets.services.open import may_open, member_room, packet_facts_for
from wallet import received
from wallet.notices import NoticeLink

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class ClaimedCount(TypedDict):
    """What `packets_sent` puts on each packet."""

    claimed_count: int


def _viewer_state(packet_facts: PacketFacts, left: int | None) -> str:
    status = rules.effective_status(
        packet_facts["status"], packet_facts["expires_ts"], timezone.now().timestamp()
    )
    if status == rules.ACTIVE and left is not None and left <= 0:
        status = rules.FINISHED  # every place is taken; the late crowd stops here
    return status


def packet_for_viewer(packet_facts: PacketFacts, status: str, viewer: User) -> dict[str, Any]:
    """API.md's packet for one viewer: `total_fen` only for the sender."""
    data = public_packet(packet_facts)
    data["status"] = status
    if packet_facts["sender_id"] == viewer.pk:
        data["total_fen"] = packet_facts["total_fen"]
    return data


def packet_view(*, user: User, packet_id: int) -> dict[str, Any]:
    """抢 — the grab check: what the open page shows `user`, from the cache alone when warm
    (facts, membership, the gate's places and the caller's share: no SQL)."""
    store = packet_store()
    snapshot = store.snapshot(packet_id, user.pk)
    packet_facts = snapshot.facts
    if packet_facts is None or snapshot.left is None:
        packet_facts = facts.load(packet_id)  # warms the facts and rebuilds a missing gate
        if packet_facts is None:
            raise errors.PacketNotFound()
        snapshot = store.snapshot(packet_id, user.pk)
    if member_room(packet_facts, user.pk) is None:
        raise errors.PacketNotFound()
    status = _viewer_state(packet_facts, snapshot.left)
    view = rules.open_view(
        is_sender=packet_facts["sender_id"] == user.pk,
        count=packet_facts["count"],
        status=status,
        my_amount=snapshot.my_amount,
        for_someone_else=not may_open(packet_facts, user.pk),
    )
    return {
        **packet_for_viewer(packet_facts, status, user),
        "view": view,
        "my_amount_fen": snapshot.my_amount,
    }


def user_name(user: dict[str, Any]) -> str:
    """What a page calls a user given as `user_data`."""
    return str(user.get("display_name") or user.get("username") or "")


def _packet_visible(packet: Packet, user: User) -> PacketFacts:
    packet_facts = facts.facts_of(packet)
    if member_room(packet_facts, user.pk) is None:
        raise errors.PacketNotFound()
    return packet_facts


def packet_live_room(*, user: User, packet_id: int) -> int | None:
    """A room of the packet that `user` is a member of: its socket carries the packet's
    live events (`packet.claimed`, `packet.finished`) and the user's own; None if none."""
    try:
        packet_facts = packet_facts_for(packet_id)
    except errors.PacketNotFound:
        return None
    return member_room(packet_facts, user.pk)


def packet_result(*, user: User, packet_id: int) -> dict[str, Any]:
    """The result page (SPEC §4 rules 1–8, the expired and unfinished lines) for `user`;
    `credited` (null without a share) says whether the viewer's share is in their change
    yet, and `credit_line` reads accordingly ("入账中…" until then)."""
    packet = Packet.objects.select_related("sender", "to_user").filter(pk=packet_id).first()
    if packet is None:
        raise errors.PacketNotFound()
    packet_facts = _packet_visible(packet, user)
    claims = list(packet.claims.select_related("user").order_by("index"))
    mine = next((claim for claim in claims if claim.user_id == user.pk), None)
    credited = mine.credit_status == Claim.CreditStatus.CREDITED if mine else None
    is_sender = packet.sender_id == user.pk
    status = rules.effective_status(
        packet.status, packet.expires_at.timestamp(), timezone.now().timestamp()
    )
    page = rules.result_page(
        rules.ResultFacts(
            kind=packet.kind,
            count=packet.count,
            total_fen=packet.total_fen,
            status=status,
            is_sender=is_sender,
            my_amount=mine.amount_fen if mine else None,
            claims=[
                rules.ClaimRow(c.user_id, c.amount_fen, c.opened_at.timestamp(), c.index)
                for c in claims
            ],
            created_at_ts=packet.created_at.timestamp(),
            finished_at_ts=packet.finished_at.timestamp() if packet.finished_at else None,
            ttl_seconds=int((packet.expires_at - packet.created_at).total_seconds()),
            to_name=packet.to_user.name if packet.to_user is not None else None,
        )
    )
    result: dict[str, Any] = {
        "packet": packet_for_viewer(packet_facts, status, user),
        "my_amount_fen": mine.amount_fen if mine else None,
        "summary": page.summary,
        "buttons": page.buttons,
        "claims": [
            {
                "user": user_data(claim.user),
                "amount_fen": claim.amount_fen,
                "opened_at": claim.opened_at,
                "best_luck": claim.user_id == page.best_luck_user_id,
            }
            for claim in (reversed(claims) if page.show_claims else [])
        ],
        "claimed_count": page.claimed_count,
        "finished_in_seconds": page.finished_in_seconds,
        "notes": page.notes,
        "credited": credited,
        "credit_line": rules.credit_state_line(credited=bool(credited), seed=mine.pk)
        if mine
        else None,
    }
    if is_sender:
        result["claimed_fen"] = page.claimed_fen
    return result


def _year_range(year: int) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)


def packets_received(*, user: User, year: int) -> dict[str, Any]:
    """我的红包 → 收到的红包: the year's total, count and best-luck wins, and the entries
    (newest first) of every way of receiving registered in `wallet.received` — shares of
    packets and shake wins alike (SPEC §5: a win is a packet of the user's). Best luck
    counts packet shares only: a win has no one to be luckier than."""
    start, end = _year_range(year)
    # History: the replica may serve it (redpacket/kernel/replica.py).
    db = history_db(user.pk)
    parts = [
        part.using(db) for part in received.entries_between(user_id=user.pk, start=start, end=end)
    ]
    total_fen = count = 0
    for part in parts:
        sums = part.aggregate(total=Coalesce(Sum("r_amount"), 0), count=Count("r_id"))
        total_fen += sums["total"]
        count += sums["count"]
    entries = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    best_user = Subquery(
        Claim.objects.filter(packet=OuterRef("packet"))
        .order_by("-amount_fen", "opened_at", "index")
        .values("user_id")[:1]
    )
    best_luck_count = (
        Claim.objects.using(db)
        .filter(
            user=user,
            opened_at__gte=start,
            opened_at__lt=end,
            packet__kind=Packet.Kind.LUCKY,
            packet__status=Packet.Status.FINISHED,
        )
        .annotate(best_user=best_user)
        .filter(best_user=user.pk)
        .count()
    )
    return {
        "total_fen": total_fen,
        "count": count,
        "best_luck_count": best_luck_count,
        "entries": entries.order_by("-r_at", "-r_id"),
    }


def received_rows(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of one page of `packets_received(...)["entries"]`, each with its
    `source` ("packet" | "shake") and `result_url`."""
    return received.rows_for(list(entries))


def claim_entries(*, user_id: int, start: datetime, end: datetime) -> QuerySet[Any]:
    """`wallet.received`'s entries for packet shares: the user's claims opened in [start, end)."""
    return received.entries_of(
        Claim.objects.filter(user_id=user_id, opened_at__gte=start, opened_at__lt=end),
        source="packet",
        at="opened_at",
    )


def claim_rows(claim_ids: list[int]) -> dict[int, dict[str, Any]]:
    """`wallet.received`'s rows for packet shares, with their best-luck mark."""
    best_user = Subquery(
        Claim.objects.filter(packet=OuterRef("packet"))
        .order_by("-amount_fen", "opened_at", "index")
        .values("user_id")[:1]
    )
    claims = (
        Claim.objects.filter(pk__in=claim_ids)
        .select_related("packet__sender")
        .annotate(best_user=best_user)
    )
    return {claim.pk: received_row(claim) for claim in claims}


def received_row(claim: Claim) -> dict[str, Any]:
    packet = claim.packet
    return {
        "source": "packet",
        "packet_id": packet.pk,
        "win_id": None,
        "kind": packet.kind,
        "sender": user_data(packet.sender),
        "greeting": packet.greeting,
        "amount_fen": claim.amount_fen,
        "opened_at": claim.opened_at,
        "best_luck": packet.kind == Packet.Kind.LUCKY
        and packet.status == Packet.Status.FINISHED
        and getattr(claim, "best_user", None) == claim.user_id,
        "result_url": reverse("redpacket:result", args=[packet.pk]),
    }


received.received_source_register(
    received.ReceivedSource(name="packet", entries=claim_entries, rows=claim_rows)
)


def packets_sent(*, user: User, year: int) -> dict[str, Any]:
    """我的红包 → 发出的红包: the year's total, count, and the packets with their state."""
    start, end = _year_range(year)
    packets = (
        Packet.objects.using(history_db(user.pk))
        .filter(sender=user, created_at__gte=start, created_at__lt=end)
        .annotate(claimed_count=Count("claims"))
        .order_by("-created_at")
    )
    totals = packets.aggregate(
        total=Coalesce(Sum("total_fen"), 0), count=Count("pk", distinct=True)
    )
    return {"total_fen": totals["total"], "count": totals["count"], "packets": packets}


def sent_row(packet: WithAnnotations[Packet, ClaimedCount]) -> dict[str, Any]:
    status = rules.effective_status(
        packet.status, packet.expires_at.timestamp(), timezone.now().timestamp()
    )
    return {
        "packet_id": packet.pk,
        "kind": packet.kind,
        "count": packet.count,
        "total_fen": packet.total_fen,
        "claimed_count": packet.claimed_count,
        "status": status,
        "state": rules.record_state(status, packet.claimed_count, packet.count),
        "created_at": packet.created_at,
    }


@register_message_decorator
def decorate_packet_messages(messages: list[dict[str, Any]], viewer: User) -> None:
    """Packet bubbles per viewer (SPEC §4 Chat): opened by me / finished / expired.

    In a websocket fan-out (`chat.hooks.shared_lookups()`), each packet's state — facts,
    places left and every share — is read once per event and process and shared by all
    the connections that receive it; elsewhere each viewer reads only their own share."""
    store = packet_store()
    shared = hooks.shared_lookups()
    for message in messages:
        packet_id = message.get("packet_id")
        if message.get("kind") != "packet" or packet_id is None:
            continue
        snapshot = _viewer_snapshot(store, shared, packet_id, viewer.pk)
        if snapshot is None:
            continue
        packet_facts = snapshot.facts
        assert packet_facts is not None
        to_user = packet_facts.get("to_user")
        message["packet"] = {
            "id": packet_id,
            "kind": packet_facts["kind"],
            "greeting": packet_facts["greeting"],
            "status": _viewer_state(packet_facts, snapshot.left),
            "opened": snapshot.my_amount is not None,
            # 专属于{name}的红包, the same for everyone in the room.
            "exclusive_label": rules.exclusive_label(user_name(to_user)) if to_user else None,
        }


def _viewer_snapshot(
    store: PacketStore, shared: dict[Any, Any] | None, packet_id: int, user_id: int
) -> Snapshot | None:
    """The viewer's snapshot (facts loaded from the database on a miss); None if the
    packet does not exist."""
    if shared is None:
        snapshot = store.snapshot(packet_id, user_id)
        if snapshot.facts is None or snapshot.left is None:
            if facts.load(packet_id) is None:
                return None
            snapshot = store.snapshot(packet_id, user_id)
        return snapshot
    key = ("redpacket.state", packet_id)
    state = shared.get(key)
    if state is None:
        state = store.state(packet_id)
        if state.facts is None or state.left is None:
            if facts.load(packet_id) is None:
                return None
            state = store.state(packet_id)
        shared[key] = state
    return state.snapshot_for(user_id)


# --- 服务通知 links ---------------------------------------------------------------------


def _ids_after(prefix: str, references: list[str], suffix: str = "") -> dict[int, str]:
    """id → reference for references this app wrote as "<prefix>:<id><suffix>"."""
    ids: dict[int, str] = {}
    for reference in references:
        head, _sep, rest = reference.partition(":")
        rest = rest.removesuffix(suffix) if suffix else rest
        if head == prefix and rest.isdigit():
            ids[int(rest)] = reference
    return ids


def claim_notice_links(references: list[str]) -> dict[str, NoticeLink]:
    """A credited claim's notice ("claim:<id>", `claim_credit`'s reference) links to its
    packet's result page."""
    ids = _ids_after("claim", references)
    rows = Claim.objects.filter(pk__in=ids).values_list("pk", "packet_id")
    return {
        ids[pk]: NoticeLink(url=reverse("redpacket:result", args=[packet_id]), packet_id=packet_id)
        for pk, packet_id in rows
    }


def refund_notice_links(references: list[str]) -> dict[str, NoticeLink]:
    """A refund's notice ("packet:<id>:refund", `packet_expire`'s) links to the packet."""
    return {
        reference: NoticeLink(url=reverse("redpacket:result", args=[pk]), packet_id=pk)
        for pk, reference in _ids_after("packet", references, ":refund").items()
    }
