"""拆 — open a packet: the gate admits at most `remaining` users, each once; only they
reach the database, where one statement (PostgreSQL) or one short transaction takes the
next of the shares computed at send, decrements the packet and records the claim.
Opening twice returns the same share."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import nullcontext
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, JSONField, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext

from chat import selectors as chat_selectors
from redpacket.accounts.models import User
from redpacket.accounts.selectors import user_data
from redpacket.packets import errors, facts, rules
from redpacket.packets.facts import PacketFacts
from redpacket.packets.gate import Admission, Snapshot, packet_store
from redpacket.packets.models import Claim, Packet, PacketShares
from redpacket.packets.services.common import packet_shares_of, publish_to_rooms
from wallet import crediting

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenResult:
    amount_fen: int
    repeat: bool


def member_room(packet_facts: PacketFacts, user_id: int) -> int | None:
    """The first room of the packet the user is in (cached membership: no SQL when warm)."""
    for room_id in packet_facts["room_ids"]:
        if chat_selectors.is_member(room_id=room_id, user_id=user_id):
            return room_id
    return None


def may_open(packet_facts: PacketFacts, user_id: int) -> bool:
    """False for anyone but the chosen member of an exclusive packet (facts cached before
    exclusive packets existed have no recipient: such a packet is not exclusive)."""
    to_user_id = packet_facts.get("to_user_id")
    return to_user_id is None or to_user_id == user_id


def packet_facts_for(packet_id: int, snapshot: Snapshot | None = None) -> PacketFacts:
    """Cached facts (from `snapshot` if the caller has read the gate already), rebuilt
    from the database on a miss; PacketNotFound if none."""
    if snapshot is None:
        snapshot = packet_store().snapshot(packet_id, 0)
    found = snapshot.facts or facts.load(packet_id)
    if found is None:
        raise errors.PacketNotFound()
    return found


def packet_open(*, user: User, packet_id: int) -> OpenResult:
    """Open `packet_id` for `user`: a new share, or the one they already have (`repeat`).

    Refuses with 403 not_allowed (a non-member; the sender of a count-1 packet; anyone
    but the chosen member of an exclusive packet — before the gate, so it never admits
    them), 410 expired, 409 finished. The unique (packet, user) index is the last guard,
    and the claim statement itself takes no share of an exclusive packet for another.
    """
    store = packet_store()
    # One round trip for the facts and the gate's word on the caller: a repeat open and
    # a refusal of a finished packet (most of a crowd's answers) need no other.
    seen = store.snapshot(packet_id, user.pk)
    packet_facts = packet_facts_for(packet_id, seen)
    room_id = member_room(packet_facts, user.pk)
    if room_id is None:
        raise errors.PacketNotAllowed()
    if packet_facts["sender_id"] == user.pk and packet_facts["count"] == 1:
        raise errors.PacketNotAllowed(gettext("不能领取自己发给对方的红包"))
    if not may_open(packet_facts, user.pk):
        raise errors.PacketNotAllowed()
    if seen.my_amount is not None:
        # The gate holds the share of the caller's committed open: the same answer again.
        return OpenResult(seen.my_amount, repeat=True)

    if (
        timezone.now().timestamp() >= packet_facts["expires_ts"]
        or packet_facts["status"] == rules.EXPIRED
    ):
        previous = (
            Claim.objects.filter(packet_id=packet_id, user=user)
            .values_list("amount_fen", flat=True)
            .first()
        )
        if previous is not None:
            return OpenResult(previous, repeat=True)
        store.close(packet_id)
        raise errors.PacketExpired()
    if seen.left == 0 and not seen.admitted:
        raise errors.PacketFinished()  # the gate's admission would say so

    admission = store.admit(packet_id, user.pk)
    if admission is Admission.MISSING:
        facts.build_gate(Packet.objects.get(pk=packet_id))
        admission = store.admit(packet_id, user.pk)
    if admission is Admission.FINISHED:
        raise errors.PacketFinished()
    if admission is Admission.ALREADY:
        previous = (
            Claim.objects.filter(packet_id=packet_id, user=user)
            .values_list("amount_fen", flat=True)
            .first()
        )
        if previous is not None:
            store.record(packet_id, user.pk, previous)
            return OpenResult(previous, repeat=True)
        # Admitted earlier by an attempt that died before its transaction: go on.

    try:
        result = _claim(user=user, packet_facts=packet_facts)
    except (errors.PacketFinished, errors.PacketExpired):
        store.close(packet_id)  # the database says no more shares: so does the gate now
        raise
    except BaseException:
        store.release(packet_id, user.pk)
        raise
    if result.repeat:
        store.restore(packet_id, user.pk, result.amount_fen)
    return result


@dataclass(frozen=True)
class _Taken:
    """What one open took: a new share (`claim_id`, `index`), or the caller's earlier one."""

    amount_fen: int
    claim_id: int | None = None
    index: int = -1

    @property
    def repeat(self) -> bool:
        return self.claim_id is None


def _claim(*, user: User, packet_facts: PacketFacts) -> OpenResult:
    """Take the next share: on PostgreSQL one statement in autocommit (`_take_sql`),
    elsewhere one short ORM transaction (`_take_orm`); both take `shares[index]` as sent.
    Then, with no lock held: the crediting worker is woken, the gate learns the amount,
    and the room hears of it."""
    packet_id = packet_facts["id"]
    now = timezone.now()
    take = _take_sql if connection.vendor == "postgresql" else _take_orm
    try:
        taken = take(packet_id=packet_id, user=user, now=now)
    except IntegrityError:
        # The unique (packet, user) index caught a second share: answer with the first.
        previous = (
            Claim.objects.filter(packet_id=packet_id, user=user)
            .values_list("amount_fen", flat=True)
            .first()
        )
        if previous is None:
            raise
        return OpenResult(previous, repeat=True)
    if taken is None and _fill_missing_shares(packet_id):
        taken = take(packet_id=packet_id, user=user, now=now)
    if taken is None:
        raise _no_share_left(packet_id, now)
    if taken.repeat:
        return OpenResult(taken.amount_fen, repeat=True)

    assert taken.claim_id is not None
    # The crediting worker first: the claim is committed (the queue of record), and a
    # failure of what follows (Redis) must not be what leaves it to the sweeper.
    crediting.credit_wake()
    packet_store().record(packet_id, user.pk, taken.amount_fen)
    _announce(packet_facts=packet_facts, user=user, claimed_count=taken.index + 1)
    return OpenResult(taken.amount_fen, repeat=False)


def _fill_missing_shares(packet_id: int) -> bool:
    """Give an active packet sent without a share list (by a process still running the
    code from before the list, during a deploy) its list; True if it had none."""
    has_none = ~Exists(PacketShares.objects.filter(packet=OuterRef("pk")))
    packet = Packet.objects.filter(has_none, pk=packet_id, status=Packet.Status.ACTIVE).first()
    if packet is None:
        return False
    PacketShares.objects.bulk_create(
        [PacketShares(packet=packet, amounts=packet_shares_of(packet))], ignore_conflicts=True
    )
    return True


def _no_share_left(packet_id: int, now: dt.datetime) -> errors.DomainError:
    """Why the packet had no share for the caller: expired, or all taken."""
    status, expires_at = Packet.objects.values_list("status", "expires_at").get(pk=packet_id)
    if status == Packet.Status.EXPIRED or expires_at <= now:
        return errors.PacketExpired()
    return errors.PacketFinished()


# One statement: the packet row is locked only while it runs. The UPDATE's SET sees the
# row as it was (index = count − remaining_count), its RETURNING as it is now (one less);
# the share comes from the packet's list, a row of its own that is never updated.
# A second share of the same user violates the unique (packet, user, packet month)
# index, which undoes the whole statement; the claim carries its packet's created_at,
# the month it is partitioned by (PostgreSQL). No row: the packet is finished or expired
# (or has no list yet: `_fill_missing_shares`).
_TAKE_SQL = """
WITH taken AS (
    UPDATE {packet} AS p SET
        remaining_count = p.remaining_count - 1,
        remaining_fen = p.remaining_fen
            - (s.amounts ->> (p.count - p.remaining_count)::int)::bigint,
        status = CASE WHEN p.remaining_count = 1 THEN %(finished)s ELSE p.status END,
        finished_at = CASE WHEN p.remaining_count = 1 THEN %(now)s ELSE p.finished_at END
    FROM {shares} AS s
    WHERE p.id = %(packet_id)s AND s.packet_id = p.id AND p.remaining_count > 0
        AND p.status = %(active)s AND p.expires_at > %(now)s
        AND (p.to_user_id IS NULL OR p.to_user_id = %(user_id)s)
    RETURNING p.id, p.created_at, p.count - p.remaining_count - 1 AS share_index,
        (s.amounts ->> (p.count - p.remaining_count - 1)::int)::bigint AS amount
)
INSERT INTO {claim} (packet_id, packet_created_at, user_id, "index", amount_fen, opened_at,
    credit_status)
SELECT id, created_at, %(user_id)s, share_index, amount, %(now)s, %(pending)s FROM taken
RETURNING id, "index", amount_fen
"""


def _take_sql(*, packet_id: int, user: User, now: dt.datetime) -> _Taken | None:
    sql = _TAKE_SQL.format(
        packet=connection.ops.quote_name(Packet._meta.db_table),
        shares=connection.ops.quote_name(PacketShares._meta.db_table),
        claim=connection.ops.quote_name(Claim._meta.db_table),
    )
    params: dict[str, int | str | dt.datetime] = {
        "packet_id": packet_id,
        "user_id": user.pk,
        "now": now,
        "active": str(Packet.Status.ACTIVE),
        "finished": str(Packet.Status.FINISHED),
        "pending": str(Claim.CreditStatus.PENDING),
    }
    # In autocommit the statement is its own transaction; inside a caller's transaction
    # a savepoint keeps a unique violation from breaking it.
    savepoint = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with savepoint, connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    claim_id, index, amount = row
    return _Taken(amount_fen=amount, claim_id=claim_id, index=index)


def _take_orm(*, packet_id: int, user: User, now: dt.datetime) -> _Taken | None:
    """The same rule through the ORM (SQLite: the write lock serialises the transaction)."""
    mine = Claim.objects.filter(packet=OuterRef("pk"), user=user).values("amount_fen")[:1]
    amounts = PacketShares.objects.filter(packet=OuterRef("pk")).values("amounts")[:1]
    with transaction.atomic():
        # One statement locks the packet, finds the caller's earlier share and the list.
        packet = (
            Packet.objects.select_for_update()
            .annotate(
                previous_fen=Subquery(mine),
                shares=Subquery(amounts, output_field=JSONField()),
            )
            .get(pk=packet_id)
        )
        if packet.previous_fen is not None:
            return _Taken(amount_fen=packet.previous_fen)
        if (
            packet.status != Packet.Status.ACTIVE
            or packet.expires_at <= now
            or packet.remaining_count == 0
            or packet.shares is None
            or packet.to_user_id not in (None, user.pk)
        ):
            return None
        index = packet.count - packet.remaining_count
        amount = int(packet.shares[index])
        packet.remaining_count -= 1
        packet.remaining_fen -= amount
        if packet.remaining_count == 0:
            packet.status = Packet.Status.FINISHED
            packet.finished_at = now
        packet.save(update_fields=["remaining_count", "remaining_fen", "status", "finished_at"])
        claim = Claim.objects.create(
            packet=packet,
            packet_created_at=packet.created_at,
            user=user,
            index=index,
            amount_fen=amount,
            opened_at=now,
        )
    return _Taken(amount_fen=amount, claim_id=claim.pk, index=index)


def _announce(*, packet_facts: PacketFacts, user: User, claimed_count: int) -> None:
    """The room's live events, right after the open commits. The sender's notices
    (红包被抢提醒) are stored by the crediting batch that credits the claim
    (`claims_credited_notify`), off this path."""
    packet_id, count = packet_facts["id"], packet_facts["count"]
    room_ids = packet_facts["room_ids"]
    publish_to_rooms(
        room_ids,
        {
            "type": "packet.claimed",
            "packet_id": packet_id,
            "user": user_data(user),
            "claimed_count": claimed_count,
            "count": count,
        },
    )
    if claimed_count == count:
        publish_to_rooms(room_ids, {"type": "packet.finished", "packet_id": packet_id})
        transaction.on_commit(lambda: facts.forget(packet_id))
