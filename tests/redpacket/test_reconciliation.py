"""对账 finds each injected fault and says so when nothing is wrong."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from redpacket.packets import services
from redpacket.packets.models import Claim
from wallet.models import Account, ReconciliationRun, SandboxStatementLine
from wallet.reconciliation import reconcile

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def busy_day(group, send, settings):
    """Packets sent, opened, credited and one expired: a day's ordinary traffic."""
    settings.CREDIT_SWEEP_AFTER_SECONDS = 60
    room, users = group(4)
    packets = [
        send(users[0], room, count=3, total_fen=1_500),
        send(users[1], room, kind="normal", count=2, share_fen=300),
    ]
    for packet in packets:
        for user in users[1:3]:
            services.packet_open(user=user, packet_id=packet.pk)
    for claim in Claim.objects.filter(credit_status="pending"):
        services.claim_credit(claim_id=claim.pk)
    services.packet_expire(packet_id=packets[0].pk, force=True)
    return room, users, packets


def kinds(run: ReconciliationRun) -> set[str]:
    return set(run.findings.values_list("kind", flat=True))


def test_a_clean_run_says_so(busy_day):
    run = reconcile()
    assert run.status == "clean" and run.findings_count == 0
    assert run.summary == "clean: every fen accounted for"
    assert run.packets_checked == 2 and run.finished_at is not None


def test_a_balance_altered_in_sql_is_found(busy_day):
    _, users, _ = busy_day
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE wallet_account SET balance_fen = balance_fen + 1 WHERE user_id = %s",
            [users[2].pk],
        )
    run = reconcile()
    assert run.status == "findings"
    finding = run.findings.get(kind="balance_mismatch")
    assert str(users[2].pk) in finding.object and int(finding.actual) == int(finding.expected) + 1


@pytest.fixture
def credits_not_run():
    """Credit messages are sent but nobody runs them (also on the embedded default,
    where tasks otherwise run eagerly): a lost worker, a stuck queue."""
    from redpacket.celery import app

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = eager


def test_a_claim_left_uncredited_past_the_threshold_is_found_and_queued_again(
    busy_day, send, credits_not_run
):
    room, users, _ = busy_day
    packet = send(users[0], room, count=2, total_fen=400)
    services.packet_open(user=users[3], packet_id=packet.pk)
    claim = Claim.objects.get(packet=packet)
    assert claim.credit_status == "pending"
    Claim.objects.filter(pk=claim.pk).update(opened_at=timezone.now() - timedelta(minutes=5))
    run = reconcile()
    assert "stale_pending_credit" in kinds(run)
    assert run.requeued_credits >= 1


def test_a_share_that_does_not_match_its_allocation_is_found(busy_day):
    _, _, packets = busy_day
    claim = Claim.objects.filter(packet=packets[0]).order_by("index").first()
    Claim.objects.filter(pk=claim.pk).update(amount_fen=claim.amount_fen + 1)
    run = reconcile()
    assert "share_mismatch" in kinds(run)
    mismatch = run.findings.get(kind="share_mismatch")
    assert f"claim {claim.pk}" in mismatch.object and mismatch.actual == str(claim.amount_fen + 1)


def test_a_missing_statement_row_is_found(busy_day):
    line = SandboxStatementLine.objects.filter(operation="debit", outcome="ok").first()
    SandboxStatementLine.objects.filter(pk=line.pk).delete()
    run = reconcile()
    finding = run.findings.get(kind="statement_mismatch")
    assert finding.object == line.reference


def test_escrow_drained_behind_the_packets_back_is_found(busy_day):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE redpacket_packet SET remaining_fen = remaining_fen + 0")
    assert reconcile().status == "clean"
    from wallet import services as wallet

    wallet.ledger_post(
        kind="claim_credit",
        reference="claim:forged",
        legs=[
            wallet.Leg(wallet.system_account(Account.Kind.PACKET_ESCROW), -1),
            wallet.Leg(wallet.account_for_user(busy_day[1][3]), 1),
        ],
    )
    assert {"packet_escrow", "orphan_credit"} <= kinds(reconcile())


def test_the_command_shows_progress_and_fails_on_findings(busy_day, capsys):
    call_command("reconcile")
    assert "clean" in capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute("UPDATE wallet_account SET balance_fen = 0 WHERE kind = 'user'")
    with pytest.raises(SystemExit) as exit_info:
        call_command("reconcile")
    assert exit_info.value.code == 1
    assert "balance_mismatch" in capsys.readouterr().out
