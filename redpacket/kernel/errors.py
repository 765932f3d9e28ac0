"""The one application error type. Every app raises subclasses of it with a stable
`code`; `redpacket.kernel.api.exception_handler` maps them to API.md's error shape and the
pages show their message as a form error."""

from __future__ import annotations

from typing import Any

from django.utils.functional import Promise


class DomainError(Exception):
    """A refusal the client can understand: stable `code`, HTTP `status`, human `message`."""

    code: str = "invalid"
    status: int = 400
    message: str | Promise = "请求无效"

    def __init__(
        self,
        message: str | Promise | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = fields
        super().__init__(str(self.message))

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": str(self.message)}
        if self.fields:
            body["fields"] = self.fields
        return body


class NotFound(DomainError):
    code = "not_found"
    status = 404
    message = "不存在或无权查看"


class NotAllowed(DomainError):
    code = "not_allowed"
    status = 403
    message = "无权进行此操作"


class InvalidInput(DomainError):
    """Input that passed the serializer's shape but breaks a product rule."""

    code = "invalid"
    status = 400
