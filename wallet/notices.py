"""服务通知 (money notices): which ledger movements raise one, what each is called and
where it links. The reads are in `wallet.selectors` (`notices_for`), the one write (the
read marker) in `wallet.services.notices`.

Notices are the user's own wallet ledger entries, not rows of a second table: every
money movement already writes exactly one entry per wallet, append-only, in the
transaction that moves the money, so a notice can neither be lost nor told twice nor
disagree with the balance, and needs no write on the hot paths (a credit, a refund). An
entry's id orders notices and is the cursor for catching up (`after=`) and for the
badge (`NoticesSeen.up_to_entry_id`). What a notice links to (a packet's result page, a
campaign) belongs to the app whose movement it is: those apps register a resolver for
their kinds (their AppConfig.ready), so the wallet imports none of them; other notices
link to their line of 零钱明细.

The websocket events (`wallet.credited`, `wallet.refunded`, `wallet.received`,
`wallet.topped_up`, `wallet.withdrawn`) are the live half of the same list: a page
shows a toast on one, and after a reconnect it asks for the notices after the newest id
it knows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from wallet.models import LedgerTransaction

Kind = LedgerTransaction.Kind

# Movements that raise a notice, and what the notice calls them. A transfer raises one
# only for its recipient (money in); the sender made it themself.
TITLES: dict[str, Any] = {
    Kind.CLAIM_CREDIT: _("红包入账"),
    Kind.WIN_CREDIT: _("摇一摇红包入账"),
    Kind.PACKET_REFUND: _("红包退款"),
    Kind.TRANSFER: _("收到转账"),
    Kind.TOPUP: _("充值到账"),
    Kind.WITHDRAW: _("提现"),
    Kind.WITHDRAW_REVERSAL: _("提现退回"),
}


def notice_filter() -> Q:
    """The wallet entries that are notices (on a query of `Entry`)."""
    return Q(transaction__kind__in=[kind for kind in TITLES if kind != Kind.TRANSFER]) | Q(
        transaction__kind=Kind.TRANSFER, amount_fen__gt=0
    )


@dataclass(frozen=True)
class NoticeLink:
    """Where a notice leads, and the ids a page matches live events with."""

    url: str
    packet_id: int | None = None
    win_id: int | None = None


# kind → resolver(references) → {reference: NoticeLink}; one query per kind and page.
LinkResolver = Callable[[list[str]], dict[str, NoticeLink]]
_resolvers: dict[str, LinkResolver] = {}


def notice_link_register(*, kind: str, resolve: LinkResolver) -> None:
    """Let the app whose movements are of `kind` say where their notices link."""
    _resolvers[kind] = resolve


def notice_links(kind: str, references: list[str]) -> dict[str, NoticeLink]:
    resolve = _resolvers.get(kind)
    return resolve(references) if resolve is not None and references else {}
