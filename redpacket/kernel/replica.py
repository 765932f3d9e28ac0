"""Reads that may lag go to the replica (ARCHITECTURE "Growing past one machine").

With DATABASE_REPLICA_URL set there is a second database alias, "replica", a streaming
replica of the primary ("default"). Only the history pages and APIs read it — 我的红包
(received, sent), the ledger list, older messages — by asking `history_db(user_id)` which
alias to read from and reading there (`.using(...)`). Everything else, every write and
every money path, stays on the primary: `ReplicaRouter` sends all writes to "default",
never migrates the replica, and routes no other read.

`history_db` answers the primary instead of the replica:
- for a user who wrote in the last REPLICA_READ_YOUR_WRITES_SECONDS (read-your-writes):
  every write request of a signed-in user (an unsafe HTTP method; `WroteMiddleware`) and
  every message sent over a websocket marks the user in the cache (`mark_wrote`), so the
  page they see next shows what they just did even while the replica lags behind;
- inside a transaction on the primary (a read there must see its own writes);
- while the replica cannot be reached: a failed connection (refused, or no answer within
  REPLICA_CONNECT_TIMEOUT) sets it aside for REPLICA_RETRY_SECONDS in this process, so
  one request pays the timeout, not every one;
- when there is no replica (no alias), or the cache cannot tell (Redis down: the safe
  answer is the primary).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

REPLICA = "replica"
# After a failed connection the replica is left alone this long by this process.
REPLICA_RETRY_SECONDS = 30.0

_down_until = 0.0
_down_lock = threading.Lock()


def _wrote_key(user_id: int) -> str:
    return f"rw:{int(user_id)}"


def replica_reads() -> bool:
    """Whether history may be read from a replica at all (DATABASE_REPLICA_URL set)."""
    return bool(settings.REPLICA_READS) and REPLICA in connections.settings


def mark_wrote(user_id: int) -> None:
    """The user just wrote: their next reads within the window go to the primary."""
    if not replica_reads():
        return
    try:
        cache.set(_wrote_key(user_id), 1, timeout=settings.REPLICA_READ_YOUR_WRITES_SECONDS)
    except Exception:  # the cache down: `wrote_recently` answers True then anyway
        logger.warning("could not mark user %s as a recent writer", user_id, exc_info=True)


def wrote_recently(user_id: int) -> bool:
    try:
        return cache.get(_wrote_key(user_id)) is not None
    except Exception:
        return True


def replica_down() -> None:
    """Set the replica aside for REPLICA_RETRY_SECONDS (it refused or timed out)."""
    global _down_until
    with _down_lock:
        _down_until = time.monotonic() + REPLICA_RETRY_SECONDS


def replica_reset() -> None:
    """Forget a failed connection (tests; a replica known to be back)."""
    global _down_until
    with _down_lock:
        _down_until = 0.0


def _replica_reachable() -> bool:
    if time.monotonic() < _down_until:
        return False
    connection = connections[REPLICA]
    try:
        connection.ensure_connection()
    except DatabaseError:
        logger.warning("replica unreachable: reading history from the primary", exc_info=True)
        with contextlib.suppress(DatabaseError):
            connection.close()
        replica_down()
        return False
    return True


def history_db(user_id: int) -> str:
    """The alias to read `user_id`'s history from: the replica when it may serve them."""
    if not replica_reads():
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS
    if wrote_recently(user_id):
        return DEFAULT_DB_ALIAS
    return REPLICA if _replica_reachable() else DEFAULT_DB_ALIAS


class ReplicaRouter:
    """Writes (and any object read from the replica, when saved) go to the primary; the
    replica is never migrated (it follows the primary). Reads: no opinion — Django's
    default (the primary, or the instance's own alias for its relations)."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return None

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db != REPLICA


class WroteMiddleware:
    """Marks a signed-in user who sent a write request (POST, PUT, PATCH, DELETE) as a
    recent writer (read-your-writes). Token-authenticated API calls are marked too: DRF
    authenticates inside the view, after which `request.user` is set."""

    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.method not in self.SAFE_METHODS and replica_reads():
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                mark_wrote(user.pk)
        return response
