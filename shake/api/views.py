"""Shake API (API.md "Shake"): thin views over services and selectors."""

import time

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from redpacket.kernel.api import ErrorSerializer, MoneyThrottle, NextPagination
from shake import selectors, services
from shake.api.serializers import (
    CampaignCreateInput,
    CampaignPageSerializer,
    CampaignSerializer,
    RemainingOutput,
    ShakeOutput,
    WinOutput,
)
from shake.draw import TierRange
from shake.models import Campaign
from wallet.api.views import IDEMPOTENCY_HEADER
from wallet.idempotency import IdempotentMixin


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


def campaign_data(campaign: Campaign) -> dict:
    data = CampaignSerializer(campaign).data
    data["status"] = selectors.campaign_status(campaign)
    return data


class OperatorsCreate(BasePermission):
    """Anyone signed in lists campaigns; creating one (it moves money) needs Django's
    campaign permission, not mere staff status."""

    def has_permission(self, request, view):
        return request.method != "POST" or bool(
            request.user and request.user.has_perm("shake.add_campaign")
        )


class CampaignsApi(IdempotentMixin, APIView):
    permission_classes = [*APIView.permission_classes, OperatorsCreate]

    def get_throttles(self):
        return [MoneyThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        responses={200: CampaignPageSerializer, 401: _error("not logged in")},
        operation_id="campaigns_running",
    )
    def get(self, request):
        paginator = NextPagination()
        page = paginator.paginate_queryset(selectors.campaigns_running(), request, view=self)
        assert page is not None  # NextPagination always has a page size (PAGE_SIZE)
        return paginator.get_paginated_response([campaign_data(c) for c in page])

    @extend_schema(
        request=CampaignCreateInput,
        responses={
            201: CampaignSerializer,
            400: _error("invalid input (`fields` names it) or a missing Idempotency-Key"),
            403: _error("no campaign permission"),
            409: _error("the same Idempotency-Key with another body"),
            422: _error("the sponsor's change cannot pay the budget (insufficient_balance)"),
        },
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="campaign_create",
    )
    def post(self, request):
        data = CampaignCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        tiers = values.pop("tiers")
        if tiers is not None:
            tiers = [TierRange(**tier) for tier in tiers]
        campaign = services.campaign_create(
            created_by=request.user, request_key=self.request_key, tiers=tiers, **values
        )
        return Response(campaign_data(campaign), status=status.HTTP_201_CREATED)


class CampaignShakeApi(APIView):
    # No request throttle: shaking faster than SHAKE_USER_INTERVAL_MS answers "busy".
    @extend_schema(
        request=None,
        responses={
            200: ShakeOutput,
            404: _error("no such campaign"),
            410: _error("the campaign is over or not running yet (campaign_over)"),
        },
        operation_id="campaign_shake",
    )
    def post(self, request, campaign_id):
        started = time.perf_counter()
        result = services.campaign_shake(user=request.user, campaign_id=campaign_id)
        # How long the shake itself took, for load tests and browsers' devtools.
        elapsed_ms = (time.perf_counter() - started) * 1000
        return Response(result.as_dict(), headers={"Server-Timing": f"shake;dur={elapsed_ms:.1f}"})


class CampaignRemainingApi(APIView):
    @extend_schema(
        responses={200: RemainingOutput, 404: _error("no such campaign")},
        operation_id="campaign_remaining",
    )
    def get(self, request, campaign_id):
        remaining = selectors.campaign_remaining(campaign_id=campaign_id)
        return Response(RemainingOutput(remaining).data)


class WinApi(APIView):
    @extend_schema(
        responses={200: WinOutput, 404: _error("no such win of yours")},
        operation_id="shake_win",
    )
    def get(self, request, win_id):
        return Response(WinOutput(selectors.win_result(user=request.user, win_id=win_id)).data)
