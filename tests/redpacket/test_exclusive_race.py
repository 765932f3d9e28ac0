"""专属红包 under a crowd: members including the chosen one open at once through the real
HTTP stack (PostgreSQL, Redis): exactly one claim, the chosen member's; everyone else
403 `not_allowed`, and the gate never admitted them. SPEC §8 after."""

from collections import Counter

import pytest

from redpacket.packets.gate import packet_store
from redpacket.packets.models import Claim, Packet
from tests.invariants import assert_invariants
from tests.redpacket.test_races import _race, crowd  # noqa: F401 - the shared fixture
from wallet.selectors import balance_of

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_members_racing_for_an_exclusive_packet(crowd, send, live_server):  # noqa: F811
    room, sender, members, tokens = crowd(40)
    chosen = members[17]
    packet = send(sender, room, kind="exclusive", count=1, share_fen=888, to_user_id=chosen.pk)
    before = balance_of(sender)
    # Everyone at once, the chosen member three times among them.
    order = [tokens[m.pk] for m in members]
    order[5:5] = [tokens[chosen.pk]]
    order[30:30] = [tokens[chosen.pk]]
    results = _race(live_server, order, packet.pk)

    outcomes = Counter(status for status, _ in results)
    assert outcomes == {200: 3, 403: len(members) - 1}, outcomes
    assert all(body["code"] == "not_allowed" for status, body in results if status == 403)
    bodies = [body for status, body in results if status == 200]
    assert {body["amount_fen"] for body in bodies} == {888}
    assert sorted(body["repeat"] for body in bodies) == [False, True, True]

    claims = list(Claim.objects.filter(packet=packet))
    assert [(c.user_id, c.amount_fen) for c in claims] == [(chosen.pk, 888)]
    packet.refresh_from_db()
    assert (packet.status, packet.remaining_count, packet.remaining_fen) == ("finished", 0, 0)
    assert set(packet_store().state(packet.pk).shares) <= {chosen.pk}
    assert balance_of(sender) == before
    assert Packet.objects.count() == 1
    assert_invariants()
