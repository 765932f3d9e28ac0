"""Claims, ledger entries and messages partitioned by month (PostgreSQL): each row lands in
its month's partition, a claim cannot name another month than its packet's, the ledger's
balance trigger still fires, the upkeep keeps the coming months, and the conversion of a
table with rows keeps every row and the id counter (docs/capacity.md "Partitioning")."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Message
from chat.notices import PACKET_CLAIMED
from redpacket.kernel import partitions
from redpacket.packets import services
from redpacket.packets.models import Claim, Packet
from wallet import crediting
from wallet import services as wallet_services

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _partition_of(table: str, row_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def _months_ago(n: int) -> dt.datetime:
    return partitions.add_months(partitions.month_start(timezone.now()), -n) + dt.timedelta(days=3)


@pytest.fixture
def past_months():
    """The last three months' partitions, as a database converted with history has them
    (a fresh one starts at its first month; older rows would go to DEFAULT)."""
    with connection.cursor() as cursor:
        for table, key in partitions.PARTITIONED.items():
            partitions.ensure_months(cursor, table, key, first=_months_ago(3))


def test_the_three_tables_are_partitioned_by_month_on_their_keys():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT partrelid::regclass::text, pg_get_partkeydef(partrelid)"
            " FROM pg_partitioned_table"
        )
        keys = dict(cursor.fetchall())
        assert keys == {
            "redpacket_claim": "RANGE (packet_created_at)",
            "wallet_entry": "RANGE (created_at)",
            "chat_message": "RANGE (created_at)",
        }
        for table in keys:
            children = partitions._children(cursor, table)
            this_month = partitions.month_start(timezone.now())
            for ahead in range(partitions.MONTHS_AHEAD + 1):
                month = partitions.add_months(this_month, ahead)
                assert partitions.partition_name(table, month) in children
            assert f"{table}_default" in children


def test_a_claim_lands_in_its_packets_month_even_when_opened_later(group, send, past_months):
    room, (alice, bob, *_rest) = group(3)
    now_packet = send(alice, room, count=2)
    old_packet = send(alice, room, count=2)
    # As if sent two months ago (still open: expires_at is unchanged).
    Packet.objects.filter(pk=old_packet.pk).update(created_at=_months_ago(2))
    old_packet.refresh_from_db()
    services.packet_open(user=bob, packet_id=now_packet.pk)
    services.packet_open(user=bob, packet_id=old_packet.pk)
    recent = Claim.objects.get(packet=now_packet)
    old = Claim.objects.get(packet=old_packet)
    assert old.packet_created_at == old_packet.created_at
    assert old.opened_at.month == timezone.now().month
    assert _partition_of("redpacket_claim", recent.pk) == partitions.partition_name(
        "redpacket_claim", partitions.month_start(now_packet.created_at)
    )
    assert _partition_of("redpacket_claim", old.pk) == partitions.partition_name(
        "redpacket_claim", partitions.month_start(old_packet.created_at)
    )
    # 我的红包 reads across the partitions.
    assert set(Claim.objects.filter(user=bob).values_list("pk", flat=True)) == {
        recent.pk,
        old.pk,
    }


def test_a_crediting_batch_marks_its_claims_in_their_months_partitions_only(
    group, send, past_months
):
    """The batch takes each claim's month with it: marking the claims credited names
    those months, so the database looks for them in their partitions, not in all."""
    room, (alice, bob, carol) = group(3)
    now_packet = send(alice, room, count=2)
    old_packet = send(alice, room, count=2)
    Packet.objects.filter(pk=old_packet.pk).update(created_at=_months_ago(2))
    for packet in (now_packet, old_packet):
        for user in (bob, carol):
            services.packet_open(user=user, packet_id=packet.pk)
    assert Claim.objects.filter(credit_status="pending").count() == 4
    with CaptureQueriesContext(connection) as queries:
        assert crediting.credit_batch(services.CLAIMS) == 4
    marks = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "redpacket_claim"')]
    assert len(marks) == 1, marks
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {marks[0]}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    touched = {
        line.split("Update on ")[1].split()[0]
        for line in plan.splitlines()
        if "Update on redpacket_claim_" in line
    }
    assert touched == {
        partitions.partition_name("redpacket_claim", partitions.month_start(at))
        for at in Claim.objects.values_list("packet_created_at", flat=True)
    }, plan
    assert set(Claim.objects.values_list("credit_status", flat=True)) == {"credited"}
    # The senders' notices of both months' claims, stored by the same batch.
    notices = Message.objects.filter(recipient=alice, notice_key=PACKET_CLAIMED)
    assert set(notices.values_list("packet_id", flat=True)) == {now_packet.pk, old_packet.pk}


def test_a_claim_naming_another_month_is_refused_and_so_is_a_second_share(group, send, past_months):
    room, (alice, bob, *_rest) = group(3)
    packet = send(alice, room, count=2)
    services.packet_open(user=bob, packet_id=packet.pk)
    first = Claim.objects.get(packet=packet)
    elsewhen = packet.created_at - dt.timedelta(days=40)
    # Another month would have escaped the unique (packet, user, month): the composite
    # foreign key to the packet's (id, created_at) refuses it.
    with pytest.raises(IntegrityError, match="claim_packet_month_fk"), transaction.atomic():
        Claim.objects.create(
            packet=packet,
            packet_created_at=elsewhen,
            user=bob,
            index=1,
            amount_fen=1,
            opened_at=timezone.now(),
        )
    # Its own month: the unique (packet, user, month) refuses a second share (the error
    # names the partition's index of claim_one_share_per_user).
    with (
        pytest.raises(IntegrityError, match=r"\(packet_id, user_id, packet_created_at\)"),
        transaction.atomic(),
    ):
        Claim.objects.create(
            packet=packet,
            packet_created_at=first.packet_created_at,
            user=bob,
            index=1,
            amount_fen=1,
            opened_at=timezone.now(),
        )
    # Moving the packet's time moves its claims with it (ON UPDATE CASCADE).
    Packet.objects.filter(pk=packet.pk).update(created_at=elsewhen)
    first.refresh_from_db()
    assert first.packet_created_at == elsewhen
    assert _partition_of("redpacket_claim", first.pk).startswith("redpacket_claim_p")


def test_entries_and_messages_land_in_their_months(make_user, past_months):
    account = wallet_services.account_for_user(make_user())
    other = wallet_services.account_for_user(make_user())
    then = _months_ago(1)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO wallet_ledgertransaction (kind, reference, memo, created_at)"
            " VALUES ('topup', 'partition-test', '', %s) RETURNING id",
            [then],
        )
        txn = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO wallet_entry (transaction_id, account_id, amount_fen, created_at)"
            " VALUES (%s, %s, -5, %s), (%s, %s, 5, %s) RETURNING id",
            [txn, account.pk, then, txn, other.pk, timezone.now()],
        )
        old_leg, new_leg = (row[0] for row in cursor.fetchall())
        # A transaction whose legs straddle a month boundary is balanced all the same.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    assert _partition_of("wallet_entry", old_leg) == partitions.partition_name(
        "wallet_entry", partitions.month_start(then)
    )
    assert _partition_of("wallet_entry", new_leg) == partitions.partition_name(
        "wallet_entry", partitions.month_start(timezone.now())
    )
    from chat import services as chat_services

    room = chat_services.room_create_group(
        creator=make_user(), name="月份", member_ids=[make_user().pk]
    )
    message = Message.objects.create(room=room, kind="text", text="旧", created_at=then)
    assert _partition_of("chat_message", message.pk) == partitions.partition_name(
        "chat_message", partitions.month_start(then)
    )


def test_the_balance_trigger_still_refuses_an_unbalanced_transaction_in_an_old_month(
    make_user, fund, past_months
):
    user = make_user()
    fund(user, 100)
    account = wallet_services.account_for_user(user)
    then = _months_ago(2)
    with (
        pytest.raises(IntegrityError, match=r"is not balanced \(2 legs, sum 1\)"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO wallet_ledgertransaction (kind, reference, memo, created_at)"
            " VALUES ('topup', 'partition-unbalanced', '', %s) RETURNING id",
            [then],
        )
        txn = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO wallet_entry (transaction_id, account_id, amount_fen, created_at)"
            " VALUES (%s, %s, 100, %s), (%s, %s, -99, %s)",
            [txn, account.pk, then, txn, account.pk, then],
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM wallet_entry")


def test_upkeep_runs_pg_partman_or_makes_the_coming_months():
    with connection.cursor() as cursor:
        by_partman = partitions.partman_schema(cursor) is not None
        if by_partman:
            cursor.execute(
                "SELECT parent_table, premake FROM partman.part_config ORDER BY parent_table"
            )
            assert cursor.fetchall() == [
                ("public.chat_message", 3),
                ("public.redpacket_claim", 3),
                ("public.wallet_entry", 3),
            ]
    done = partitions.upkeep()
    assert set(done) == set(partitions.PARTITIONED)
    if by_partman:
        assert set(done.values()) == {"pg_partman"}


def test_without_pg_partman_the_upkeep_makes_the_months_ahead_of_a_later_now():
    """The fallback (no pg_partman): run with a "now" five months on, it makes the months
    up to three after it, and makes nothing on a second run."""
    later = partitions.add_months(partitions.month_start(timezone.now()), 5)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE upkeep_probe (id bigint NOT NULL, at timestamptz NOT NULL)"
            " PARTITION BY RANGE (at)"
        )
        made = partitions.ensure_months(cursor, "upkeep_probe", "at", now=later)
        assert made == [
            partitions.partition_name("upkeep_probe", partitions.add_months(later, n))
            for n in range(partitions.MONTHS_AHEAD + 1)
        ] + ["upkeep_probe_default"]
        assert partitions.ensure_months(cursor, "upkeep_probe", "at", now=later) == []
        # A month whose rows went to DEFAULT is left for a person (PostgreSQL would refuse).
        further = partitions.add_months(later, 6)
        cursor.execute("INSERT INTO upkeep_probe VALUES (1, %s)", [further])
        made = partitions.ensure_months(cursor, "upkeep_probe", "at", first=further, now=further)
        assert partitions.partition_name("upkeep_probe", further) not in made
        assert len(made) == partitions.MONTHS_AHEAD


@pytest.mark.parametrize("partman", [True, False], ids=["pg_partman", "fallback"])
def test_converting_a_table_with_rows_keeps_them_all_and_the_id_counter(partman, monkeypatch):
    """What the migrations do, on a table of its own: rows over several months, a check,
    an index, a trigger; converted and back, nothing lost, ids keep counting."""
    if not partman:
        monkeypatch.setattr(partitions, "install_partman", lambda cursor: None)
    editor = SimpleNamespace(connection=connection)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE TABLE conv_probe (
                id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
                at timestamptz NOT NULL,
                amount bigint NOT NULL CONSTRAINT conv_probe_positive CHECK (amount > 0)
            );
            CREATE INDEX conv_probe_recent ON conv_probe (amount, id DESC);
            CREATE FUNCTION conv_probe_refuse() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'conv_probe is append-only'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER conv_probe_append_only BEFORE DELETE ON conv_probe
                FOR EACH ROW EXECUTE FUNCTION conv_probe_refuse();
            INSERT INTO conv_probe (at, amount)
                SELECT now() - (g || ' days')::interval, g FROM generate_series(1, 200) g;
            DELETE FROM conv_probe WHERE false;
            """
        )
        cursor.execute("SELECT nextval(pg_get_serial_sequence('conv_probe', 'id'))")  # 201
        partitions.rebuild(editor, "conv_probe", "at")
        assert partitions.is_partitioned(cursor, "conv_probe")
        cursor.execute("SELECT count(*), sum(amount), max(id) FROM conv_probe")
        assert cursor.fetchone() == (200, 20_100, 200)
        cursor.execute("SELECT count(DISTINCT tableoid) FROM conv_probe")
        assert cursor.fetchone()[0] >= 7  # 200 days: seven or eight months
        cursor.execute("INSERT INTO conv_probe (at, amount) VALUES (now(), 1) RETURNING id")
        assert cursor.fetchone()[0] == 202
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'conv_probe'")
        assert {row[0] for row in cursor.fetchall()} == {"conv_probe_pkey", "conv_probe_recent"}
        with pytest.raises(Exception, match="conv_probe_positive"), transaction.atomic():
            cursor.execute("INSERT INTO conv_probe (at, amount) VALUES (now(), 0)")
        with pytest.raises(Exception, match="append-only"), transaction.atomic():
            cursor.execute("DELETE FROM conv_probe")
        partitions.rebuild(editor, "conv_probe", None)  # the reverse migration
        assert not partitions.is_partitioned(cursor, "conv_probe")
        cursor.execute("SELECT count(*), max(id) FROM conv_probe")
        assert cursor.fetchone() == (201, 202)
        cursor.execute("INSERT INTO conv_probe (at, amount) VALUES (now(), 1) RETURNING id")
        assert cursor.fetchone()[0] == 204  # 203 went to the refused insert
