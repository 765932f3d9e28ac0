import pytest
from django.db import IntegrityError, connection, transaction

from tests.invariants import assert_invariants
from wallet import errors, services
from wallet.models import Account, BankOperation, Entry, LedgerTransaction
from wallet.selectors import balance_of, ledger_findings, system_balance

pytestmark = pytest.mark.django_db


def test_topup_moves_money_from_bank_clearing_into_change(make_user, bind_card):
    user = make_user()
    card = bind_card(user)
    services.wallet_topup(user=user, card=card, amount_fen=10_000, request_key="t1")
    assert balance_of(user) == 10_000
    assert system_balance(Account.Kind.BANK_CLEARING) == -10_000
    operation = BankOperation.objects.get(user=user, request_key="t1")
    txn = LedgerTransaction.objects.get(reference=f"topup:{operation.pk}")
    assert txn.bank_operation == operation and operation.state == BankOperation.State.OK
    assert sorted(e.amount_fen for e in txn.entries.all()) == [-10_000, 10_000]
    assert_invariants()


def test_same_request_moves_money_once(make_user, bind_card):
    user = make_user()
    card = bind_card(user)
    for _ in range(3):
        services.wallet_topup(user=user, card=card, amount_fen=500, request_key="same")
    assert balance_of(user) == 500
    assert BankOperation.objects.filter(user=user).count() == 1
    assert LedgerTransaction.objects.filter(kind="topup").count() == 1
    assert_invariants()


def test_transfer_refuses_more_than_the_balance_and_changes_nothing(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    with pytest.raises(errors.InsufficientBalance):
        services.wallet_transfer(sender=alice, recipient=bob, amount_fen=1_001, request_key="x")
    assert balance_of(alice) == 1_000 and balance_of(bob) == 0
    assert not LedgerTransaction.objects.filter(kind="transfer").exists()
    services.wallet_transfer(sender=alice, recipient=bob, amount_fen=1_000, request_key="y")
    assert balance_of(alice) == 0 and balance_of(bob) == 1_000
    assert_invariants()


def test_a_replay_is_not_refused_after_the_balance_fell(make_user, fund):
    # A retry of a movement already posted returns it, even when the money it moved
    # would no longer be there.
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    first = services.wallet_transfer(sender=alice, recipient=bob, amount_fen=800, request_key="r")
    again = services.wallet_transfer(sender=alice, recipient=bob, amount_fen=800, request_key="r")
    assert first.pk == again.pk
    assert balance_of(alice) == 200 and balance_of(bob) == 800
    assert LedgerTransaction.objects.filter(kind="transfer").count() == 1
    assert_invariants()


def test_a_refusal_leaves_the_callers_transaction_usable(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 100)
    with transaction.atomic():
        with pytest.raises(errors.InsufficientBalance):
            services.wallet_transfer(sender=alice, recipient=bob, amount_fen=101, request_key="a")
        # The caller goes on in the same transaction: nothing was written, nothing broken.
        services.wallet_transfer(sender=alice, recipient=bob, amount_fen=100, request_key="b")
    assert balance_of(alice) == 0 and balance_of(bob) == 100
    assert not LedgerTransaction.objects.filter(reference=f"transfer:{alice.pk}:a").exists()
    assert_invariants()


def test_a_wallet_named_by_its_user_is_created_on_first_use(make_user, fund):
    alice, newcomer = make_user(), make_user()
    Account.objects.filter(user=newcomer).delete()
    fund(alice, 300)
    services.wallet_transfer(sender=alice, recipient=newcomer, amount_fen=300, request_key="n")
    assert balance_of(newcomer) == 300
    assert_invariants()


def test_entries_record_the_balance_after(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 700)
    services.wallet_transfer(sender=alice, recipient=bob, amount_fen=200, request_key="t")
    latest = Entry.objects.filter(account__user=alice).order_by("-id").first()
    assert latest.amount_fen == -200 and latest.balance_after_fen == 500


def test_escrow_round_trip(make_user, fund):
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    services.wallet_pay_into_escrow(
        user=alice,
        escrow=Account.Kind.PACKET_ESCROW,
        amount_fen=600,
        reference="packet:1:fund",
        kind=LedgerTransaction.Kind.PACKET_FUND,
    )
    assert system_balance(Account.Kind.PACKET_ESCROW) == 600
    _, created = services.wallet_credit_from_escrow(
        user=bob,
        escrow=Account.Kind.PACKET_ESCROW,
        amount_fen=600,
        reference="claim:1",
        kind=LedgerTransaction.Kind.CLAIM_CREDIT,
    )
    _, again = services.wallet_credit_from_escrow(
        user=bob,
        escrow=Account.Kind.PACKET_ESCROW,
        amount_fen=600,
        reference="claim:1",
        kind=LedgerTransaction.Kind.CLAIM_CREDIT,
    )
    assert created and not again
    assert balance_of(alice) == 400 and balance_of(bob) == 600
    assert system_balance(Account.Kind.PACKET_ESCROW) == 0
    assert ledger_findings() == []  # no packet behind "claim:1": the wallet alone is checked


def test_card_charge_refunds_the_card_when_the_block_fails(make_user, bind_card):
    from wallet.models import SandboxStatementLine

    user = make_user()
    card = bind_card(user)
    with (
        pytest.raises(RuntimeError),
        services.card_charge(user=user, card=card, amount_fen=300, request_key="p1") as charge,
    ):
        assert charge.amount_fen == 300
        raise RuntimeError("the packet could not be created")
    charge_op = BankOperation.objects.get(purpose="charge", user=user)
    refund_op = BankOperation.objects.get(purpose="refund", refund_of=charge_op)
    assert charge_op.state == "returned" and refund_op.state == "ok"
    lines = SandboxStatementLine.objects.exclude(operation="bind")
    assert {(line.operation, line.amount_fen, line.reference) for line in lines} == {
        ("debit", 300, charge_op.reference),
        ("credit", 300, refund_op.reference),
    }
    assert balance_of(user) == 0
    assert_invariants()


@pytest.mark.parametrize(
    ("number", "error"),
    [("4000000000000002", errors.CardDeclined), ("4000000000009995", errors.InsufficientFunds)],
)
def test_sandbox_refusing_cards_change_nothing(make_user, bind_card, number, error):
    user = make_user()
    card = bind_card(user, number=number)
    with pytest.raises(error):
        services.wallet_topup(user=user, card=card, amount_fen=100, request_key="r")
    assert balance_of(user) == 0
    assert not LedgerTransaction.objects.exists()
    assert_invariants()


def test_withdraw_to_a_blocked_card_is_reversed(make_user, fund, bind_card):
    user = make_user()
    fund(user, 1_000)
    blocked = bind_card(user, number="4000000000000002")
    with pytest.raises(errors.CardDeclined):
        services.wallet_withdraw(user=user, card=blocked, amount_fen=400, request_key="w")
    assert balance_of(user) == 1_000
    assert_invariants()


def test_ledger_post_refuses_unbalanced_legs(make_user):
    account = services.account_for_user(make_user())
    clearing = services.system_account(Account.Kind.BANK_CLEARING)
    with pytest.raises(ValueError):
        services.ledger_post(
            kind="topup",
            reference="bad",
            legs=[services.Leg(clearing, -5), services.Leg(account, 4)],
        )


def test_findings_report_a_balance_changed_behind_the_ledger(make_user, fund):
    user = make_user()
    fund(user, 1_000)
    assert ledger_findings() == []
    Account.objects.filter(user=user).update(balance_fen=999_999)
    kinds = {finding.kind for finding in ledger_findings()}
    assert "balance_mismatch" in kinds


@pytest.mark.postgres
def test_database_refuses_to_change_or_delete_ledger_rows(make_user, fund):
    user = make_user()
    fund(user, 100)
    entry = Entry.objects.filter(account__user=user).first()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        Entry.objects.filter(pk=entry.pk).update(amount_fen=1)
    with (
        pytest.raises(Exception, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,  # raw SQL: the database itself refuses
    ):
        cursor.execute("DELETE FROM wallet_entry WHERE id = %s", [entry.pk])


@pytest.mark.postgres
def test_database_refuses_an_unbalanced_transaction_at_commit(make_user):
    account = services.account_for_user(make_user())
    with pytest.raises(IntegrityError, match="not balanced"), transaction.atomic():
        txn = LedgerTransaction.objects.create(kind="topup", reference="raw")
        Entry.objects.create(transaction=txn, account=account, amount_fen=100)
        # Deferred constraint triggers fire at commit; SET CONSTRAINTS checks them now.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_database_check_keeps_wallets_nonnegative(make_user):
    account = services.account_for_user(make_user())
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=account.pk).update(balance_fen=-1)


def test_pin_locks_after_five_wrong_and_unlocks_after_three_hours(make_user, bind_card):
    from datetime import timedelta

    from django.utils import timezone

    from wallet.models import PaymentPin

    user = make_user()
    bind_card(user)
    for attempt in range(4):
        with pytest.raises(errors.WrongPin):
            services.payment_authorize(user=user, pin="000000")
        assert PaymentPin.objects.get(user=user).failed_attempts == attempt + 1
    with pytest.raises(errors.PinLocked):
        services.payment_authorize(user=user, pin="000000")
    with pytest.raises(errors.PinLocked):  # even the right PIN, while locked
        services.payment_authorize(user=user, pin="123456")
    pin = PaymentPin.objects.get(user=user)
    lock = pin.locked_until - timezone.now()
    assert timedelta(hours=2, minutes=59) < lock <= timedelta(hours=3)

    PaymentPin.objects.filter(user=user).update(locked_until=timezone.now() - timedelta(seconds=1))
    services.payment_authorize(user=user, pin="123456")
    assert PaymentPin.objects.get(user=user).failed_attempts == 0


def test_right_pin_resets_the_count(make_user, bind_card):
    from wallet.models import PaymentPin

    user = make_user()
    bind_card(user)
    with pytest.raises(errors.WrongPin):
        services.payment_authorize(user=user, pin="999999")
    services.payment_authorize(user=user, pin="123456")
    assert PaymentPin.objects.get(user=user).failed_attempts == 0


def test_no_pin_needed_before_the_first_card(make_user):
    services.payment_authorize(user=make_user(), pin=None)


def test_pin_needed_once_set(make_user, bind_card):
    user = make_user()
    bind_card(user)
    with pytest.raises(errors.PinRequired):
        services.payment_authorize(user=user, pin=None)


def test_sms_code_has_five_tries(make_user):
    user = make_user()
    binding, code = services.card_bind_start(
        user=user,
        card_number="4111111111111111",
        holder_name="李四",
        phone="13912345678",
        pin="654321",
    )
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        with pytest.raises(errors.WrongCode):
            services.card_bind_verify(user=user, binding_id=str(binding.pk), code=wrong)
    with pytest.raises(errors.BindingVoid):
        services.card_bind_verify(user=user, binding_id=str(binding.pk), code=wrong)
    with pytest.raises(errors.BindingVoid):  # the right code is too late now
        services.card_bind_verify(user=user, binding_id=str(binding.pk), code=code)


def test_sms_code_expires_after_five_minutes(make_user):
    from datetime import timedelta

    from django.utils import timezone

    from wallet.models import CardBinding

    user = make_user()
    binding, code = services.card_bind_start(
        user=user,
        card_number="4111111111111111",
        holder_name="李四",
        phone="13912345678",
        pin="654321",
    )
    CardBinding.objects.filter(pk=binding.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(errors.CodeExpired):
        services.card_bind_verify(user=user, binding_id=str(binding.pk), code=code)


def test_card_binding_stores_no_card_number(make_user, bind_card):
    from wallet.models import BankCard, CardBinding, SandboxCard, SandboxStatementLine, SmsMessage

    user = make_user()
    bind_card(user, number="4111111111111111")
    for model in (BankCard, CardBinding, SandboxCard, SandboxStatementLine, SmsMessage):
        for row in model.objects.values():
            assert not any("4111111111111111" in str(value) for value in row.values()), model
