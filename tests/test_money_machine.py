"""A stateful property test of the money paths, driven as a hostile client would drive them.

Three users top up, withdraw, transfer, send (from change and from cards; lucky, normal
and 专属红包 for a member, the sender, a stranger, no one or not an id), open, forward
and expire packets through the real API on PostgreSQL and Redis. The client chooses its
Idempotency-Keys badly on purpose: fresh, reused, reused with another body, reused on
another endpoint, suffixed like the server's own references (":reversal", ":refund",
"::"), and outside printable ASCII. Cards are good, declined or short of funds; faults
are injected between steps: a database error inside a send (the client then retries, as
API.md tells it to), credits left pending by a dead worker (the sweeper's work later).

After every step: SPEC §8 over the whole database (every packet, the ledger, each claim
and refund once, campaigns) and the sandbox bank's statement equal to the bank clearing
account line by line. Every answer is one API.md allows, never a 500.

Seeded and replayable: MONEY_MACHINE_SEED picks the run; a failure prints it. CI runs
MONEY_MACHINE_STEPS (default 3,000; CI 1,500); `make money-machine` runs 50,000.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from typing import Any

import pytest
from django.db import DatabaseError, transaction
from hypothesis import HealthCheck, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.invariants import invariant_findings
from tests.wallet.conftest import DECLINED_CARD, GOOD_CARD, INSUFFICIENT_CARD, PIN

pytestmark = [pytest.mark.django_db, pytest.mark.postgres, pytest.mark.redis]

STEPS_PER_RUN = 50
TOTAL_STEPS = int(os.environ.get("MONEY_MACHINE_STEPS", "3000"))
SEED = int(os.environ.get("MONEY_MACHINE_SEED", "20261201"))

# The shapes of the server's own references, most of all the ones that follow a first
# movement (a reversal after a declined withdrawal, a refund after a failed charge).
SUFFIXES = [":reversal", ":reversal", ":refund", ":refund", ":return", "::", ":fund"]
BAD_KEYS = ["", "中文键", "tab\tkey", "k" * 65]

# What each endpoint may answer (API.md): never a 500, whatever the client sent.
ALLOWED = {
    "topup": {200, 400, 404, 409, 422},
    "withdraw": {200, 400, 404, 409, 422},
    "transfer": {200, 400, 409, 422},
    "send": {201, 400, 403, 404, 409, 422, 503},
    "open": {200, 403, 404, 409, 410},
    "forward": {201, 400, 403, 404, 409, 410},
}
PATHS = {
    "topup": "/api/wallet/topup",
    "withdraw": "/api/wallet/withdraw",
    "transfer": "/api/wallet/transfer",
    "send": "/api/packets",
}
STORED = {200, 201, 422}
ANSWERS: Counter[str] = Counter()  # endpoint and status of every answer, for the report


class MoneyMachine(RuleBasedStateMachine):
    """One run: its own users, cards and rooms, rolled back when the run ends."""

    packets = Bundle("packets")

    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.sent: dict[tuple[int, str, str], tuple[dict, int, Any]] = {}
        self.keys: list[tuple[int, str]] = []
        self.fail_next_send = False
        self.exclusive: set[int] = set()  # packets sent as 专属红包

    # --- the world ---------------------------------------------------------------------

    @initialize()
    def people(self) -> None:
        from rest_framework.test import APIClient

        from chat import services as chat_services
        from redpacket.accounts.models import User
        from redpacket.accounts.services import token_issue
        from wallet import services as wallet

        tag = uuid.uuid4().hex[:8]
        self.users, self.clients, self.cards = [], [], []
        for name in ("alice", "bob", "carol"):
            user = User.objects.create_user(
                username=f"{name}-{tag}", password="pw-machine-1", display_name=name
            )
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token_issue(user=user).key}")
            cards = []
            for number in (GOOD_CARD, DECLINED_CARD, INSUFFICIENT_CARD):
                binding, code = wallet.card_bind_start(
                    user=user,
                    card_number=number,
                    holder_name=name,
                    phone=f"139{user.pk % 10**8:08d}",  # one phone each (SMS limits)
                    pin=PIN,
                )
                cards.append(wallet.card_bind_verify(user=user, binding_id=binding.pk, code=code))
            wallet.wallet_topup(user=user, card=cards[0], amount_fen=200_000)
            self.users.append(user)
            self.clients.append(client)
            self.cards.append(cards)
        self.group = chat_services.room_create_group(
            creator=self.users[0], name="机器群", member_ids=[u.pk for u in self.users[1:]]
        )
        self.direct, _ = chat_services.room_get_or_create_direct(
            user=self.users[0], other_user_id=self.users[1].pk
        )
        # In no room of the run: an exclusive packet "for" them names a non-member.
        self.stranger = User.objects.create_user(
            username=f"stranger-{tag}", password="pw-machine-1", display_name="stranger"
        )

    def teardown(self) -> None:
        from io import StringIO

        from django.core.cache import cache
        from django.core.management import call_command

        from redpacket.packets.gate import packet_store
        from wallet.services import forget_accounts

        try:
            # 对账 as operators run it (`manage.py reconcile`) must find the run clean: it
            # exits non-zero on any finding.
            output = StringIO()
            try:
                call_command("reconcile", verbosity=0, stdout=output)
            except SystemExit as exit_:
                raise AssertionError(f"对账 found:\n{output.getvalue()}") from exit_
        finally:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)
            cache.clear()
            packet_store().clear()
            forget_accounts()

    # --- keys, chosen badly on purpose -------------------------------------------------

    def _key(self, data, who: int) -> str:
        mine = [key for owner, key in self.keys if owner == who][-4:]  # the latest, mostly
        choice = data.draw(st.sampled_from(["fresh", "fresh", "reuse", "suffix", "suffix", "bad"]))
        if choice == "reuse" and mine:
            return data.draw(st.sampled_from(mine))
        if choice == "suffix" and mine:
            return data.draw(st.sampled_from(mine)) + data.draw(st.sampled_from(SUFFIXES))
        if choice == "bad":
            return data.draw(st.sampled_from(BAD_KEYS))
        return f"k{len(self.keys)}"

    def _post(self, who: int, endpoint: str, body: dict, key: str | None = None):
        path = PATHS[endpoint]
        headers: dict[str, Any] = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
        response = self.clients[who].post(path, body, format="json", **headers)
        self._check_answer(endpoint, response)
        if key is not None:
            self._check_replay(who, endpoint, key, body, response)
        return response

    def _check_answer(self, endpoint: str, response) -> None:
        ANSWERS[f"{endpoint} {response.status_code}"] += 1
        assert response.status_code in ALLOWED[endpoint], (endpoint, response.status_code)
        if response.status_code >= 400:
            body = response.json()
            assert set(body) >= {"code", "message"}, body

    def _check_replay(self, who, endpoint, key, body, response) -> None:
        """API.md: the same key and body → the first final answer again; the same key
        with another body on the same endpoint → 409 idempotency_mismatch."""
        status = response.status_code
        if status == 400 and response.json()["code"] == "idempotency_key_required":
            return
        slot = (who, endpoint, key)
        first = self.sent.get(slot)
        if first is None:
            if status in STORED:
                self.sent[slot] = (body, status, response.json())
            if status not in (400, 409):
                self.keys.append((who, key))
            return
        first_body, first_status, first_answer = first
        if body == first_body:
            assert status == first_status, (slot, first_status, status)
            if endpoint == "send" and status == 201:  # a packet's view moves on, not its id
                assert response.json()["id"] == first_answer["id"]
            else:
                assert response.json() == first_answer
        else:
            assert status == 409 and response.json()["code"] == "idempotency_mismatch"

    # --- rules -------------------------------------------------------------------------

    @rule(
        data=st.data(),
        who=st.integers(0, 2),
        card=st.integers(0, 2),
        amount=st.sampled_from([1, 99, 5_000, 100_000]),
    )
    def topup(self, data, who, card, amount):
        body = {"card_id": self.cards[who][card].pk, "amount_fen": amount, "pin": PIN}
        self._post(who, "topup", body, self._key(data, who))

    @rule(
        data=st.data(),
        who=st.integers(0, 2),
        card=st.integers(0, 2),
        amount=st.sampled_from([1, 500, 50_000, 5_000_000]),
    )
    def withdraw(self, data, who, card, amount):
        body = {"card_id": self.cards[who][card].pk, "amount_fen": amount, "pin": PIN}
        self._post(who, "withdraw", body, self._key(data, who))

    @rule(
        data=st.data(),
        who=st.integers(0, 2),
        to=st.integers(0, 2),
        amount=st.sampled_from([1, 300, 20_000, 5_000_000]),
    )
    def transfer(self, data, who, to, amount):
        body = {"to_user_id": self.users[to].pk, "amount_fen": amount, "pin": PIN}
        self._post(who, "transfer", body, self._key(data, who))

    @rule(
        target=packets,
        data=st.data(),
        who=st.integers(0, 2),
        pay=st.sampled_from(["balance", 0, 1, 2]),
        count=st.integers(1, 3),
        total=st.sampled_from([3, 300, 1_000, 20_000, 60_000]),
        direct=st.booleans(),
        fault=st.booleans(),
    )
    def send(self, data, who, pay, count, total, direct, fault):
        room = self.direct if direct else self.group
        body = {"room_id": room.pk}
        if direct:
            body |= {"kind": "normal", "count": 1, "share_fen": total}
        else:
            body |= {"kind": "lucky", "count": count, "total_fen": total}
        return self._send(data, who, pay, body, fault)

    @rule(
        target=packets,
        data=st.data(),
        who=st.integers(0, 2),
        pay=st.sampled_from(["balance", 0, 1, 2]),
        count=st.sampled_from([1, 1, 1, 2]),
        total=st.sampled_from([1, 300, 20_000, 60_000]),
        direct=st.sampled_from([False, False, False, True]),
        to=st.sampled_from([0, 1, 1, 2, 2, "stranger", "nobody", "text"]),
        fault=st.booleans(),
    )
    def send_exclusive(self, data, who, pay, count, total, direct, to, fault):
        """专属红包 for a member, the sender, a stranger, no one, or not an id at all,
        sometimes of two shares or in a direct room (where there is no such kind)."""
        room = self.direct if direct else self.group
        body = {"room_id": room.pk, "kind": "exclusive", "count": count, "share_fen": total}
        body["to_user_id"] = {"stranger": self.stranger.pk, "nobody": 2**62, "text": "carol"}.get(
            to, self.users[to].pk if isinstance(to, int) else None
        )
        return self._send(data, who, pay, body, fault)

    def _send(self, data, who, pay, body, fault):
        body = {**body, "pin": PIN}
        body["pay_with"] = "balance" if pay == "balance" else self.cards[who][pay].pk
        key = self._key(data, who)
        if fault:
            failed = self._post_with_fault(who, body, key)
            if failed.status_code != 503:
                self._check_replay(who, "send", key, body, failed)
                return self._sent(failed)
            # The client retries after a 503 with the same key, as API.md tells it to.
        return self._sent(self._post(who, "send", body, key))

    def _sent(self, response):
        """The new packet's id for the bundle (nothing if refused, so that opens and
        forwards are drawn from real packets); 专属红包 are remembered."""
        if response.status_code != 201:
            return multiple()
        packet_id = response.json()["id"]
        if response.json()["kind"] == "exclusive":
            self.exclusive.add(packet_id)
            ANSWERS["send exclusive 201"] += 1
        return packet_id

    def _post_with_fault(self, who, body, key):
        """The send's transaction fails with a database error after the money was asked
        for (after the card charge, when paid by card): 503, nothing stored."""
        from chat import services as chat_services

        real = chat_services.message_create

        def broken(**kwargs):
            raise DatabaseError("the database went away mid-send")

        chat_services.message_create = broken
        try:
            response = self.clients[who].post(
                PATHS["send"], body, format="json", HTTP_IDEMPOTENCY_KEY=key
            )
        finally:
            chat_services.message_create = real
        self._check_answer("send", response)
        return response

    @rule(packet=packets, who=st.integers(0, 2))
    def open(self, packet, who):
        self._open(packet, who)

    @rule(packet=packets)
    def everyone_opens(self, packet):
        for who in range(3):
            self._open(packet, who)

    def _open(self, packet, who):
        response = self.clients[who].post(f"/api/packets/{packet}/open", format="json")
        self._check_answer("open", response)
        if packet in self.exclusive:
            ANSWERS[f"open exclusive {response.status_code}"] += 1

    @rule(packet=packets, who=st.integers(0, 2), to_group=st.booleans())
    def forward(self, packet, who, to_group):
        room = self.group if to_group else self.direct
        response = self.clients[who].post(
            f"/api/packets/{packet}/forward", {"room_id": room.pk}, format="json"
        )
        self._check_answer("forward", response)

    @rule(packet=consumes(packets))
    def expire(self, packet):
        from redpacket.packets import services

        services.packet_expire(packet_id=packet, force=True)

    @precondition(lambda self: hasattr(self, "users"))
    @rule()
    def credit_what_a_dead_worker_left(self):
        """Crediting runs on commit in a worker; in this run nothing commits, so every
        claim waits like one whose worker was killed, until the sweeper's work runs."""
        from redpacket.packets import services
        from redpacket.packets.models import Claim

        for claim_id in Claim.objects.filter(credit_status="pending").values_list("pk", flat=True):
            services.claim_credit(claim_id=claim_id)

    @precondition(lambda self: hasattr(self, "users"))
    @rule(data=st.data(), who=st.integers(0, 2))
    def replay_a_key_on_another_endpoint(self, data, who):
        mine = [key for owner, key in self.keys if owner == who]
        if not mine:
            return
        key = data.draw(st.sampled_from(mine))
        body = {"to_user_id": self.users[(who + 1) % 3].pk, "amount_fen": 7, "pin": PIN}
        self._post(who, "transfer", body, key)

    # --- after every step --------------------------------------------------------------

    @invariant()
    def spec_8_holds(self):
        findings = invariant_findings()
        assert not findings, "SPEC §8 broken:\n" + "\n".join(map(str, findings))


@pytest.fixture
def unthrottled(monkeypatch, settings):
    """The machine makes thousands of money requests a minute on purpose."""
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "allow_request", lambda self, request, view: True)
    settings.RECONCILE_SETTLE_SECONDS = 0


# CI's few thousand steps get half an hour; a long run (`make money-machine`) has no limit.
@pytest.mark.timeout(1800 if TOTAL_STEPS <= 10_000 else 0)
def test_money_holds_whatever_a_hostile_client_does(unthrottled):
    runs = max(1, TOTAL_STEPS // STEPS_PER_RUN)
    print(f"money machine: seed {SEED}, {runs} runs of up to {STEPS_PER_RUN} steps")
    machine_settings = settings(
        max_examples=runs,
        stateful_step_count=STEPS_PER_RUN,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    ANSWERS.clear()
    run_state_machine_as_test(seed(SEED)(MoneyMachine), settings=machine_settings)
    print("answers:", dict(sorted(ANSWERS.items())))
    # The run reached the money paths, not only their refusals.
    for answer in (
        "topup 200",
        "withdraw 200",
        "transfer 200",
        "send 201",
        "open 200",
        "send exclusive 201",
        "open exclusive 200",  # by the member it is for
        "open exclusive 403",  # by anyone else
    ):
        assert ANSWERS[answer] > 0, (answer, ANSWERS)
