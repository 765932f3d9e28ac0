"""A shake win is a packet of the user's like any other (SPEC §5): it is listed in
我的红包 with `source` "shake" and counted in its totals (API and page), and it has a
result page whose credit line reads "入账中…" until the credit, "已存入零钱，可用于…" after.
SPEC §8 after every money test."""

from __future__ import annotations

import pytest
from django.test import Client

from redpacket.packets import services as packet_services
from shake import services
from shake.models import Win
from tests.invariants import assert_invariants
from tests.redpacket.conftest import send  # noqa: F401 - the send fixture
from tests.redpacket.test_pages import Page
from tests.shake.conftest import Rolls

pytestmark = pytest.mark.django_db

CREDITED = "已存入零钱，可用于"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@pytest.fixture
def winner(make_user, make_campaign):
    """A user who won ¥3.23 at a campaign of "春晚赞助" greeting "新春快乐" (not yet credited)."""
    campaign = make_campaign(name="春晚摇一摇", greeting="新春快乐")
    campaign.sponsor.display_name = "春晚赞助"
    campaign.sponsor.save(update_fields=["display_name"])
    user = make_user(display_name="摇摇")
    result = services.campaign_shake(user=user, campaign_id=campaign.pk, rng=Rolls(0, 123, 0))
    assert result.won and result.amount_fen == 323
    return user, Win.objects.get(pk=result.win_id)


@pytest.fixture
def share_and_win(winner, make_user, fund, send):  # noqa: F811
    """The winner then opened a share of a lucky packet in a group."""
    from chat import services as chat_services

    user, win = winner
    friend = make_user()
    fund(friend, 10_000)
    room = chat_services.room_create_group(
        creator=friend, name="测试群", member_ids=[user.pk, make_user().pk]
    )
    packet = send(friend, room, count=2, total_fen=500)
    share = packet_services.packet_open(user=user, packet_id=packet.pk).amount_fen
    return user, win, packet, share


def test_received_api_lists_a_win_with_source_shake_and_counts_it(share_and_win):
    user, win, packet, share = share_and_win
    body = client_for(user).get("/api/packets/received").json()
    assert body["total_fen"] == share + 323
    assert body["count"] == 2
    assert body["best_luck_count"] == 0
    by_source = {row["source"]: row for row in body["results"]}
    assert set(by_source) == {"packet", "shake"}
    won = by_source["shake"]
    assert won["win_id"] == win.pk and won["packet_id"] is None
    assert won["amount_fen"] == 323 and won["kind"] == "shake"
    assert won["sender"]["display_name"] == "春晚赞助" and won["greeting"] == "新春快乐"
    assert won["best_luck"] is False
    assert won["result_url"] == f"/shake/wins/{win.pk}/"
    shared = by_source["packet"]
    assert shared["packet_id"] == packet.pk and shared["win_id"] is None
    assert shared["amount_fen"] == share
    assert shared["result_url"] == f"/packets/{packet.pk}/result/"
    # Newest first: the share was opened after the win.
    assert [row["source"] for row in body["results"]] == ["packet", "shake"]
    assert_invariants()


def test_received_api_of_another_year_has_no_win(winner):
    user, _win = winner
    body = client_for(user).get("/api/packets/received?year=2001").json()
    assert (body["total_fen"], body["count"], body["results"]) == (0, 0, [])


def test_received_api_pages_through_shares_and_wins(share_and_win):
    user, win, _packet, _share = share_and_win
    client = client_for(user)
    first = client.get("/api/packets/received?page_size=1").json()
    assert [row["source"] for row in first["results"]] == ["packet"] and first["next"]
    second = client.get(first["next"]).json()
    assert [row["win_id"] for row in second["results"]] == [win.pk] and second["next"] is None
    assert second["count"] == 2


def test_my_packets_page_lists_and_counts_a_win(share_and_win):
    user, win, _packet, share = share_and_win
    page = Page(client_for(user).get("/packets/mine/").content.decode())
    assert page.testid("records-total") == [f"{_yuan(share + 323)}元"]
    assert page.testid("records-count") == ["2"]
    assert page.testid("records-best") == ["0"]
    assert any(href.startswith(f"/shake/wins/{win.pk}/?back=") for _t, href in page.links)
    assert any("春晚赞助" in text and "3.23元" in text for text, _h in page.links)
    assert_invariants()


def test_win_result_page_before_and_after_its_credit(winner, credit_pending):
    user, win = winner
    client = client_for(user)
    before = Page(client.get(f"/shake/wins/{win.pk}/").content.decode())
    assert before.testid("win-title") == ["春晚赞助的红包 摇"]
    assert before.testid("win-greeting") == ["新春快乐"]
    assert before.testid("my-amount") == ["3.23 元"]
    assert before.testid("credit-line") == ["入账中…"]
    api = client.get(f"/api/shake/wins/{win.pk}").json()
    assert (api["credited"], api["credit_line"], api["amount_fen"]) == (False, "入账中…", 323)

    assert credit_pending() == 1
    after = Page(client.get(f"/shake/wins/{win.pk}/").content.decode())
    assert after.testid("credit-line")[0].startswith(CREDITED)
    assert after.testid("my-amount") == ["3.23 元"]
    api = client.get(f"/api/shake/wins/{win.pk}").json()
    assert api["credited"] is True and api["credit_line"] == after.testid("credit-line")[0]
    assert_invariants()


def test_someone_elses_win_is_not_found(winner, make_user):
    _user, win = winner
    stranger = client_for(make_user())
    assert stranger.get(f"/shake/wins/{win.pk}/").status_code == 404
    response = stranger.get(f"/api/shake/wins/{win.pk}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Client().get(f"/shake/wins/{win.pk}/").status_code == 302


def test_the_shake_page_script_shows_the_pending_state_and_links_the_win():
    from pathlib import Path

    script = Path("static/js/shake.js").read_text()
    assert 't("入账中…")' in script and "/shake/wins/" in script
    assert 't("已存入零钱")' not in script
