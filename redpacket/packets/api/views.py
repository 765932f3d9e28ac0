"""Red packet API (API.md "Red packets"): thin views over services and selectors."""

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.serializers import MessageSerializer, messages_for_viewer
from redpacket.kernel.api import ErrorSerializer, MoneyThrottle, NextPagination, OneTripThrottle
from redpacket.packets import selectors, services
from redpacket.packets.api.serializers import (
    ForwardInput,
    OpenOutput,
    PacketSendInput,
    PacketSerializer,
    PacketViewSerializer,
    ReceivedRow,
    ReceivedSerializer,
    ResultSerializer,
    SentRow,
    SentSerializer,
    YearQuery,
)
from wallet.api.views import IDEMPOTENCY_HEADER
from wallet.idempotency import IdempotentMixin


class OpenThrottle(OneTripThrottle):
    scope = "open"


class PacketsApi(IdempotentMixin, APIView):
    throttle_classes = [MoneyThrottle]

    @extend_schema(
        request=PacketSendInput,
        responses={201: PacketSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="packet_send",
    )
    def post(self, request):
        data = PacketSendInput(data=request.data)
        data.is_valid(raise_exception=True)
        packet = services.packet_send(
            sender=request.user, request_key=self.request_key, **data.validated_data
        )
        view = selectors.packet_view(user=request.user, packet_id=packet.pk)
        body = {key: value for key, value in view.items() if key not in ("view", "my_amount_fen")}
        return Response(body, status=status.HTTP_201_CREATED)


class PacketDetailApi(APIView):
    @extend_schema(responses=PacketViewSerializer, operation_id="packet_view")
    def get(self, request, packet_id):
        return Response(selectors.packet_view(user=request.user, packet_id=packet_id))


class PacketOpenApi(APIView):
    throttle_classes = [OpenThrottle]

    @extend_schema(request=None, responses=OpenOutput, operation_id="packet_open")
    def post(self, request, packet_id):
        result = services.packet_open(user=request.user, packet_id=packet_id)
        return Response({"amount_fen": result.amount_fen, "repeat": result.repeat})


class PacketResultApi(APIView):
    @extend_schema(responses=ResultSerializer, operation_id="packet_result")
    def get(self, request, packet_id):
        return Response(
            ResultSerializer(selectors.packet_result(user=request.user, packet_id=packet_id)).data
        )


class PacketForwardApi(APIView):
    throttle_classes = [MoneyThrottle]

    @extend_schema(
        request=ForwardInput,
        responses={
            201: MessageSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`finished`; `direct_packet`: a direct room's packet into another room",
            ),
        },
        operation_id="packet_forward",
    )
    def post(self, request, packet_id):
        data = ForwardInput(data=request.data)
        data.is_valid(raise_exception=True)
        message = services.packet_forward(
            user=request.user, packet_id=packet_id, **data.validated_data
        )
        return Response(
            messages_for_viewer([message], request.user)[0], status=status.HTTP_201_CREATED
        )


def _year(request) -> int:
    query = YearQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data.get("year") or timezone.localdate().year


def _records(view, request, records, rows, *, page_rows, row_serializer, totals):
    """我的红包 records: the year's totals and one page of rows, `{"results", "next"}`."""
    paginator = NextPagination()
    page: list[Any] | None = paginator.paginate_queryset(rows, request, view=view)
    assert page is not None  # NextPagination always has a page size (PAGE_SIZE)
    return Response(
        {
            **{key: records[key] for key in totals},
            "results": row_serializer(page_rows(page), many=True).data,
            "next": paginator.get_next_link(),
        }
    )


class ReceivedApi(APIView):
    @extend_schema(
        parameters=[YearQuery], responses=ReceivedSerializer, operation_id="packets_received"
    )
    def get(self, request):
        records = selectors.packets_received(user=request.user, year=_year(request))
        return _records(
            self,
            request,
            records,
            records["entries"],
            page_rows=selectors.received_rows,
            row_serializer=ReceivedRow,
            totals=("total_fen", "count", "best_luck_count"),
        )


class SentApi(APIView):
    @extend_schema(parameters=[YearQuery], responses=SentSerializer, operation_id="packets_sent")
    def get(self, request):
        records = selectors.packets_sent(user=request.user, year=_year(request))
        return _records(
            self,
            request,
            records,
            records["packets"],
            page_rows=lambda page: [selectors.sent_row(packet) for packet in page],
            row_serializer=SentRow,
            totals=("total_fen", "count"),
        )
