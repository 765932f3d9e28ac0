from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from redpacket.accounts import services
from redpacket.accounts.api.serializers import (
    RegisterInput,
    RegisterOutput,
    TokenInput,
    TokenOutput,
    UserSerializer,
)
from redpacket.core.api import AuthThrottle
from redpacket.core.errors import InvalidInput


class RegisterApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    @extend_schema(request=RegisterInput, responses={201: RegisterOutput}, operation_id="register")
    def post(self, request):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        user.token = services.token_issue(user=user).key
        return Response(RegisterOutput(user).data, status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthThrottle]

    @extend_schema(request=TokenInput, responses={200: TokenOutput}, operation_id="token")
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None:
            raise InvalidInput("用户名或密码错误", code="bad_credentials")
        return Response({"token": services.token_issue(user=user).key})


class MeApi(APIView):
    @extend_schema(responses=UserSerializer, operation_id="me")
    def get(self, request):
        return Response(UserSerializer(request.user).data)
