"""SPEC §4 cell by cell through the pages (the Django test client against the HTML), each
checked against the API for the same packet and viewer: the open card against
`GET /api/packets/<id>` `view`, the result page against `/result`. The expected texts are
SPEC's own words, so a wrong rule fails here even where pages and API agree."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.test import Client

from redpacket.packets import services
from redpacket.packets.models import Claim
from tests.invariants import assert_invariants
from tests.redpacket.test_display import expire, result_of, scene, view_of  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

OPEN_LUCKY = "发了一个红包，金额随机"
OPEN_NORMAL = "给你发了一个红包"
FINISHED = "手慢了，红包派完了"
EXPIRED = "该红包已超过24小时。如已领取，可在“我的红包”中查看"
ALL_LINK = "看看大家的手气"


class Page(HTMLParser):
    """The parts of a rendered page the tests look at: elements by class / data-testid,
    and the attributes of the open card."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.stack: list[tuple[str, set[str], str | None]] = []
        self.by_class: dict[str, list[str]] = {}
        self.by_testid: dict[str, list[str]] = {}
        self.card: dict[str, str] = {}
        self.links: list[tuple[str, str]] = []
        self._open: list[list] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = set((attributes.get("class") or "").split())
        if "data-packet-card" in attributes:
            self.card = {k: v or "" for k, v in attributes.items()}
        if tag in ("br", "img", "input", "meta", "link"):
            return
        self._open.append([tag, classes, attributes.get("data-testid"), [], attributes])

    def handle_endtag(self, tag):
        if not self._open:
            return
        while self._open:
            entry = self._open.pop()
            text = " ".join("".join(entry[3]).split())
            for cls in entry[1]:
                self.by_class.setdefault(cls, []).append(text)
            if entry[2]:
                self.by_testid.setdefault(entry[2], []).append(text)
            if entry[0] == "a":
                self.links.append((text, entry[4].get("href") or ""))
            if self._open:
                self._open[-1][3].append(text + " ")
            if entry[0] == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][3].append(data)

    def one(self, cls: str) -> str | None:
        found = self.by_class.get(cls) or []
        assert len(found) <= 1, (cls, found)
        return found[0] if found else None

    def testid(self, name: str) -> list[str]:
        return self.by_testid.get(name, [])


def browser_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def card_of(user, packet) -> Page:
    response = browser_for(user).get(f"/packets/{packet.pk}/card/")
    assert response.status_code == 200
    return Page(response.content.decode())


def result_page_of(user, packet) -> Page:
    response = browser_for(user).get(f"/packets/{packet.pk}/result/")
    assert response.status_code == 200
    return Page(response.content.decode())


# --- The open page: every cell of the table ---------------------------------------------

OPEN_CELLS = [
    # kind, state, viewer, view, subtitle, 开 button, 看看大家的手气 link
    ("lucky", "open", "other", "open", OPEN_LUCKY, True, True),
    ("normal", "open", "other", "open", OPEN_NORMAL, True, False),
    ("direct", "open", "other", "open", OPEN_NORMAL, True, False),
    ("lucky", "open", "sender", "open", OPEN_LUCKY, True, True),
    ("normal", "open", "sender", "open", OPEN_NORMAL, True, True),
    ("lucky", "finished", "other", "finished", FINISHED, False, True),
    ("normal", "finished", "other", "finished", FINISHED, False, False),
    ("lucky", "finished", "sender", "finished", FINISHED, False, True),
    ("normal", "finished", "sender", "finished", FINISHED, False, True),
    ("lucky", "expired", "other", "expired", EXPIRED, False, True),
    ("normal", "expired", "other", "expired", EXPIRED, False, False),
    ("direct", "expired", "other", "expired", EXPIRED, False, False),
    ("lucky", "expired", "sender", "expired", EXPIRED, False, True),
    ("normal", "expired", "sender", "expired", EXPIRED, False, True),
    ("direct", "expired", "sender", "expired", EXPIRED, False, True),
]


@pytest.mark.parametrize(
    ("kind", "state", "viewer", "view", "subtitle", "button", "link"),
    OPEN_CELLS,
    ids=["-".join(cell[:3]) for cell in OPEN_CELLS],
)
def test_open_page_cell(scene, kind, state, viewer, view, subtitle, button, link):  # noqa: F811
    packet, sender, bystander = scene(kind, state)
    user = sender if viewer == "sender" else bystander
    api = view_of(user, packet)
    assert api["view"] == view

    for page in (
        card_of(user, packet),
        Page(browser_for(user).get(f"/packets/{packet.pk}/").content.decode()),
    ):
        assert page.card["data-view"] == api["view"]  # the page and the API agree
        assert page.card["data-goes-to-result"] == "0"
        assert page.one("packet-card-title") == f"{sender.name}的红包"
        assert page.one("packet-card-subtitle") == subtitle
        assert (page.one("packet-open-button") == "开") is button
        assert (page.one("packet-card-greeting") == "恭喜发财，大吉大利") is button
        assert (page.one("packet-all-link") == f"{ALL_LINK} ›") is link
        assert page.one("packet-card-avatar") == sender.avatar_initial


@pytest.mark.parametrize("state", ["open", "finished"])
def test_the_count_1_sender_goes_to_the_result_page(scene, state):  # noqa: F811
    packet, sender, _other = scene("direct", state)
    assert view_of(sender, packet)["view"] == "waiting"
    card = card_of(sender, packet)
    assert card.card["data-goes-to-result"] == "1"
    assert card.card["data-result-url"].startswith(f"/packets/{packet.pk}/result/")
    response = browser_for(sender).get(f"/packets/{packet.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/packets/{packet.pk}/result/")
    summary = result_page_of(sender, packet).testid("summary")
    expected = "红包金额5.20元，等待对方领取" if state == "open" else "1个红包共5.20元"
    assert summary == [expected] == [result_of(sender, packet)["summary"]]


def test_a_viewer_with_a_share_goes_straight_to_the_result(scene):  # noqa: F811
    packet, _sender, bystander = scene("lucky", "open")
    services.packet_open(user=bystander, packet_id=packet.pk)
    assert view_of(bystander, packet)["view"] == "opened"
    assert card_of(bystander, packet).card["data-goes-to-result"] == "1"
    response = browser_for(bystander).get(f"/packets/{packet.pk}/")
    assert response.status_code == 302


def test_open_button_without_javascript_opens_and_lands_on_the_result(scene):  # noqa: F811
    packet, _sender, bystander = scene("lucky", "open")
    response = browser_for(bystander).post(f"/packets/{packet.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/packets/{packet.pk}/result/")
    amount = result_of(bystander, packet)["my_amount_fen"]
    assert amount is not None
    page = result_page_of(bystander, packet)
    assert page.testid("my-amount") == [f"{amount // 100}.{amount % 100:02d} 元"]
    assert_invariants()


def test_open_that_meets_a_finished_packet_shows_the_finished_variant(scene, make_user):  # noqa: F811
    packet, _sender, bystander = scene("lucky", "finished")
    response = browser_for(bystander).post(f"/packets/{packet.pk}/")
    assert response.status_code == 200
    page = Page(response.content.decode())
    assert page.card["data-view"] == "finished"
    assert page.one("packet-card-subtitle") == FINISHED


def test_a_non_member_gets_404_on_every_packet_page(scene, make_user):  # noqa: F811
    packet, _sender, _bystander = scene("lucky", "open")
    stranger = browser_for(make_user())
    for url in ("", "card/", "result/", "forward/"):
        assert stranger.get(f"/packets/{packet.pk}/{url}").status_code == 404


# --- The result page: rules 1–8, the expired and unfinished lines ------------------------


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


RESULT_CASES = {
    # name: (kind, state, viewer, viewer opens first?)
    "rule1-3-receiver-of-lucky": ("lucky", "open", "other", True),
    "rule2-sender-unfinished": ("lucky", "open", "sender", False),
    "rule4-finished-lucky-sender": ("lucky", "finished", "sender", False),
    "rule4-finished-lucky-other": ("lucky", "finished", "other", False),
    "rule4-finished-normal-sender": ("normal", "finished", "sender", False),
    "rule4-finished-normal-other": ("normal", "finished", "other", False),
    "rule5-unfinished-sender": ("normal", "open", "sender", False),
    "rule5-unfinished-other": ("normal", "open", "other", True),
    "rule6-count-1-waiting": ("direct", "open", "sender", False),
    "rule7-normal-list-hidden-from-receiver": ("normal", "open", "other", True),
    "rule8-best-luck-on-finished-lucky": ("lucky", "finished", "other", False),
    "expired-sender": ("lucky", "expired", "sender", False),
    "expired-other": ("lucky", "expired", "other", False),
    "expired-receiver": ("normal", "expired", "other", True),
}


@pytest.mark.parametrize("case", list(RESULT_CASES))
def test_result_page_agrees_with_the_api_and_spec(scene, case):  # noqa: F811
    kind, state, viewer, opens = RESULT_CASES[case]
    build_state = "open" if state == "expired" else state
    packet, sender, bystander = scene(kind, build_state)
    user = sender if viewer == "sender" else bystander
    if opens:
        services.packet_open(user=user, packet_id=packet.pk)
        for claim in Claim.objects.filter(user=user, credit_status="pending"):
            services.claim_credit(claim_id=claim.pk)  # no eager Celery: the worker's part
    if state == "expired":
        expire(packet)
    api = result_of(user, packet)
    page = result_page_of(user, packet)

    # Pages and API never disagree.
    assert page.testid("summary") == [api["summary"]]
    assert page.testid("note") == api["notes"]
    assert len(page.by_class.get("claim-amount", [])) == len(api["claims"])
    assert len(page.testid("best-luck")) == sum(c["best_luck"] for c in api["claims"])
    buttons = {text for text, _href in page.links}
    assert ("继续发送此红包" in buttons) == ("continue_sending" in api["buttons"])
    assert ("查看我的红包记录" in buttons) == ("my_records" in api["buttons"])
    if api["my_amount_fen"] is None:
        assert page.testid("my-amount") == [] and page.testid("credit-line") == []
    else:
        assert page.testid("my-amount") == [f"{_yuan(api['my_amount_fen'])} 元"]
        assert page.testid("credit-line") == [api["credit_line"]]

    # And both say what SPEC §4 says.
    count = 1 if kind == "direct" else 2
    claimed = sum(c["amount_fen"] for c in api["claims"]) if api["claims"] else None
    if case == "rule1-3-receiver-of-lucky":
        assert page.testid("credit-line")[0].startswith("已存入零钱，可用于")
        assert api["buttons"] == ["my_records"]
        assert page.testid("summary") == ["领取1/2个"]
    elif case == "rule2-sender-unfinished":
        assert api["buttons"] == ["continue_sending"]
        assert page.testid("note") == ["未领取的红包，将于24小时后发起退款"]
        assert page.testid("summary") == ["已领取0/2个，共0.00/6.00元"]
    elif case == "rule4-finished-lucky-sender":
        assert page.testid("summary")[0].startswith("2个红包共6.00元，")
        assert page.testid("summary")[0].endswith("被抢光")
    elif case == "rule4-finished-lucky-other":
        assert page.testid("summary")[0].startswith("2个红包，")
        assert page.testid("summary")[0].endswith("秒被抢光")
    elif case.startswith("rule4-finished-normal"):
        assert page.testid("summary") == ["2个红包共6.00元"]
        assert len(api["claims"]) == (count if viewer == "sender" else 0)  # rule 7
    elif case == "rule5-unfinished-sender":
        assert page.testid("summary") == ["已领取0/2个，共0.00/6.00元"]
    elif case == "rule5-unfinished-other":
        assert page.testid("summary") == ["领取1/2个"]
    elif case == "rule6-count-1-waiting":
        assert page.testid("summary") == ["红包金额5.20元，等待对方领取"]
        assert api["buttons"] == ["continue_sending"]
    elif case == "rule7-normal-list-hidden-from-receiver":
        assert api["claims"] == [] and "claim-amount" not in page.by_class
    elif case == "rule8-best-luck-on-finished-lucky":
        assert len(page.testid("best-luck")) == 1 and claimed == 600
        best = max(api["claims"], key=lambda c: c["amount_fen"])
        assert best["best_luck"]
    elif case == "expired-sender":
        assert page.testid("summary") == ["该红包已过期。已领取0/2个，共0.00/6.00元"]
        assert api["buttons"] == [] and page.testid("note") == []
    elif case == "expired-other":
        assert page.testid("summary") == ["该红包已过期。已领取0/2个"]
    elif case == "expired-receiver":
        assert page.testid("summary") == ["该红包已过期。已领取1/2个"]
        assert api["buttons"] == ["my_records"]
    else:  # pragma: no cover
        raise AssertionError(case)


def test_result_claim_rows_show_name_time_and_amount(scene):  # noqa: F811
    packet, sender, _ = scene("lucky", "finished")
    page = result_page_of(sender, packet)
    api = result_of(sender, packet)
    names = page.by_class["claim-name"]
    assert names == [claim["user"]["display_name"] for claim in api["claims"]]
    assert page.by_class["claim-amount"] == [f"{_yuan(c['amount_fen'])}元" for c in api["claims"]]
    assert all(page.by_class["claim-time"])


def test_result_back_goes_to_the_room(scene):  # noqa: F811
    packet, sender, _ = scene("lucky", "open")
    html = browser_for(sender).get(f"/packets/{packet.pk}/result/").content.decode()
    assert f'class="topbar-back" href="/chat/rooms/{packet.room_id}/"' in html


# --- 我的红包 --------------------------------------------------------------------------------


def test_my_packets_received_and_sent_with_totals_and_states(scene):  # noqa: F811
    lucky, sender, bystander = scene("lucky", "open")
    amount = services.packet_open(user=bystander, packet_id=lucky.pk).amount_fen
    received = Page(browser_for(bystander).get("/packets/mine/").content.decode())
    assert received.testid("records-total") == [f"{_yuan(amount)}元"]
    assert received.testid("records-count") == ["1"]
    assert received.testid("records-best") == ["0"]
    assert any(href.startswith(f"/packets/{lucky.pk}/result/") for _t, href in received.links)

    sent = Page(browser_for(sender).get("/packets/mine/?tab=sent").content.decode())
    api = browser_for(sender).get("/api/packets/sent").json()
    assert sent.testid("records-total") == [f"{_yuan(api['total_fen'])}元"] == ["6.00元"]
    assert sent.testid("records-count") == [str(api["count"])] == ["1"]
    assert sent.testid("record-state") == [row["state"] for row in api["results"]] == ["1/2"]


@pytest.mark.parametrize(("state", "label"), [("finished", "已领完"), ("expired", "已过期")])
def test_my_sent_packet_states(scene, state, label):  # noqa: F811
    _packet, sender, _ = scene("lucky", state)
    sent = Page(browser_for(sender).get("/packets/mine/?tab=sent").content.decode())
    assert sent.testid("record-state") == [label]


def test_my_packets_by_year(scene):  # noqa: F811
    _packet, sender, _ = scene("lucky", "open")
    page = Page(browser_for(sender).get("/packets/mine/?tab=sent&year=2001").content.decode())
    # A year before the user existed falls back to this year.
    assert page.testid("records-count") == ["1"]


# --- Navigation --------------------------------------------------------------------------


def test_chat_plus_menu_and_wallet_link_to_sending_and_records(group):
    room, users = group(3)
    client = browser_for(users[0])
    html = client.get(f"/chat/rooms/{room.pk}/").content.decode()
    assert f'href="/packets/send/{room.pk}/" data-action="packet"' in html
    assert "js/redpacket.js" in html
    wallet = Page(client.get("/wallet/").content.decode())
    hrefs = {href for _text, href in wallet.links}
    assert {"/packets/mine/", "/packets/send/"} <= hrefs
    picker = Page(client.get("/packets/send/").content.decode())
    assert ("测试群 (3) ›", f"/packets/send/{room.pk}/") in picker.links


def test_forward_posts_the_packet_to_another_room(group, send):
    room, users = group(3)
    other_room, _ = group(2)
    packet = send(users[0], room, count=2)
    from chat import services as chat_services

    chat_services.room_add_members(room=other_room, actor=other_room.owner, user_ids=[users[0].pk])
    client = browser_for(users[0])
    assert client.get(f"/packets/{packet.pk}/forward/").status_code == 200
    response = client.post(f"/packets/{packet.pk}/forward/", {"room_id": other_room.pk})
    assert response.status_code == 302 and response["Location"] == f"/chat/rooms/{other_room.pk}/"
    # A bystander may not forward it.
    refused = browser_for(users[1]).post(f"/packets/{packet.pk}/forward/", {"room_id": room.pk})
    assert refused.status_code == 400
