"""The application behind pgbouncer in transaction mode (README "Settings":
DATABASE_PGBOUNCER): a real pgbouncer (tests/pgbouncer.py) in front of the test
PostgreSQL, with fewer server connections than clients, so each transaction may run on
another server connection. Nothing may outlive a transaction then: no server-side
cursors, no prepared statements, no session state."""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import psycopg
import pytest
from django.conf import settings
from django.db import connections

from redpacket.packets import audit
from redpacket.packets import services as packet_services
from redpacket.packets.models import Claim
from tests import pgbouncer as bouncer_kit
from tests.concurrency import run_parallel
from tests.invariants import assert_invariants
from tests.redpacket.conftest import group, send  # noqa: F401 - the packet fixtures
from tests.wallet.conftest import bind_card, fund  # noqa: F401

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup):
    """Started after the test database exists, stopped before it is dropped."""
    reason = bouncer_kit.missing()
    if reason:
        pytest.skip(reason)
    if not settings.USING_POSTGRES:
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")
    database = settings.DATABASES["default"]
    bouncer = bouncer_kit.start(
        host=database["HOST"] or "127.0.0.1",
        port=int(database["PORT"] or 5432),
        user=database["USER"] or "postgres",
    )
    yield bouncer
    bouncer.stop()


def _bouncer_stats(bouncer, database: str) -> int:
    """Transactions pgbouncer has passed on for `database` (its admin console)."""
    with psycopg.connect(
        host="127.0.0.1",
        port=bouncer.port,
        user=settings.DATABASES["default"]["USER"] or "postgres",
        dbname="pgbouncer",
        autocommit=True,
        prepare_threshold=None,
    ) as admin:
        rows = admin.execute("SHOW STATS").fetchall()
        names = [column.name for column in admin.execute("SHOW STATS").description or []]
    index = names.index("total_xact_count")
    return sum(int(row[index]) for row in rows if row[0] == database)


@pytest.fixture
def through_pgbouncer(pgbouncer, transactional_db):
    """Every connection of this test (its threads' too) goes through pgbouncer, with the
    options DATABASE_PGBOUNCER=1 sets."""
    connection = connections["default"]
    connection.close()
    database = connection.settings_dict  # shared by every thread's connection
    kept = copy.deepcopy(database)
    database["HOST"], database["PORT"] = "127.0.0.1", str(pgbouncer.port)
    database["DISABLE_SERVER_SIDE_CURSORS"] = True
    database["OPTIONS"] = {
        key: value for key, value in database.get("OPTIONS", {}).items() if key != "pool"
    }
    database["OPTIONS"]["prepare_threshold"] = None
    yield pgbouncer
    connections.close_all()
    database.clear()
    database.update(kept)


def test_the_pgbouncer_setting_turns_off_the_pool_cursors_and_prepared_statements():
    code = (
        "from redpacket import settings as s; d = s.DATABASES['default']; "
        "print(d.get('DISABLE_SERVER_SIDE_CURSORS'), 'pool' in d['OPTIONS'], "
        "repr(d['OPTIONS'].get('prepare_threshold', 'unset')), d['CONN_MAX_AGE'])"
    )
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:6432/redpacket",
        "DB_POOL_MAX_SIZE": "10",
        "CONN_MAX_AGE": "0",
    }
    run = [sys.executable, "-c", code]
    bounced = subprocess.run(
        run, env={**env, "DATABASE_PGBOUNCER": "1"}, capture_output=True, text=True, check=True
    )
    assert bounced.stdout.split() == ["True", "False", "None", "0"]
    direct = subprocess.run(run, env=env, capture_output=True, text=True, check=True)
    assert direct.stdout.split() == ["None", "True", "'unset'", "0"]


def test_money_flows_run_through_pgbouncer_in_transaction_mode(
    through_pgbouncer,
    group,  # noqa: F811
    send,  # noqa: F811
):
    name = connections["default"].settings_dict["NAME"]
    before = _bouncer_stats(through_pgbouncer, name)
    # More clients than server connections, each running the same statements again in
    # transactions of their own, every one of which may land on another server connection.
    room, users = group(bouncer_kit.SERVER_POOL_SIZE * 3)
    packets = [send(users[0], room, count=len(users) - 1, total_fen=3_000) for _ in range(3)]

    def open_all(user):
        return [packet_services.packet_open(user=user, packet_id=p.pk) for p in packets]

    results = run_parallel(open_all, [(user,) for user in users[1:]])
    errors = [result for result in results if isinstance(result, BaseException)]
    assert errors == []
    for index in range(len(packets)):
        assert sum(opened[index].amount_fen for opened in results) == 3_000
    assert Claim.objects.count() == 3 * (len(users) - 1)
    # The audits read in chunks (`.iterator()`): no server-side cursor behind pgbouncer.
    assert audit.packet_findings() == []
    assert_invariants()
    # And it all did pass through pgbouncer.
    assert _bouncer_stats(through_pgbouncer, name) - before > 3 * len(users)
