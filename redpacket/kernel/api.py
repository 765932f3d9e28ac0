"""API plumbing shared by every app: the error shape, pagination, throttles."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.cache import cache as default_cache
from django.core.cache import caches
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from django_redis.cache import RedisCache
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ClusterDownError, SlotNotCoveredError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.serializers import CharField, DictField, Serializer
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from redpacket.kernel.errors import DomainError

logger = logging.getLogger(__name__)

# Redis errors a retry may get past: a lost connection or a timeout, and on a Redis
# Cluster a failover in progress (CLUSTERDOWN, TRYAGAIN, a slot no node serves yet).
_REDIS_UNAVAILABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterDownError,
    TryAgainError,
    SlotNotCoveredError,
)

_DRF_CODES: dict[type[exceptions.APIException], tuple[str, Any]] = {
    exceptions.NotAuthenticated: ("not_authenticated", _("请先登录")),
    exceptions.AuthenticationFailed: ("authentication_failed", _("身份验证失败")),
    exceptions.PermissionDenied: ("not_allowed", _("无权进行此操作")),
    exceptions.NotFound: ("not_found", _("不存在或无权查看")),
    exceptions.MethodNotAllowed: ("method_not_allowed", _("不支持的请求方法")),
    exceptions.NotAcceptable: ("not_acceptable", _("无法提供所请求的格式")),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", _("请求内容类型不受支持")),
    exceptions.ParseError: ("parse_error", _("请求内容无法解析")),
    exceptions.Throttled: ("rate_limited", _("操作太频繁，请稍后再试")),
}


def error_response(
    code: str, message: str, http_status: int, fields: dict[str, Any] | None = None
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return Response(body, status=http_status)


def _flatten(detail: Any) -> Any:
    """DRF's ErrorDetail lists → plain strings (first message per field)."""
    if isinstance(detail, list):
        if detail and all(not isinstance(d, (dict, list)) for d in detail):
            return str(detail[0])
        return [_flatten(d) for d in detail]
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Map every error to `{"code", "message", "fields"?}` (API.md conventions)."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        if isinstance(fields, dict):
            non_field = fields.pop("non_field_errors", None)
            first = non_field or next(iter(fields.values()), str(_("请求无效")))
            message = first if isinstance(first, str) else str(_("请求无效"))
            return error_response("invalid", message, 400, fields or None)
        return error_response("invalid", str(fields), 400)
    if isinstance(exc, exceptions.APIException):
        code, message = _DRF_CODES.get(type(exc), (str(exc.default_code), str(exc.detail)))
        response = error_response(code, str(message), exc.status_code)
        # Set by DRF on the exceptions that have them (not declared on APIException).
        if auth_header := getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = auth_header
        if wait := getattr(exc, "wait", None):
            response["Retry-After"] = str(int(wait))
        return response
    if isinstance(exc, (DatabaseError, ConnectionInterrupted, *_REDIS_UNAVAILABLE)):
        # A lost connection, a failed-over primary, or no free pooled connection within
        # the pool's timeout: the client may retry; nothing half-done survives because
        # every write is one transaction.
        logger.exception("database or Redis error in %s", context.get("view"))
        return error_response(
            "unavailable", "服务繁忙，请稍后再试", status.HTTP_503_SERVICE_UNAVAILABLE
        )
    return None


class NextPagination(PageNumberPagination):
    """`{"results": [...], "next": url|null}` as API.md's lists are."""

    page_size_query_param = "page_size"
    max_page_size = 100

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
            },
        }


class OneTripThrottle(UserRateThrottle):
    """DRF's per-user sliding log, in one Redis round trip instead of a GET and a SET of
    a pickled list of times (which also lost concurrent requests' entries): a sorted set
    of request times, trimmed, added to and counted in one pipeline. A refused request
    takes its entry back (a second trip, only when refusing) so that refusals do not
    extend the wait. Same limit as DRF's: at most `num_requests` in any `duration`.
    Without Redis (the embedded default's local cache) DRF's own implementation."""

    duration: int  # set from the rate by DRF's __init__
    num_requests: int

    def allow_request(self, request, view):
        backend = caches["default"] if self.cache is default_cache else self.cache
        if not isinstance(backend, RedisCache):
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        client = backend.client.get_client(write=True)
        log_key = str(backend.make_key("zlog:" + self.key))
        entry = f"{self.now!r}:{uuid.uuid4().hex[:8]}"
        pipe = client.pipeline(transaction=False)
        pipe.zremrangebyscore(log_key, "-inf", self.now - self.duration)
        pipe.zadd(log_key, {entry: self.now})
        pipe.zcard(log_key)
        pipe.expire(log_key, int(self.duration) + 1)
        _, _, count, _ = pipe.execute()
        if count <= self.num_requests:
            return True
        client.zrem(log_key, entry)
        self.history = [score for _, score in client.zrevrange(log_key, 0, -1, withscores=True)]
        return self.throttle_failure()


class MoneyThrottle(OneTripThrottle):
    """Per-user limit on every request that moves money."""

    scope = "money"


class AuthThrottle(SimpleRateThrottle):
    """Per-client-address limit on register / token (credential stuffing)."""

    scope = "auth"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ErrorSerializer(Serializer):
    """API.md's error shape, for the OpenAPI schema of every endpoint's error responses."""

    code = CharField()
    message = CharField()
    # The serializer's metaclass takes declared fields off the class: `Serializer.fields`
    # is untouched, but the checker sees the name twice.
    fields = DictField(  # type: ignore[assignment]
        required=False, help_text="Per-field messages for invalid input."
    )
