"""Red packet pages: send (发红包), open (拆), result, forward and 我的红包.

Thin, as the API: each page asks the same selectors (`packet_view`, `packet_result`,
`packets_received/sent`) and services (`packet_send`, `packet_open`, `packet_forward`)
the API does, and renders what they return; the texts of the open page come from
`rules.open_page`. Domain errors become form errors or the error page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from chat import selectors as chat_selectors
from chat.models import Room
from redpacket.accounts.requests import SignedInRequest
from redpacket.kernel.errors import DomainError
from redpacket.kernel.forms import add_domain_error
from redpacket.kernel.money import parse_yuan, yuan, yuan_plain
from redpacket.kernel.numbers import parse_int
from redpacket.packets import drafts, errors, rules, selectors, services
from redpacket.packets.forms import PacketSendForm
from redpacket.packets.models import Packet
from redpacket.packets.services.common import limits
from wallet.errors import InsufficientBalance, PinLocked
from wallet.forms import YuanField
from wallet.idempotency import run_idempotent
from wallet.selectors import wallet_summary
from wallet.services import BALANCE

ROOM_PICK_LIMIT = 200
RECORDS_PER_PAGE = 30


# --- helpers ------------------------------------------------------------------------------


def _room_choices(user: Any) -> list[dict[str, Any]]:
    return [
        {"room": room, "title": chat_selectors.room_title(room, user)}
        for room in chat_selectors.rooms_for_user(user=user)[:ROOM_PICK_LIMIT]
    ]


def _back_room_id(request: SignedInRequest, packet: dict[str, Any]) -> int | None:
    """The room the result page's back arrow returns to: the one the viewer came from
    (`?room=`), else the packet's own room, if the viewer is in it."""
    for candidate in (request.GET.get("room"), packet["room_id"]):
        room_id = chat_selectors.valid_id(candidate)
        if room_id is not None and chat_selectors.is_member(
            room_id=room_id, user_id=request.user.pk
        ):
            return room_id
    return None


def _with_room(url: str, room_id: int | None) -> str:
    return f"{url}?room={room_id}" if room_id else url


def _sender_name(sender: dict[str, Any]) -> str:
    return sender.get("display_name") or sender.get("username") or ""


def open_card_context(request: SignedInRequest, packet_id: int) -> dict[str, Any]:
    """What the open (拆) card shows: the grab check (`packet_view`, as the API's
    `GET /api/packets/<id>`) and SPEC §4's cell for it (`rules.open_page`)."""
    view = selectors.packet_view(user=request.user, packet_id=packet_id)
    is_sender = view["sender"]["id"] == request.user.pk
    cell = rules.open_page(
        view=view["view"],
        kind=view["kind"],
        count=view["count"],
        is_sender=is_sender,
        sender_name=_sender_name(view["sender"]),
        to_name=_sender_name(view["to_user"]) if view.get("to_user") else "",
    )
    room_id = _back_room_id(request, view)
    return {
        "packet": view,
        "cell": cell,
        "sender": view["sender"],
        "sender_initial": _sender_name(view["sender"])[:1].upper(),
        "goes_to_result": view["view"] in ("opened", "waiting"),
        "result_url": _with_room(reverse("redpacket:result", args=[packet_id]), room_id),
        "open_url": _with_room(reverse("redpacket:open", args=[packet_id]), room_id),
        "room_id": room_id,
    }


# --- send ---------------------------------------------------------------------------------


@login_required
@require_GET
def send_pick_room(request: SignedInRequest) -> HttpResponse:
    """钱包 → 红包 → 发红包: pick the room first."""
    return render(
        request,
        "redpacket/pick_room.html",
        {"rows": _room_choices(request.user), "mode": "send"},
    )


def _switched_initial(request: SignedInRequest, form: PacketSendForm) -> dict[str, Any]:
    """The no-JS "改为普通红包 / 改为拼手气红包 / 改为专属红包" button: the same form in the
    other kind, keeping what was typed (`rules.switch_kind`; between normal and exclusive
    the share stays as it is)."""
    switch = request.POST.get("switch")
    to_kind = switch if switch in rules.KINDS else rules.LUCKY
    from_kind = request.POST.get("kind")
    from_kind = from_kind if from_kind in rules.KINDS else rules.LUCKY
    raw_count = (request.POST.get("count") or "").strip()
    count = parse_int(raw_count, max_digits=4)
    leaving = "share_fen" if from_kind in rules.FIXED_SHARE_KINDS else "total_fen"
    arriving = "share_fen" if to_kind in rules.FIXED_SHARE_KINDS else "total_fen"
    amount = parse_yuan(request.POST.get(leaving, ""))
    if leaving != arriving:
        amount = rules.switch_kind(to_kind=to_kind, count=count, amount_fen=amount)
    return {
        "kind": to_kind,
        "count": raw_count,
        arriving: yuan_plain(amount) if amount is not None else "",
        "to_user_id": request.POST.get("to_user_id", ""),
        "greeting": request.POST.get("greeting", ""),
        "pay_with": request.POST.get("pay_with") or form.initial.get("pay_with"),
        "idempotency_key": request.POST.get("idempotency_key") or form.initial["idempotency_key"],
    }


def _draft_initial(draft: dict[str, str], is_direct: bool, wallet: Any) -> dict[str, Any]:
    """The send form as it was typed before 添加银行卡, paying with what can pay now
    (`rules.pay_card_choice`: change if enough, else the newest card)."""
    if is_direct:
        kind = rules.NORMAL
    elif draft["kind"] in (rules.NORMAL, rules.EXCLUSIVE):
        kind = draft["kind"]  # an exclusive draft keeps its member (`to_user_id`)
    else:
        kind = rules.LUCKY
    cost = rules.packet_total_fen(
        kind=kind,
        count=(
            1
            if is_direct or kind == rules.EXCLUSIVE
            else parse_int(draft["count"].strip(), max_digits=4)
        ),
        total_fen=parse_yuan(draft["total_fen"]),
        share_fen=parse_yuan(draft["share_fen"]),
    )
    card_id = rules.pay_card_choice(
        balance_fen=wallet.balance_fen,
        cost_fen=cost,
        card_ids=[card.pk for card in wallet.cards],
    )
    return {**draft, "kind": kind, "pay_with": BALANCE if card_id is None else str(card_id)}


@login_required
@require_http_methods(["GET", "POST"])
def send(request: SignedInRequest, room_id: int) -> HttpResponse:
    """发红包 in a room. With JavaScript the page pays through `POST /api/packets` (the pay
    sheet); without, the form posts here and `packet_send` decides the same way."""
    room = chat_selectors.room_for_member(user=request.user, room_id=room_id)
    is_direct = room.kind == Room.Kind.DIRECT
    wallet = wallet_summary(user=request.user)
    member_count = len(chat_selectors.room_member_ids(room.pk))
    # 专属红包's picker: the group's members but the sender.
    recipients = (
        []
        if is_direct
        else [user for user in chat_selectors.room_members(room) if user.pk != request.user.pk]
    )
    form_kwargs: dict[str, Any] = {
        "is_direct": is_direct,
        "balance_text": yuan(wallet.balance_fen),
        "cards": wallet.cards,
        "needs_pin": wallet.has_pin,
        "recipients": recipients,
    }
    send_url = reverse("redpacket:send", args=[room.pk])
    if request.method == "POST" and request.POST.get("add_card"):
        # 添加银行卡 from the pay sheet or the no-JS form: keep the packet as typed, bind
        # the card, come back here (SPEC §4 Paying).
        drafts.draft_keep(session=request.session, room_id=room.pk, data=request.POST)
        return redirect(f"{reverse('wallet:card_add')}?{urlencode({'next': send_url})}")
    draft = (
        drafts.draft_take(session=request.session, room_id=room.pk)
        if request.method == "GET"
        else None
    )
    if draft is not None:
        form = PacketSendForm(initial=_draft_initial(draft, is_direct, wallet), **form_kwargs)
    else:
        form = PacketSendForm(request.POST or None, **form_kwargs)
    if request.method == "POST" and request.POST.get("switch") and not is_direct:
        form = PacketSendForm(initial=_switched_initial(request, form), **form_kwargs)
    elif request.method == "POST" and form.is_valid():
        # The same idempotency rules as `POST /api/packets`, scoped to this page.
        assert request.resolver_match is not None  # a view's request was resolved
        try:
            run_idempotent(
                user=request.user,
                scope=f"page:{request.resolver_match.view_name}",
                key=form.cleaned_data["idempotency_key"],
                data={**form.packet_arguments(), "room_id": room.pk},
                action=lambda request_key: {
                    "packet_id": services.packet_send(
                        sender=request.user,
                        room_id=room.pk,
                        request_key=request_key,
                        **form.packet_arguments(),
                    ).pk
                },
            )
        except DomainError as error:
            add_domain_error(form, error)
        else:
            return redirect("chat:room", room_id=room.pk)

    rule_limits = limits()
    return render(
        request,
        "redpacket/send.html",
        {
            "room": room,
            "title": chat_selectors.room_title(room, request.user),
            "is_direct": is_direct,
            "member_count": member_count,
            "form": form,
            "kind": form.kind_value,
            "wallet": wallet,
            "limits": rule_limits,
            "send_config": {
                "room_id": room.pk,
                "direct": is_direct,
                "member_count": member_count,
                "limits": {
                    "max_count": rule_limits.max_count,
                    "min_share_fen": rule_limits.min_share_fen,
                    "max_share_fen": rule_limits.max_share_fen,
                    "greeting_max": rule_limits.greeting_max,
                },
                "texts": rules.send_error_texts(rule_limits),
                "default_greeting": rule_limits.default_greeting,
                "balance_fen": wallet.balance_fen,
                "has_pin": wallet.has_pin,
                "pin_locked": wallet.pin_locked_until is not None,
                "pin_locked_text": str(PinLocked.message),
                "amount_invalid": str(YuanField.default_error_messages["invalid"]),
                "cards": [{"id": card.pk, "label": str(card)} for card in wallet.cards],
                "send_url": send_url,
                "api": reverse("api-packets"),
                "room_url": reverse("chat:room", args=[room.pk]),
                "card_add_url": reverse("wallet:card_add"),
                # Back from 添加银行卡 with the draft: the sheet opens again at once.
                "resume": draft is not None,
                "texts_pay": {
                    "short": str(InsufficientBalance.message),
                    "short_add_card": _("零钱余额不足，请添加银行卡"),
                },
            },
        },
    )


# --- open ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def open_page(request: SignedInRequest, packet_id: int) -> HttpResponse:
    """The open (拆) page as a page of its own (no JavaScript; links from elsewhere).
    POST is the 开 button: a share → the result page; finished or expired meanwhile →
    the card switches to that variant."""
    if request.method == "POST":
        try:
            services.packet_open(user=request.user, packet_id=packet_id)
        except (errors.PacketFinished, errors.PacketExpired):
            pass  # the card below now shows the finished / expired cell
        else:
            context = open_card_context(request, packet_id)
            return redirect(context["result_url"])
    context = open_card_context(request, packet_id)
    if context["goes_to_result"]:
        return redirect(context["result_url"])
    return render(request, "redpacket/open.html", context)


@login_required
@require_GET
def open_card(request: SignedInRequest, packet_id: int) -> HttpResponse:
    """The open card alone: the chat's overlay fetches it, so the overlay and the page
    are one template."""
    return render(request, "redpacket/_open_card.html", open_card_context(request, packet_id))


# --- result and forward -------------------------------------------------------------------


@login_required
@require_GET
def result(request: SignedInRequest, packet_id: int) -> HttpResponse:
    """The result page: `packet_result` (the API's `/result`) rendered."""
    outcome = selectors.packet_result(user=request.user, packet_id=packet_id)
    packet = outcome["packet"]
    room_id = _back_room_id(request, packet)
    back = request.GET.get("back", "")
    if back and not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = ""
    return render(
        request,
        "redpacket/result.html",
        {
            "result": outcome,
            "packet": packet,
            "sender": packet["sender"],
            "sender_initial": _sender_name(packet["sender"])[:1].upper(),
            "is_sender": packet["sender"]["id"] == request.user.pk,
            "back_url": back
            or (reverse("chat:room", args=[room_id]) if room_id else reverse("chat:rooms")),
            "room_id": room_id,
            "live_room_id": selectors.packet_live_room(user=request.user, packet_id=packet_id),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def forward(request: SignedInRequest, packet_id: int) -> HttpResponse:
    """继续发送此红包: pick a room, then `packet_forward` posts the packet there."""
    error = None
    if request.method == "POST":
        try:
            message = services.packet_forward(
                user=request.user, packet_id=packet_id, room_id=request.POST.get("room_id")
            )
        except DomainError as refusal:
            error = str(refusal.message)
        else:
            return redirect("chat:room", room_id=message.room_id)
    # Only its sender may forward it, and only while it is unfinished: the result page's
    # rule 2 says when the button shows; the service refuses the rest.
    outcome = selectors.packet_result(user=request.user, packet_id=packet_id)
    return render(
        request,
        "redpacket/pick_room.html",
        {
            "rows": _room_choices(request.user),
            "mode": "forward",
            "packet": outcome["packet"],
            "can_forward": "continue_sending" in outcome["buttons"],
            "error": error,
        },
        status=400 if error else 200,
    )


# --- 我的红包 -------------------------------------------------------------------------------


@login_required
@require_GET
def mine(request: SignedInRequest) -> HttpResponse:
    """我的红包: received or sent, by year, with the year's totals."""
    tab = "sent" if request.GET.get("tab") == "sent" else "received"
    this_year = timezone.localdate().year
    first_year = min(timezone.localtime(request.user.date_joined).year, this_year)
    years = list(range(this_year, first_year - 1, -1))
    year = parse_int(request.GET.get("year"), max_digits=4) or this_year
    if year not in years:
        year = this_year
    if tab == "received":
        records = selectors.packets_received(user=request.user, year=year)
        page = Paginator(records["entries"], RECORDS_PER_PAGE).get_page(request.GET.get("page"))
        rows = selectors.received_rows(page)
    else:
        records = selectors.packets_sent(user=request.user, year=year)
        page = Paginator(records["packets"], RECORDS_PER_PAGE).get_page(request.GET.get("page"))
        rows = [selectors.sent_row(packet) for packet in page]
    for row in rows:
        row["kind_label"] = Packet.Kind(row["kind"]).label if row["kind"] in Packet.Kind else ""
    return render(
        request,
        "redpacket/mine.html",
        {
            "tab": "wallet",
            "records_tab": tab,
            "year": year,
            "years": years,
            "records": records,
            "rows": rows,
            "page": page,
        },
    )
