"""Wallet API (API.md "Wallet"): thin views — input serializer → service → output."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from redpacket.accounts.models import User
from redpacket.accounts.requests import SignedInApiRequest
from redpacket.kernel.api import MoneyThrottle
from wallet import payments, selectors, services
from wallet.api.serializers import (
    BalanceSerializer,
    CardBindInput,
    CardBindOutput,
    CardSerializer,
    CardVerifyInput,
    EntrySerializer,
    NoticesOutput,
    NoticesQuery,
    NoticesSeenInput,
    TopupInput,
    TransferInput,
    WalletSerializer,
    WithdrawInput,
)
from wallet.idempotency import IdempotentMixin

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="1–64 characters; the same key and body never move money twice.",
)


class WalletApi(APIView):
    @extend_schema(responses=WalletSerializer, operation_id="wallet")
    def get(self, request):
        return Response(WalletSerializer(selectors.wallet_summary(user=request.user)).data)


class CardsApi(APIView):
    throttle_classes = [MoneyThrottle]

    @extend_schema(request=CardBindInput, responses={201: CardBindOutput}, operation_id="card_bind")
    def post(self, request):
        data = CardBindInput(data=request.data)
        data.is_valid(raise_exception=True)
        binding, code = services.card_bind_start(user=request.user, **data.validated_data)
        body = {"binding_id": str(binding.pk), "status": "sms_sent"}
        if settings.PAYMENTS_SANDBOX:
            body["sandbox_sms_code"] = code
        return Response(body, status=status.HTTP_201_CREATED)


class CardVerifyApi(APIView):
    throttle_classes = [MoneyThrottle]

    @extend_schema(
        request=CardVerifyInput, responses={201: CardSerializer}, operation_id="card_verify"
    )
    def post(self, request, binding_id):
        data = CardVerifyInput(data=request.data)
        data.is_valid(raise_exception=True)
        card = services.card_bind_verify(
            user=request.user, binding_id=binding_id, code=data.validated_data["code"]
        )
        return Response(CardSerializer(card).data, status=status.HTTP_201_CREATED)


class CardDetailApi(APIView):
    @extend_schema(responses={204: None}, operation_id="card_remove")
    def delete(self, request, card_id):
        services.card_remove(user=request.user, card_id=card_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _PaymentApi(IdempotentMixin, APIView):
    throttle_classes = [MoneyThrottle]


class _CardPaymentApi(_PaymentApi):
    """A payment between the caller's change and one of their cards (top-up, withdraw)."""

    payment = staticmethod(payments.payment_topup)

    def post(self, request):
        data = TopupInput(data=request.data)
        data.is_valid(raise_exception=True)
        account = self.payment(
            user=request.user, request_key=self.request_key, **data.validated_data
        )
        return Response({"balance_fen": account.balance_fen})


@extend_schema_view(
    post=extend_schema(
        request=TopupInput,
        responses=BalanceSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="wallet_topup",
    )
)
class TopupApi(_CardPaymentApi):
    payment = staticmethod(payments.payment_topup)


@extend_schema_view(
    post=extend_schema(
        request=WithdrawInput,
        responses=BalanceSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="wallet_withdraw",
    )
)
class WithdrawApi(_CardPaymentApi):
    payment = staticmethod(payments.payment_withdraw)


class TransferApi(_PaymentApi):
    @extend_schema(
        request=TransferInput,
        responses=BalanceSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        operation_id="wallet_transfer",
    )
    def post(self, request):
        data = TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        account = payments.payment_transfer(
            user=request.user,
            recipient=User.objects.filter(pk=values["to_user_id"]).first(),
            amount_fen=values["amount_fen"],
            pin=values.get("pin"),
            note=values.get("note", ""),
            request_key=self.request_key,
        )
        return Response({"balance_fen": account.balance_fen})


class LedgerApi(ListAPIView):
    serializer_class = EntrySerializer
    request: SignedInApiRequest

    def get_queryset(self):
        return selectors.ledger_for(user=self.request.user)

    @extend_schema(operation_id="wallet_ledger")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class NoticesApi(APIView):
    """服务通知 after a given id (oldest first): what a page missed while its socket was
    down, and the badge's count."""

    request: SignedInApiRequest

    @extend_schema(
        parameters=[NoticesQuery], responses=NoticesOutput, operation_id="wallet_notices"
    )
    def get(self, request):
        query = NoticesQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        notices = selectors.notices_after(user=request.user, after=query.validated_data["after"])
        state = selectors.notice_state(user=request.user)
        return Response(
            NoticesOutput(
                {"results": notices, "unseen": state.unseen, "last_id": state.last_id}
            ).data
        )


class NoticesSeenApi(APIView):
    """The user has seen their notices up to `up_to` (the 服务通知 page, live)."""

    request: SignedInApiRequest

    @extend_schema(
        request=NoticesSeenInput, responses={204: None}, operation_id="wallet_notices_seen"
    )
    def post(self, request):
        data = NoticesSeenInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.notices_mark_seen(user=request.user, up_to_entry_id=data.validated_data["up_to"])
        return Response(status=status.HTTP_204_NO_CONTENT)
