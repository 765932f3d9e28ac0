"""Admin money actions need their own permissions, not staff status, and each one is
recorded with its actor: in Django's admin log and on the ledger transaction it posts
(SPEC §7). A staff account with no permissions sees nothing and moves nothing."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.utils import timezone

from redpacket.packets.models import Packet
from tests.invariants import assert_invariants
from tests.redpacket.conftest import group, send  # noqa: F401
from tests.wallet.conftest import bind_card, fund  # noqa: F401
from wallet.models import LedgerTransaction, PaymentPin
from wallet.selectors import balance_of

pytestmark = pytest.mark.django_db


def _staff(make_user, *codenames):
    user = make_user(is_staff=True)
    for codename in codenames:
        app_label, name = codename.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=name)
        )
    return user


def test_staff_without_permissions_neither_lists_nor_expires_packets(
    client,
    make_user,
    group,  # noqa: F811
    send,  # noqa: F811
):
    room, users = group(3)
    packet = send(users[0], room)
    client.force_login(_staff(make_user))
    assert client.get("/admin/redpacket/packet/").status_code == 403
    client.post(
        "/admin/redpacket/packet/",
        {"action": "expire_and_refund", "_selected_action": [packet.pk]},
    )
    packet.refresh_from_db()
    assert packet.status == Packet.Status.ACTIVE
    assert not LogEntry.objects.exists()


def test_expire_and_refund_needs_its_permission_and_records_its_actor(
    client,
    make_user,
    group,  # noqa: F811
    send,  # noqa: F811
):
    room, users = group(3)
    packet = send(users[0], room)
    before = balance_of(users[0])
    viewer = _staff(make_user, "redpacket.view_packet")
    client.force_login(viewer)
    assert client.get("/admin/redpacket/packet/").status_code == 200
    client.post(
        "/admin/redpacket/packet/",
        {"action": "expire_and_refund", "_selected_action": [packet.pk]},
    )
    packet.refresh_from_db()
    assert packet.status == Packet.Status.ACTIVE  # viewing is not expiring

    operator = _staff(make_user, "redpacket.view_packet", "redpacket.expire_packet")
    client.force_login(operator)
    response = client.post(
        "/admin/redpacket/packet/",
        {"action": "expire_and_refund", "_selected_action": [packet.pk]},
    )
    assert response.status_code == 302
    packet.refresh_from_db()
    assert packet.status == Packet.Status.EXPIRED
    assert balance_of(users[0]) == before + packet.total_fen
    refund = LedgerTransaction.objects.get(reference=f"packet:{packet.pk}:refund")
    assert refund.actor == operator
    entry = LogEntry.objects.get()
    assert entry.user == operator and entry.object_id == str(packet.pk)
    assert "立即过期并退款" in entry.get_change_message()
    assert_invariants()


def test_unlocking_a_pin_needs_its_permission_and_is_logged(
    client,
    make_user,
    bind_card,  # noqa: F811
):
    user = make_user()
    bind_card(user)
    PaymentPin.objects.filter(user=user).update(
        failed_attempts=5, locked_until=timezone.now() + timezone.timedelta(hours=3)
    )
    pin = PaymentPin.objects.get(user=user)
    client.force_login(_staff(make_user, "wallet.view_paymentpin"))
    client.post("/admin/wallet/paymentpin/", {"action": "unlock", "_selected_action": [pin.pk]})
    # Nor can the counter be edited by hand.
    client.post(
        f"/admin/wallet/paymentpin/{pin.pk}/change/", {"failed_attempts": 0, "locked_until": ""}
    )
    pin.refresh_from_db()
    assert pin.locked_until is not None and pin.failed_attempts == 5

    operator = _staff(make_user, "wallet.view_paymentpin", "wallet.unlock_pin")
    client.force_login(operator)
    client.post("/admin/wallet/paymentpin/", {"action": "unlock", "_selected_action": [pin.pk]})
    pin.refresh_from_db()
    assert pin.locked_until is None and pin.failed_attempts == 0
    assert LogEntry.objects.get().user == operator


def test_the_operator_log_lists_who_did_what(admin_client, make_user):
    assert admin_client.get("/admin/admin/logentry/").status_code == 200
    staff = _staff(make_user)
    from django.test import Client

    other = Client()
    other.force_login(staff)
    assert other.get("/admin/admin/logentry/").status_code == 403


def test_reconciliation_can_be_started_from_admin_with_no_run_yet(
    client, make_user, django_capture_on_commit_callbacks
):
    """ "立即对账" is a button above the list, not only an action on existing runs: a fresh
    install (no run) can start one. It needs `wallet.run_reconciliation` and is logged."""
    from wallet.models import ReconciliationRun
    from wallet.reconciliation import reconcile

    viewer = _staff(make_user, "wallet.view_reconciliationrun")
    client.force_login(viewer)
    assert "立即对账" not in client.get("/admin/wallet/reconciliationrun/").content.decode()
    assert client.post("/admin/wallet/reconciliationrun/run-now/").status_code == 403
    assert not ReconciliationRun.objects.exists()

    operator = _staff(make_user, "wallet.view_reconciliationrun", "wallet.run_reconciliation")
    client.force_login(operator)
    page = client.get("/admin/wallet/reconciliationrun/").content.decode()
    assert "立即对账" in page and "/admin/wallet/reconciliationrun/run-now/" in page
    assert client.get("/admin/wallet/reconciliationrun/run-now/").status_code == 405
    with django_capture_on_commit_callbacks() as queued:
        response = client.post("/admin/wallet/reconciliationrun/run-now/")
    assert response.status_code == 302 and len(queued) == 1
    run = ReconciliationRun.objects.get()  # listed at once, as running
    assert run.status == ReconciliationRun.Status.RUNNING
    # What the queued task does with the row (run here rather than on a worker).
    reconcile(run_id=run.pk)
    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.CLEAN, run.summary
    assert ReconciliationRun.objects.count() == 1
    reconcile(run_id=run.pk)  # a redelivered task does not run it again
    assert ReconciliationRun.objects.count() == 1 and not run.findings.exists()
    entry = LogEntry.objects.get()
    assert entry.user == operator and entry.object_id == str(run.pk)
    assert_invariants()
