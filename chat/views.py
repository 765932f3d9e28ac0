"""Chat pages: the room list (with pending group invitations), a room, its members,
starting a group or a direct chat.

Thin: each page asks the selectors for what it shows and the services for what it
changes; domain errors become form errors, and a room you are not in is a 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, overload

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import selectors, services
from chat.api.serializers import messages_for_viewer
from chat.forms import AddMembersForm, DirectForm, GroupCreateForm
from chat.models import Room
from redpacket.accounts.requests import SignedInRequest
from redpacket.accounts.selectors import user_data
from redpacket.kernel.errors import DomainError, NotFound
from redpacket.kernel.forms import add_domain_error

if TYPE_CHECKING:
    from chat.selectors import ListedRoom

ROOM_LIST_LIMIT = 200


@overload
def _member_room(
    request: SignedInRequest, room_id: int, *, summary: Literal[True]
) -> ListedRoom: ...
@overload
def _member_room(
    request: SignedInRequest, room_id: int, *, summary: Literal[False] = ...
) -> Room: ...
def _member_room(request: SignedInRequest, room_id: int, *, summary: bool = False) -> Room:
    try:
        if summary:
            return selectors.room_summary(user=request.user, room_id=room_id)
        return selectors.room_for_member(user=request.user, room_id=room_id)
    except NotFound as error:
        raise Http404(str(error.message)) from error


def _room_rows(user: Any) -> list[dict[str, Any]]:
    rows = []
    for room in selectors.rooms_for_user(user=user)[:ROOM_LIST_LIMIT]:
        last = selectors.room_last_message(room)
        rows.append(
            {
                "room": room,
                "title": selectors.room_title(room, user),
                "avatar_users": [
                    m for m in selectors.room_members(room) if not room.is_direct or m.pk != user.pk
                ][:4],
                "preview": selectors.room_preview(room, user),
                "time": last.created_at if last else room.created_at,
                "unread": room.unread,
            }
        )
    return rows


@login_required
@require_GET
def rooms(request: SignedInRequest) -> HttpResponse:
    return render(
        request,
        "chat/rooms.html",
        {
            "rows": _room_rows(request.user),
            "invitations": selectors.pending_invitations(user=request.user)[:ROOM_LIST_LIMIT],
            "tab": "chats",
        },
    )


@login_required
@require_POST
def invitation_answer(request: SignedInRequest, invitation_id: int, answer: str) -> HttpResponse:
    """Accept (into the room) or decline (back to the list) an invitation from the list."""
    try:
        if answer == "accept":
            room = services.invitation_accept(invitation_id=invitation_id, user=request.user)
            return redirect("chat:room", room_id=room.pk)
        services.invitation_decline(invitation_id=invitation_id, user=request.user)
    except NotFound as error:
        raise Http404(str(error.message)) from error
    except DomainError as error:
        messages.error(request, str(error.message))
    return redirect("chat:rooms")


@login_required
@require_GET
def rooms_partial(request: SignedInRequest) -> HttpResponse:
    """The room list's rows alone: the list page polls this to stay current."""
    return render(request, "chat/_room_rows.html", {"rows": _room_rows(request.user)})


@login_required
@require_GET
def room(request: SignedInRequest, room_id: int) -> HttpResponse:
    room = _member_room(request, room_id, summary=True)
    messages, has_more = selectors.message_history_page(room=room, user=request.user)
    initial = {
        "room": {
            "id": room.pk,
            "kind": room.kind,
            "name": selectors.room_title(room, request.user),
            "member_count": room.member_count,
        },
        "me": user_data(request.user),
        "messages": messages_for_viewer(messages, request.user),
        "has_more": has_more,
        "urls": {
            "messages": reverse("api-room-messages", args=[room.pk]),
            "read": reverse("api-room-read", args=[room.pk]),
            "socket": f"/ws/rooms/{room.pk}/",
        },
    }
    return render(
        request,
        "chat/room.html",
        {
            "room": room,
            "title": selectors.room_title(room, request.user),
            "initial": initial,
        },
    )


def _picked_user_ids(form: Any) -> list[int] | None:
    """Ids of the ticked contacts plus the typed usernames; None (with a form error) when a
    username is unknown."""
    users, missing = selectors.users_by_username(form.cleaned_data["usernames"])
    if missing:
        form.add_error("usernames", _("用户不存在：%(names)s") % {"names": "、".join(missing)})
        return None
    return [*form.cleaned_data["members"], *(user.pk for user in users)]


def _say_invited(request: SignedInRequest, invited: list[Any]) -> None:
    if invited:
        names = "、".join(user.name for user in invited)
        messages.info(
            request, _("已向%(names)s发送入群邀请，对方接受后加入群聊") % {"names": names}
        )


@login_required
@require_http_methods(["GET", "POST"])
def room_members(request: SignedInRequest, room_id: int) -> HttpResponse:
    room = _member_room(request, room_id, summary=True)
    members = selectors.room_members(room)
    member_ids = {m.pk for m in members}
    contacts = [u for u in selectors.contacts_for_user(user=request.user) if u.pk not in member_ids]
    form = AddMembersForm(request.POST or None, contacts=contacts)
    if request.method == "POST" and not room.is_direct and form.is_valid():
        user_ids = _picked_user_ids(form)
        if user_ids is not None:
            try:
                _room, invited = services.group_add(
                    room=room, actor=request.user, user_ids=user_ids
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                _say_invited(request, invited)
                return redirect("chat:room", room_id=room.pk)
    return render(
        request,
        "chat/members.html",
        {
            "room": room,
            "title": selectors.room_title(room, request.user),
            "members": members,
            "form": form,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def group_new(request: SignedInRequest) -> HttpResponse:
    contacts = list(selectors.contacts_for_user(user=request.user))
    form = GroupCreateForm(request.POST or None, contacts=contacts)
    if request.method == "POST" and form.is_valid():
        user_ids = _picked_user_ids(form)
        if user_ids is not None:
            try:
                room, invited = services.group_create(
                    creator=request.user, name=form.cleaned_data["name"], member_ids=user_ids
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                _say_invited(request, invited)
                return redirect("chat:room", room_id=room.pk)
    return render(request, "chat/group_new.html", {"form": form, "has_contacts": bool(contacts)})


@login_required
@require_http_methods(["GET", "POST"])
def direct_new(request: SignedInRequest) -> HttpResponse:
    """Start (or reopen) a direct chat: by username from the form, or a member's `user_id`."""
    form = DirectForm(request.POST or None)
    if request.method == "POST":
        other_id: int | str | None = request.POST.get("user_id")
        if other_id is None and form.is_valid():
            users, _missing = selectors.users_by_username([form.cleaned_data["username"]])
            if users:
                other_id = users[0].pk
            else:
                form.add_error("username", _("用户不存在"))
        if other_id is not None:
            try:
                room, _created = services.room_get_or_create_direct(
                    user=request.user, other_user_id=other_id
                )
            except DomainError as error:
                form.add_error(
                    "username" if "user_id" in (error.fields or {}) else None, str(error.message)
                )
            else:
                return redirect("chat:room", room_id=room.pk)
    return render(request, "chat/direct_new.html", {"form": form})
