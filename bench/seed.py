"""Seeding the benchmark's database: people, rooms, money and packets.

Money comes in the way it does in production — a card top-up through the (sandbox) bank
into one funder's change, then transfers to the senders — so the bank statement, the
ledger and every balance agree for the 对账 at the end. Packets that a scenario only
*opens* are inserted in bulk with the same rows `packet_send` writes (the packet, its
funding movement into escrow, its room message) and then warmed in Redis the way
`packet_send` warms them after commit. Senders start with no payment PIN (the send
scenario measures the send path alone); the send_pin scenario then gives them one the
way a user gets one, by binding a card (`give_pin`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from chat import selectors as chat_selectors
from chat.models import Membership, Message, Room
from redpacket.accounts.authentication import user_for_token
from redpacket.accounts.models import User
from redpacket.kernel import partitions
from redpacket.packets import facts
from redpacket.packets.allocation import lucky_shares
from redpacket.packets.models import Claim, Packet, PacketShares
from wallet import services as wallet
from wallet.models import Account, Entry, LedgerTransaction

CARD = "4111111111111111"
TOPUP_FEN = 5_000_000  # the most one top-up may move (WALLET_MAX_AMOUNT_FEN)


@dataclass
class People:
    users: list[User]  # the crowd: members of the hot room
    senders: list[User]  # the send scenarios' senders (a PIN from send_pin on)
    tokens: dict[int, str]  # user id -> API token
    funder: User
    hot_room: Room  # everyone
    packet_sender: User  # sends the bulk-inserted packets

    def tokens_of(self, users: Sequence[User]) -> list[str]:
        return [self.tokens[user.pk] for user in users]


def create_people(*, crowd: int, senders: int, tag: str) -> People:
    """Users with tokens and empty wallets (bulk), one funder with a card, one big room."""
    from redpacket.accounts.services import tokens_issue

    password = make_password("bench-password-1")
    users = User.objects.bulk_create(
        [
            User(username=f"b{tag}u{i}", display_name=f"用户{i}", password=password)
            for i in range(crowd + senders + 1)
        ]
    )
    crowd_users, sender_users, packet_sender = users[:crowd], users[crowd:-1], users[-1]
    Account.objects.bulk_create(
        [Account(kind=Account.Kind.USER, user=user, balance_fen=0) for user in users]
    )
    tokens = tokens_issue(users=users)
    funder = User.objects.create_user(
        username=f"b{tag}funder", password="bench-password-1", display_name="资金"
    )
    room = Room.objects.create(kind=Room.Kind.GROUP, name="压测群", owner=packet_sender)
    add_members(room, users)
    return People(
        users=crowd_users,
        senders=sender_users,
        tokens=tokens,
        funder=funder,
        hot_room=room,
        packet_sender=packet_sender,
    )


def add_members(room: Room, users: Sequence[User]) -> None:
    Membership.objects.bulk_create(
        [Membership(room=room, user=user) for user in users], ignore_conflicts=True
    )
    chat_selectors.room_members_cache_refresh(room.pk)


def group_room(owner: User, members: Sequence[User], name: str) -> Room:
    room = Room.objects.create(kind=Room.Kind.GROUP, name=name, owner=owner)
    add_members(room, [owner, *members])
    return room


PIN = "246810"


def give_pin(user: User) -> None:
    """A payment PIN for `user`, set as every real user's is: by binding a card."""
    if user.bank_cards.filter(is_active=True).exists():
        return
    binding, code = wallet.card_bind_start(
        user=user, card_number=CARD, holder_name="发送", phone="13800138000", pin=PIN
    )
    wallet.card_bind_verify(user=user, binding_id=str(binding.pk), code=code)


def fund(people: People, user: User, amount_fen: int) -> None:
    """Top the funder up through the sandbox bank as needed, then transfer to `user`."""
    from wallet.selectors import balance_of

    card = people.funder.bank_cards.filter(is_active=True).first()
    if card is None:
        binding, code = wallet.card_bind_start(
            user=people.funder,
            card_number=CARD,
            holder_name="资金",
            phone="13800138000",
            pin=PIN,
        )
        card = wallet.card_bind_verify(user=people.funder, binding_id=str(binding.pk), code=code)
    while balance_of(people.funder) < amount_fen:
        wallet.wallet_topup(
            user=people.funder,
            card=card,
            amount_fen=TOPUP_FEN,
            request_key=f"bench-topup-{uuid.uuid4().hex}",
        )
    wallet.wallet_transfer(
        sender=people.funder,
        recipient=user,
        amount_fen=amount_fen,
        request_key=f"bench-transfer-{uuid.uuid4().hex}",
    )


def warm_auth(tokens: Sequence[str]) -> None:
    """Each token's user in the cache, as after that user's first request."""
    for token in tokens:
        user_for_token(token)


def bulk_packets(
    people: People,
    *,
    room: Room,
    n: int,
    count: int,
    total_fen: int,
    warm: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """`n` active lucky packets in `room`, as `packet_send` would leave them: the money in
    escrow (one funding movement each), the packet row, its room message; then the gate
    and the facts in Redis. Returns the ids."""
    sender = people.packet_sender
    fund(people, sender, n * total_fen)
    now = timezone.now()
    expires = now + timedelta(seconds=settings.REDPACKET_TTL_SECONDS)
    batch = uuid.uuid4().hex[:12]
    with transaction.atomic():
        account = Account.objects.select_for_update().get(user=sender)
        escrow = wallet.system_account(Account.Kind.PACKET_ESCROW)
        packets = Packet.objects.bulk_create(
            [
                Packet(
                    room=room,
                    sender=sender,
                    kind=Packet.Kind.LUCKY,
                    count=count,
                    total_fen=total_fen,
                    greeting="压测",
                    remaining_count=count,
                    remaining_fen=total_fen,
                    request_key=f"bench-{batch}-{i}",
                    fund_reference=f"packet-fund:{sender.pk}:bench-{batch}-{i}",
                    created_at=now,
                    expires_at=expires,
                )
                for i in range(n)
            ],
            batch_size=2000,
        )
        # The share lists packet_send keeps (keyed by the id, known only now).
        secret = settings.ALLOCATION_SECRET.encode()
        PacketShares.objects.bulk_create(
            [
                PacketShares(
                    packet=packet,
                    amounts=lucky_shares(
                        total_fen=total_fen,
                        count=count,
                        secret=secret,
                        packet_id=packet.pk,
                        max_share_fen=settings.REDPACKET_MAX_SHARE_FEN,
                    ),
                )
                for packet in packets
            ],
            batch_size=2000,
        )
        txns = LedgerTransaction.objects.bulk_create(
            [
                LedgerTransaction(
                    kind=LedgerTransaction.Kind.PACKET_FUND, reference=p.fund_reference
                )
                for p in packets
            ],
            batch_size=2000,
        )
        balance = account.balance_fen
        entries = []
        for txn in txns:
            balance -= total_fen
            entries.append(
                Entry(
                    transaction=txn,
                    account=account,
                    amount_fen=-total_fen,
                    balance_after_fen=balance,
                )
            )
            entries.append(Entry(transaction=txn, account=escrow, amount_fen=total_fen))
        Entry.objects.bulk_create(entries, batch_size=4000)
        Account.objects.filter(pk=account.pk).update(balance_fen=balance)
        Message.objects.bulk_create(
            [
                Message(
                    room=room, sender=sender, kind=Message.Kind.PACKET, text="压测", packet_id=p.pk
                )
                for p in packets
            ],
            batch_size=2000,
        )
    if warm:
        for done, packet in enumerate(packets, 1):
            packet.sender = sender
            facts.warm(packet, [room.pk])
            if progress is not None and done % 500 == 0:
                progress(500)
    return [p.pk for p in packets]


def claim_backlog(people: People, *, packets: int, count: int) -> list[tuple[int, int]]:
    """`packets` finished lucky packets whose `count` claims are all still pending credit
    (as if a burst of opens had outrun the workers). Shares are the real allocation of
    each packet. Returns (claim id, amount) pairs, for queueing the credit tasks."""
    crowd = people.users[:count]
    ids = bulk_packets(
        people, room=people.hot_room, n=packets, count=count, total_fen=count * 50, warm=False
    )
    now = timezone.now()
    secret = settings.ALLOCATION_SECRET.encode()
    claims = []
    created = dict(Packet.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    with transaction.atomic():
        for packet_id in ids:
            shares = lucky_shares(
                total_fen=count * 50,
                count=count,
                secret=secret,
                packet_id=packet_id,
                max_share_fen=settings.REDPACKET_MAX_SHARE_FEN,
            )
            claims += [
                Claim(
                    packet_id=packet_id,
                    packet_created_at=created[packet_id],
                    user=user,
                    index=i,
                    amount_fen=amount,
                    opened_at=now,
                )
                for i, (user, amount) in enumerate(zip(crowd, shares, strict=True))
            ]
        Claim.objects.bulk_create(claims, batch_size=5000)
        Packet.objects.filter(pk__in=ids).update(
            remaining_count=0, remaining_fen=0, status=Packet.Status.FINISHED, finished_at=now
        )
    return [(claim.pk, claim.amount_fen) for claim in claims]


def claims_total() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM redpacket_claim")
        return cursor.fetchone()[0]


HISTORY_SHARES = 100  # claims per history packet
HISTORY_DAYS = 180  # history spread over about the last six months (several partitions)
HISTORY_CHUNK = 10_000  # packets (1 M claims and their ledger rows) per transaction

_HISTORY_PACKETS = """
INSERT INTO redpacket_packet (room_id, sender_id, kind, count, total_fen, share_fen,
    greeting, remaining_count, remaining_fen, refunded_fen, status, request_key,
    fund_reference, created_at, expires_at, finished_at)
SELECT %(room)s, %(sender)s, 'normal', %(shares)s, %(shares)s, 1, '往期', 0, 0, 0,
    'finished', %(tag)s || '-' || g, 'packet-fund:' || %(sender)s || ':' || %(tag)s || '-' || g,
    at, at + interval '1 day', at + interval '100 seconds'
FROM (
    SELECT g, now() - interval '2 days'
        - interval '1 day' * %(days)s * (1 - (%(first)s + g)::float8 / %(all)s) AS at
    FROM generate_series(1, %(n)s) AS g
) AS s
"""

# The packets' funding: a transaction and its two legs each, dated as the packet.
_HISTORY_FUNDING = """
WITH t AS (
    INSERT INTO wallet_ledgertransaction (kind, reference, memo, created_at)
    SELECT 'packet_fund', fund_reference, '', created_at FROM bench_hist
    RETURNING id, created_at
)
INSERT INTO wallet_entry (transaction_id, account_id, amount_fen, created_at)
SELECT t.id, leg.account_id, leg.amount, t.created_at
FROM t CROSS JOIN LATERAL (VALUES (%(sender)s, -%(shares)s), (%(escrow)s, %(shares)s))
    AS leg(account_id, amount)
"""

# The claims (in their packet's month, opened within 100 s of the send), each credited:
# its transaction, its two legs, the receivers' balances — one statement, no re-reading.
_HISTORY_CLAIMS = """
WITH c AS (
    INSERT INTO redpacket_claim (packet_id, packet_created_at, user_id, index, amount_fen,
        opened_at, credit_status, credited_at)
    SELECT h.id, h.created_at, (%(users)s::bigint[])[1 + ((h.id + i) %% %(nu)s)], i, 1,
        h.created_at + interval '1 second' * (i + 1), 'credited',
        h.created_at + interval '1 second' * (i + 2)
    FROM bench_hist h CROSS JOIN generate_series(0, %(last)s) AS i
    RETURNING id, user_id, credited_at
), t AS (
    INSERT INTO wallet_ledgertransaction (kind, reference, memo, created_at)
    SELECT 'claim_credit', 'claim:' || c.id, '', c.credited_at FROM c
    RETURNING id, reference, created_at
), balances AS (
    UPDATE wallet_account a SET balance_fen = a.balance_fen + d.delta
    FROM (SELECT user_id, count(*) AS delta FROM c GROUP BY user_id) AS d
    WHERE a.user_id = d.user_id
)
INSERT INTO wallet_entry (transaction_id, account_id, amount_fen, created_at)
SELECT t.id, leg.account_id, leg.amount, t.created_at
FROM t
JOIN c ON c.id = substr(t.reference, 7)::bigint
JOIN wallet_account a ON a.user_id = c.user_id
CROSS JOIN LATERAL (VALUES (%(escrow)s, -1), (a.id, 1)) AS leg(account_id, amount)
"""


def load_history(people: People, *, claims: int) -> int:
    """Bulk-load `claims` claims of finished, fully credited history: normal packets of
    100 one-fen shares from one sender, sent over the last ~6 months (so they fill several
    monthly partitions), each with its funding movement, each claim in its packet's month
    with its credit movement dated when it was credited — generated inside PostgreSQL
    (INSERT … SELECT generate_series), 1 M claims per transaction. The ledger's per-row
    balance triggers are skipped for this bulk load only (session_replication_role); the
    对账 at the end of the run checks every transaction's balance anyway. Returns the
    claims added."""
    n_packets = max(1, claims // HISTORY_SHARES)
    total = n_packets * HISTORY_SHARES
    sender = people.packet_sender
    fund(people, sender, total)
    receivers = [user.pk for user in people.users]
    if len(receivers) < HISTORY_SHARES:
        raise ValueError("history needs at least 100 crowd users")
    sender_account = Account.objects.get(user=sender).pk
    escrow = wallet.system_account(Account.Kind.PACKET_ESCROW).pk
    tag = f"hist-{uuid.uuid4().hex[:10]}"
    if connection.vendor == "postgresql":
        # The history's months get their partitions first (a fresh database has them
        # from its first month on; older rows would all land in DEFAULT).
        oldest = timezone.now() - timedelta(days=HISTORY_DAYS + 3)
        with connection.cursor() as cur:
            for table, key in partitions.PARTITIONED.items():
                partitions.ensure_months(cur, table, key, first=oldest)
    for first in range(0, n_packets, HISTORY_CHUNK):
        n = min(HISTORY_CHUNK, n_packets - first)
        chunk = f"{tag}-{first // HISTORY_CHUNK}"
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL session_replication_role = replica")
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute(
                _HISTORY_PACKETS,
                {
                    "room": people.hot_room.pk,
                    "sender": sender.pk,
                    "shares": HISTORY_SHARES,
                    "tag": chunk,
                    "days": HISTORY_DAYS,
                    "first": first,
                    "all": n_packets,
                    "n": n,
                },
            )
            cur.execute(
                "CREATE TEMP TABLE bench_hist ON COMMIT DROP AS SELECT id, fund_reference,"
                " created_at FROM redpacket_packet WHERE sender_id = %s AND request_key LIKE %s",
                [sender.pk, f"{chunk}-%"],
            )
            cur.execute(
                _HISTORY_FUNDING,
                {"sender": sender_account, "escrow": escrow, "shares": HISTORY_SHARES},
            )
            cur.execute(
                _HISTORY_CLAIMS,
                {
                    "users": receivers,
                    "nu": len(receivers),
                    "last": HISTORY_SHARES - 1,
                    "escrow": escrow,
                },
            )
            cur.execute(
                "UPDATE wallet_account SET balance_fen = balance_fen - %s WHERE id = %s",
                [n * HISTORY_SHARES, sender_account],
            )
    with connection.cursor() as cur:
        for table in (
            "redpacket_packet",
            "redpacket_claim",
            "wallet_ledgertransaction",
            "wallet_entry",
        ):
            cur.execute(f"VACUUM ANALYZE {table}")
    return total


def partition_counts() -> dict[str, dict[str, int]]:
    """Monthly partitions (DEFAULT included) of the partitioned tables; {} on SQLite."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.inhparent::regclass::text, count(*) FROM pg_inherits i"
            " JOIN pg_partitioned_table p ON p.partrelid = i.inhparent"
            " JOIN pg_class c ON c.oid = i.inhrelid AND c.relkind = 'r'"
            " GROUP BY 1 ORDER BY 1"
        )
        return {"partitions": dict(cursor.fetchall())}
