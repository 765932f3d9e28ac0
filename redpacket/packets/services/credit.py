"""入账 — credit claims from packet escrow to the receivers' change, exactly once, and tell
each sender who took a share (红包被抢提醒) in the same transaction."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.data import message_data
from chat.events import publish_on_commit, user_group
from chat.models import Message, Room
from redpacket.accounts.models import User
from redpacket.packets.facts import packet_room_ids
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
    claims = (
        Claim.objects.filter(pk__in=[c.pk for c in credited])
        .order_by("packet_id", "index")
        .values_list(
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
    rooms: dict[int, list[int]] = {}
    with translation.override(settings.LANGUAGE_CODE):  # stored in the site's language
        taken = gettext("%(name)s领取了你的红包")
        all_gone = gettext("你的红包已被领完")
    for packet_id, index, user_id, username, display_name, sender_id, count, own_room in claims:
        texts = []
        if user_id != sender_id:
            texts.append(taken % {"name": display_name or username})  # User.name
        if index == count - 1:
            texts.append(all_gone)
        if not texts:
            continue
        if packet_id not in rooms:
            rooms[packet_id] = packet_room_ids(packet_id) or [own_room]
        room_id = next(
            (r for r in rooms[packet_id] if chat_selectors.is_member(room_id=r, user_id=user_id)),
            own_room,
        )
        for text in texts:
            _notice(text=text, packet_id=packet_id, sender_id=sender_id, room_id=room_id)


def _notice(*, text: str, packet_id: int, sender_id: int, room_id: int) -> None:
    notice = chat_services.message_create(
        room=Room(pk=room_id),  # only its id is stored
        sender=None,
        kind=Message.Kind.NOTICE,
        text=text,
        packet_id=packet_id,
        recipient=User(pk=sender_id),  # only its id is stored
        publish=False,
    )
    publish_on_commit(
        user_group(sender_id),
        {
            "type": "notice",
            "text": text,
            "room_id": room_id,
            "packet_id": packet_id,
            "message": message_data(notice),
        },
    )


CLAIMS = crediting.CreditSource(
    model=Claim,
    pending=claims_pending,
    escrow=Account.Kind.PACKET_ESCROW,
    kind=LedgerTransaction.Kind.CLAIM_CREDIT,
    reference_prefix="claim",
    event=lambda _pk, packet_id: {"source": "claim", "packet_id": packet_id},
    link_field="packet",
    after=claims_credited_notify,
)
