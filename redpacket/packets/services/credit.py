"""入账 — credit claims from packet escrow to the receivers' change, exactly once, and tell
each sender who took a share (红包被抢提醒) in the same transaction."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django.db.models import QuerySet
from django.utils import timezone

from chat import notices
from chat import services as chat_services
from chat.data import message_data
from chat.events import user_group
from chat.models import Membership, Message
from redpacket.kernel.events import publish_many_on_commit
from redpacket.packets.models import Claim
from wallet import crediting
from wallet.models import Account, LedgerTransaction


def claim_credit(*, claim_id: int) -> bool:
    """Credit one claim from packet escrow, exactly once (reference "claim:<id>");
    returns whether this run credited it. Safe to run twice or concurrently."""
    return crediting.credit_batch(crediting.credit_source_of(Claim), ids=[claim_id]) > 0


def claims_pending(*, older_than: timedelta) -> QuerySet[Claim]:
    """Claims whose credit is still pending after `older_than` (largest first): their
    wake-up was lost, or a worker died holding them."""
    return Claim.objects.filter(
        credit_status=Claim.CreditStatus.PENDING, opened_at__lt=timezone.now() - older_than
    ).order_by("-amount_fen", "pk")


def claims_credited_notify(credited: list[crediting.Credited]) -> None:
    """The sender's notices of credited claims (红包被抢提醒), inside the batch that marks
    them credited, so each claim's are stored exactly once: "{name}领取了你的红包" (not
    for the sender's own share) and, with the last share, "你的红包已被领完" (SPEC §4).
    In the order the shares were taken; each in the first of the packet's rooms the
    claimer is in."""
    rows = Claim.objects.filter(pk__in=[c.pk for c in credited])
    months = {c.partition_key for c in credited}
    if None not in months:  # the batch took each claim's month: look only there
        rows = rows.filter(packet_created_at__in=months)
    claims = list(
        rows.order_by("packet_id", "index").values_list(
            "packet_id",
            "index",
            "user_id",
            "user__username",
            "user__display_name",
            "packet__sender_id",
            "packet__count",
            "packet__room_id",
        )
    )
    rooms = _rooms_of({packet_id for packet_id, *_ in claims})
    members = set(
        Membership.objects.filter(
            room_id__in={room for ids in rooms.values() for room in ids},
            user_id__in={user_id for _, _, user_id, *_ in claims},
        ).values_list("room_id", "user_id")
    )
    # Stored as key + parameters: each reader gets the notice in their own language.
    items: list[chat_services.Notice] = []
    for packet_id, index, user_id, username, display_name, sender_id, count, own_room in claims:
        keys: list[tuple[str, dict[str, Any]]] = []
        if user_id != sender_id:
            keys.append((notices.PACKET_CLAIMED, {"name": display_name or username}))  # User.name
        if index == count - 1:
            keys.append((notices.PACKET_FINISHED, {}))
        room_id = next((r for r in rooms.get(packet_id, []) if (r, user_id) in members), own_room)
        items += [
            chat_services.Notice(
                room_id=room_id,
                recipient_id=sender_id,
                notice_key=key,
                notice_params=params,
                packet_id=packet_id,
            )
            for key, params in keys
        ]
    publish_many_on_commit(
        [
            (
                user_group(cast(int, notice.recipient_id)),  # a notice always has one
                {
                    "type": "notice",
                    "text": notice.text,
                    "room_id": notice.room_id,
                    "packet_id": notice.packet_id,
                    "message": message_data(notice),
                },
            )
            for notice in chat_services.notices_create(items)
        ]
    )


def _rooms_of(packet_ids: set[int]) -> dict[int, list[int]]:
    """Each packet's rooms (its own, and where the sender forwarded it), in id order."""
    rooms: dict[int, list[int]] = {}
    for packet_id, room_id in (
        Message.objects.filter(packet_id__in=packet_ids, kind=Message.Kind.PACKET)
        .order_by("room_id")
        .values_list("packet_id", "room_id")
        .distinct()
    ):
        rooms.setdefault(cast(int, packet_id), []).append(room_id)  # filtered on it
    return rooms


CLAIMS = crediting.CreditSource(
    model=Claim,
    pending=claims_pending,
    escrow=Account.Kind.PACKET_ESCROW,
    kind=LedgerTransaction.Kind.CLAIM_CREDIT,
    reference_prefix="claim",
    event=lambda _pk, packet_id: {"source": "claim", "packet_id": packet_id},
    link_field="packet",
    after=claims_credited_notify,
    partition_field="packet_created_at",
)
