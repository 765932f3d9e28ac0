"""The Idempotency-Key layer for every request that moves money (API.md conventions).

The first request with a key claims it (a unique row per user and key); its response is
stored and replayed for the same key and body; another body with the same key is 409
`idempotency_mismatch`. A concurrent duplicate waits for the first to finish and gets its
response. Services also derive their ledger references from the key, so even a crash
between moving the money and storing the response cannot move money twice.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from wallet import errors
from wallet.models import IdempotencyRecord

WAIT_SECONDS = 10.0
STALE_AFTER = timedelta(seconds=60)
REPLAY_HEADER = "Idempotent-Replayed"


class IdempotentReplay(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _storable(status: int) -> bool:
    # Success and payment refusals are final answers. Validation errors (400), auth and
    # rate-limit refusals are not stored: the client may fix the request and retry.
    return 200 <= status < 300 or status == 422


def request_fingerprint(request: Request) -> str:
    data = request.data
    if hasattr(data, "lists"):
        data = dict(data.lists())
    payload = json.dumps(
        [request.method, request.path, data], sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def idempotency_begin(*, user, key: str | None, fingerprint: str) -> IdempotencyRecord:  # type: ignore[no-untyped-def]
    """Claim `key` for this request, or raise: replay, mismatch, or still in progress."""
    if not key or len(key) > 64:
        raise errors.IdempotencyKeyRequired()
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    user=user, key=key, request_hash=fingerprint
                )
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if record is None:  # released by a request that ended in a non-final answer
            continue
        if record.request_hash != fingerprint:
            raise errors.IdempotencyMismatch()
        if record.state == IdempotencyRecord.State.DONE:
            raise IdempotentReplay(record.response_status or 200, record.response_body)
        if record.updated_at < timezone.now() - STALE_AFTER:
            # Its request died without an answer; take the key over (the services'
            # key-derived references keep a re-run from moving money twice).
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


class IdempotentMixin:
    """For an APIView whose POST moves money: requires `Idempotency-Key`, replays answers.

    `self.idempotency_key` is the key, for the view to derive its service references from.
    """

    idempotency_record: IdempotencyRecord | None = None

    @property
    def idempotency_key(self) -> str:
        assert self.idempotency_record is not None
        return self.idempotency_record.key

    def initial(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.idempotency_record = None
        if request.method == "POST":
            self.idempotency_record = idempotency_begin(
                user=request.user,
                key=request.headers.get("Idempotency-Key"),
                fingerprint=request_fingerprint(request),
            )

    def handle_exception(self, exc):  # type: ignore[no-untyped-def]
        if isinstance(exc, IdempotentReplay):
            return Response(exc.body, status=exc.status, headers={REPLAY_HEADER: "true"})
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        record, self.idempotency_record = self.idempotency_record, None
        if record is not None:
            idempotency_finish(record=record, status=response.status_code, body=response.data)
        return response
