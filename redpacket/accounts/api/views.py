from django.conf import settings
from django.contrib.auth import authenticate, logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from redpacket.accounts import services
from redpacket.accounts.api.serializers import (
    RegisterInput,
    RegisterOutput,
    TokenInput,
    TokenOutput,
    UserSerializer,
    WsTicketOutput,
)
from redpacket.accounts.errors import LoginLocked
from redpacket.kernel.api import AuthThrottle, ErrorSerializer
from redpacket.kernel.errors import InvalidInput


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    @extend_schema(request=RegisterInput, responses={201: RegisterOutput}, operation_id="register")
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        user.token = services.token_issue(user=user).key  # type: ignore[attr-defined]
        return Response(RegisterOutput(user).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    @extend_schema(
        request=TokenInput,
        responses={
            200: TokenOutput,
            400: OpenApiResponse(ErrorSerializer, description="`bad_credentials`, `invalid`"),
            429: OpenApiResponse(
                ErrorSerializer,
                description="`login_locked`: too many wrong passwords for this account; "
                "`rate_limited`: too many requests from this address.",
            ),
        },
        operation_id="token",
    )
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        # django-axes (first backend) refuses a locked account before any password check
        # and marks the request; the lockout is per account, whatever the address.
        user = authenticate(request, **data.validated_data)
        if getattr(request, "axes_locked_out", False):
            raise LoginLocked()
        if user is None:
            raise InvalidInput("用户名或密码错误", code="bad_credentials")
        token = services.token_issue(user=user)
        return Response(TokenOutput({"token": token.key, "expires_at": token.expires_at}).data)


class LogoutApi(APIView):
    """Sign out: the token this request carries stops working at once (and a browser's
    session ends)."""

    @extend_schema(request=None, responses={204: None}, operation_id="logout")
    def post(self, request):
        if isinstance(request.auth, str):
            services.token_revoke(key=request.auth)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WsTicketThrottle(UserRateThrottle):
    """Per user: a client reconnecting in a loop cannot fill the cache with tickets."""

    scope = "auth"


class WsTicketApi(APIView):
    """A one-use ticket for `?ticket=` on the websocket URL (API clients without a session
    cookie); the long-lived token never goes into a URL."""

    throttle_classes = [WsTicketThrottle]

    @extend_schema(request=None, responses={201: WsTicketOutput}, operation_id="ws_ticket")
    def post(self, request):
        ticket = services.ws_ticket_issue(user=request.user)
        body = {"ticket": ticket, "expires_in": settings.WS_TICKET_TTL_SECONDS}
        return Response(WsTicketOutput(body).data, status=status.HTTP_201_CREATED)


class MeApi(APIView):
    @extend_schema(responses=UserSerializer, operation_id="me")
    def get(self, request):
        return Response(UserSerializer(request.user).data)
