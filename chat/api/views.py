"""Rooms and messages over REST (API.md "Rooms and messages"). Each view: input
serializer → one selector or service → output serializer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView

from chat import selectors, services
from chat.api import serializers as s
from chat.throttles import ChatMessageThrottle
from redpacket.accounts.requests import SignedInApiRequest
from redpacket.kernel.api import ErrorSerializer, NextPagination

_ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="invalid input; `fields` names it"),
    401: OpenApiResponse(ErrorSerializer, description="not logged in"),
    404: OpenApiResponse(ErrorSerializer, description="no such room, or not a member"),
}


def _room_out(
    request: SignedInApiRequest,
    room_id: int,
    http_status: int = 200,
    *,
    invited: list[Any] | None = None,
) -> Response:
    """The room as the caller sees it; with `invited` (a create or an add), the room plus
    who got an invitation instead of joining."""
    room = selectors.room_summary(user=request.user, room_id=room_id)
    context = {"viewer": request.user, "invited": invited or []}
    serializer = s.RoomSerializer if invited is None else s.RoomChangeSerializer
    return Response(serializer(room, context=context).data, status=http_status)


class RoomListApi(APIView):
    @extend_schema(
        operation_id="rooms_list",
        responses={200: s.RoomPageSerializer, 401: _ERRORS[401]},
        summary="The caller's rooms, most recently active first",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def get(self, request: SignedInApiRequest) -> Response:
        paginator = NextPagination()
        page = paginator.paginate_queryset(
            selectors.rooms_for_user(user=request.user), request, view=self
        )
        data = s.RoomSerializer(page, many=True, context={"viewer": request.user}).data
        return paginator.get_paginated_response(data)

    @extend_schema(
        operation_id="rooms_create",
        request=s.RoomCreateInput,
        responses={
            201: OpenApiResponse(
                s.RoomChangeSerializer, description="the new room; `invited` on a group"
            ),
            200: OpenApiResponse(s.RoomSerializer, description="the existing direct room"),
            **_ERRORS,
        },
        summary="Create a group room, or get-or-create the direct room with one user",
    )
    def post(self, request: SignedInApiRequest) -> Response:
        data = s.RoomCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["kind"] == "direct":
            room, created = services.room_get_or_create_direct(
                user=request.user, other_user_id=values["user_id"]
            )
            return _room_out(
                request, room.pk, status.HTTP_201_CREATED if created else status.HTTP_200_OK
            )
        room, invited = services.group_create(
            creator=request.user, name=values["name"], member_ids=values.get("member_ids", [])
        )
        return _room_out(request, room.pk, status.HTTP_201_CREATED, invited=invited)


class RoomDetailApi(APIView):
    @extend_schema(
        operation_id="rooms_retrieve",
        responses={200: s.RoomSerializer, 401: _ERRORS[401], 404: _ERRORS[404]},
    )
    def get(self, request: SignedInApiRequest, room_id: int) -> Response:
        return _room_out(request, room_id)


class RoomMembersApi(APIView):
    @extend_schema(
        operation_id="rooms_members_add",
        request=s.RoomMembersInput,
        responses={200: s.RoomChangeSerializer, **_ERRORS},
        summary=(
            "Add people to a group room: acquaintances join, others are invited"
            " (400 `direct_room` for a direct room)"
        ),
    )
    def post(self, request: SignedInApiRequest, room_id: int) -> Response:
        room = selectors.room_for_member(user=request.user, room_id=room_id)
        data = s.RoomMembersInput(data=request.data)
        data.is_valid(raise_exception=True)
        room, invited = services.group_add(
            room=room, actor=request.user, user_ids=data.validated_data["user_ids"]
        )
        return _room_out(request, room.pk, invited=invited)


class RoomMessagesApi(APIView):
    def get_throttles(self) -> list[Any]:
        return [ChatMessageThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="rooms_messages_list",
        parameters=[s.MessageHistoryQuery],
        responses={200: s.MessagePageSerializer, **_ERRORS},
        summary="A page of history, newest first; `next` pages further back",
    )
    def get(self, request: SignedInApiRequest, room_id: int) -> Response:
        room = selectors.room_for_member(user=request.user, room_id=room_id)
        query = s.MessageHistoryQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        bounds = query.validated_data
        messages, more = selectors.message_history_page(
            room=room,
            user=request.user,
            before=bounds.get("before"),
            after=bounds.get("after"),
            limit=bounds["limit"],
        )
        next_url = None
        if more:
            url = request.build_absolute_uri()
            next_url = replace_query_param(url, "before", messages[-1].pk)
            next_url = remove_query_param(next_url, "page") if "page" in url else next_url
        results = s.messages_for_viewer(messages, request.user)
        return Response({"results": results, "next": next_url})

    @extend_schema(
        operation_id="rooms_messages_create",
        request=s.MessageInput,
        responses={
            201: s.MessageSerializer,
            429: OpenApiResponse(ErrorSerializer, description="rate limited"),
            **_ERRORS,
        },
        summary="Post a text message",
    )
    def post(self, request: SignedInApiRequest, room_id: int) -> Response:
        room = selectors.room_for_member(user=request.user, room_id=room_id)
        data = s.MessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.message_post_text(
            room=room, sender=request.user, text=data.validated_data["text"]
        )
        body = s.messages_for_viewer([message], request.user)[0]
        return Response(body, status=status.HTTP_201_CREATED)


class RoomReadApi(APIView):
    @extend_schema(
        operation_id="rooms_read",
        request=s.ReadInput,
        responses={204: None, **_ERRORS},
        summary="Mark messages up to `message_id` as read (the unread count)",
    )
    def post(self, request: SignedInApiRequest, room_id: int) -> Response:
        room = selectors.room_for_member(user=request.user, room_id=room_id)
        data = s.ReadInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.room_mark_read(
            room=room, user=request.user, message_id=data.validated_data["message_id"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListApi(APIView):
    @extend_schema(
        operation_id="invitations_list",
        responses={200: s.InvitationPageSerializer, 401: _ERRORS[401]},
        summary="The caller's pending group invitations, newest first",
        parameters=[OpenApiParameter("page", int), OpenApiParameter("page_size", int)],
    )
    def get(self, request: SignedInApiRequest) -> Response:
        paginator = NextPagination()
        page = paginator.paginate_queryset(
            selectors.pending_invitations(user=request.user), request, view=self
        )
        return paginator.get_paginated_response(s.InvitationSerializer(page, many=True).data)


_INVITATION_ERRORS = {
    **_ERRORS,
    404: OpenApiResponse(ErrorSerializer, description="no such invitation of the caller's"),
    409: OpenApiResponse(ErrorSerializer, description="`invitation_closed`: already answered"),
}


class InvitationAcceptApi(APIView):
    @extend_schema(
        operation_id="invitations_accept",
        request=None,
        responses={200: s.RoomSerializer, **_INVITATION_ERRORS},
        summary="Join the group of a pending invitation",
    )
    def post(self, request: SignedInApiRequest, invitation_id: int) -> Response:
        room = services.invitation_accept(invitation_id=invitation_id, user=request.user)
        return _room_out(request, room.pk)


class InvitationDeclineApi(APIView):
    @extend_schema(
        operation_id="invitations_decline",
        request=None,
        responses={204: None, **_INVITATION_ERRORS},
        summary="Decline a pending invitation",
    )
    def post(self, request: SignedInApiRequest, invitation_id: int) -> Response:
        services.invitation_decline(invitation_id=invitation_id, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
