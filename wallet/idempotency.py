"""The Idempotency-Key layer for every request that moves money (API.md conventions), for
the API and the pages alike.

A key is 1–64 printable ASCII characters and belongs to one user and one endpoint (the
`scope`): the same string sent to another endpoint is another key. The first request with
a key claims it (a unique row per user, scope and key); its final answer is stored and
replayed for the same key and body; another body with the same key is 409
`idempotency_mismatch`. A concurrent duplicate waits for the first to finish and gets its
answer.

Nothing a client sends is stored in the clear here: the key and the request are kept as
HMACs under a server key, and the request's digest leaves its secrets (PIN, SMS code)
out. The services never see the key either: they get the record's own id
(`request_key`), a server-side id, from which nothing can be spelled that collides with
another movement's reference.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.request import Request
from rest_framework.response import Response

from redpacket.kernel.errors import DomainError
from wallet import errors
from wallet.models import IdempotencyRecord

WAIT_SECONDS = 10.0
STALE_AFTER = timedelta(seconds=60)
REPLAY_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"[\x20-\x7e]{1,64}")
# Never part of a request's digest: with 10⁶ PINs, any digest of a PIN is a PIN.
SECRET_FIELDS = frozenset({"pin", "code", "password", "idempotency_key", "csrfmiddlewaretoken"})
_SALT = "wallet.idempotency"


class IdempotentReplay(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _storable(status: int) -> bool:
    # Success and payment refusals are final answers. Validation errors (400), auth and
    # rate-limit refusals and 503s are not stored: the client may fix the request and
    # retry; a retry after a 503 is a new attempt (a new record, new bank operations).
    return 200 <= status < 300 or status == 422


def _digest(purpose: str, value: str) -> str:
    return salted_hmac(f"{_SALT}.{purpose}", value, algorithm="sha256").hexdigest()


def request_fingerprint(scope: str, data: Mapping[str, Any]) -> str:
    """A keyed digest of what the request asks for, secrets left out."""
    if hasattr(data, "lists"):
        data = {name: values for name, values in data.lists()}
    payload = json.dumps(
        [scope, {name: value for name, value in data.items() if name not in SECRET_FIELDS}],
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return _digest("request", payload)


def valid_key(key: object) -> bool:
    return isinstance(key, str) and KEY_PATTERN.fullmatch(key) is not None


def idempotency_begin(*, user: Any, scope: str, key: object, fingerprint: str) -> IdempotencyRecord:
    """Claim `key` for this request, or raise: replay, mismatch, or still in progress."""
    if not valid_key(key):
        raise errors.IdempotencyKeyRequired()
    key_digest = _digest("key", str(key))
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            # One INSERT: in autocommit it needs no transaction of its own (a failed one
            # leaves the connection usable); inside a caller's transaction, a savepoint.
            with transaction.atomic() if connection.in_atomic_block else nullcontext():
                return IdempotencyRecord.objects.create(
                    user=user, scope=scope, key_digest=key_digest, request_hash=fingerprint
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(
            user=user, scope=scope, key_digest=key_digest
        ).first()
        if record is None:  # released by a request that ended in a non-final answer
            continue
        if record.request_hash != fingerprint:
            raise errors.IdempotencyMismatch()
        if record.state == IdempotencyRecord.State.DONE:
            raise IdempotentReplay(record.response_status or 200, record.response_body)
        if record.updated_at < timezone.now() - STALE_AFTER:
            # Its request died without an answer; take the key over. The services know
            # the request by the record's id, so a re-run resumes what the first run did
            # (its packet, its bank operation) instead of moving money again.
            taken = IdempotencyRecord.objects.filter(
                pk=record.pk, updated_at=record.updated_at
            ).update(updated_at=timezone.now())
            if taken:
                return record
        if time.monotonic() > deadline:
            raise errors.IdempotencyInProgress()
        time.sleep(0.05)


def idempotency_finish(*, record: IdempotencyRecord, status: int, body: Any) -> None:
    """Store a final answer for replay, or release the key for a retry."""
    if _storable(status):
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            state=IdempotencyRecord.State.DONE,
            response_status=status,
            response_body=body,
            updated_at=timezone.now(),
        )
    else:
        IdempotencyRecord.objects.filter(
            pk=record.pk, state=IdempotencyRecord.State.PROCESSING
        ).delete()


def idempotency_purge(*, batch: int = 5_000) -> int:
    """Delete answered records older than IDEMPOTENCY_KEEP_DAYS; returns how many.

    A key is a promise for a retry window, not forever: after it, the same key is a new
    request. Records still processing are kept whatever their age: a re-run of their
    request resumes by the record's id what the first run began (its packet, its bank
    operation), so they go only once answered."""
    cutoff = timezone.now() - timedelta(days=settings.IDEMPOTENCY_KEEP_DAYS)
    done = IdempotencyRecord.objects.filter(
        state=IdempotencyRecord.State.DONE, updated_at__lt=cutoff
    )
    purged = 0
    while True:
        ids = list(done.values_list("pk", flat=True)[:batch])
        if not ids:
            return purged
        purged += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]


def request_key_of(record: IdempotencyRecord) -> str:
    """The server-side id the services know a request by (never the client's key)."""
    return str(record.pk)


@dataclass(frozen=True)
class Outcome:
    """A money request's answer: its status and body, and whether it was replayed."""

    status: int
    body: Any
    replayed: bool = False


def run_idempotent(
    *,
    user: Any,
    scope: str,
    key: object,
    data: Mapping[str, Any],
    action: Callable[[str], Any],
) -> Outcome:
    """The pages' way through the same rules as the API: claim the key, run `action`
    with the request's server-side id, store its answer (a domain refusal as
    `{"code", "message"}`), or replay the stored one. Refusals, fresh or replayed, and
    mismatch and in-progress answers are raised as the domain errors they are."""
    try:
        record = idempotency_begin(
            user=user, scope=scope, key=key, fingerprint=request_fingerprint(scope, data)
        )
    except IdempotentReplay as replay:
        if not 200 <= replay.status < 300:
            body = replay.body or {}
            raise DomainError(
                body.get("message"), code=body.get("code"), status=replay.status
            ) from None
        return Outcome(replay.status, replay.body, replayed=True)
    status, body = 500, None
    try:
        body = action(request_key_of(record))
        status = 200
    except DomainError as error:
        status, body = error.status, {"code": error.code, "message": str(error.message)}
        raise
    finally:
        idempotency_finish(record=record, status=status, body=body)
    return Outcome(status, body)


class IdempotentMixin:
    """For an APIView whose POST moves money: requires `Idempotency-Key`, replays answers.

    `self.request_key` is the request's server-side id, for the services."""

    idempotency_record: IdempotencyRecord | None = None

    @property
    def request_key(self) -> str:
        assert self.idempotency_record is not None
        return request_key_of(self.idempotency_record)

    def idempotency_scope(self, request: Request) -> str:
        match = request.resolver_match
        return f"api:{match.view_name if match else type(self).__name__}"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.idempotency_record = None
        if request.method == "POST":
            scope = self.idempotency_scope(request)
            data = request.data if isinstance(request.data, Mapping) else {"body": request.data}
            self.idempotency_record = idempotency_begin(
                user=request.user,
                scope=scope,
                key=request.headers.get("Idempotency-Key"),
                fingerprint=request_fingerprint(scope, data),
            )

    def handle_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            return Response(exc.body, status=exc.status, headers={REPLAY_HEADER: "true"})
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self.idempotency_record = self.idempotency_record, None
        if record is not None:
            idempotency_finish(record=record, status=response.status_code, body=response.data)
        return response
