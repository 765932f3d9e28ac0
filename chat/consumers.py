"""Websocket adapters: authenticate, check membership, join groups, forward events.

`/ws/rooms/<id>/` (RoomConsumer) is what a room page opens. It joins `room.<id>` (what
every member of the room sees) and `user.<uid>` (the user's own events: private notices,
wallet credits). The user group carries events of *all* the user's rooms, so each event
that belongs to a room carries a `room_id` (in the event or its `message`) and the
browser ignores the ones for other rooms.

`/ws/me/` (UserConsumer) joins only `user.<uid>`: for pages that are not a room (the
wallet, 我的红包: every signed-in page, static/js/notices.js) to hear the money events
(`wallet.credited`, `wallet.refunded`, `wallet.received`, …) and private notices. A
packet's result page holds a socket of one of the packet's rooms instead (its claim list
follows `packet.claimed`), which carries the user's events too. The room
list page does not subscribe to every room (a user may be in hundreds, and rooms they
are added to later would need joining too); it refreshes itself by polling, which costs
one cheap query set every few seconds and only while the page is visible.

Consumers never touch the ORM in `async` code: every database or cache call goes
through `database_sync_to_async`. Events arrive as `{"type": "event.forward", "event"}`
(see `chat.events`) and the `event` is sent to the browser unchanged, except that a
`message` it carries is first decorated for this connection's user (`chat.hooks`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from chat import events, hooks, notices, selectors, services
from chat.throttles import message_send_allowed
from redpacket.kernel.errors import DomainError
from redpacket.kernel.replica import mark_wrote

logger = logging.getLogger(__name__)

# Close codes sent when a connection is refused after the handshake (4000–4999 are the
# application's); before the handshake a refusal is a plain HTTP 403.
CLOSE_NOT_ALLOWED = 4403


# Lookups shared by the connections of this process that receive the same event (one
# packet's state for a room of 500, fetched once): kept for a moment after the event
# arrives, keyed by the event's type and its message's id and time (ids alone repeat
# where a database is emptied and refilled, as between tests).
_SHARED_FOR_SECONDS = 1.0
_shared_lookups: dict[tuple[Any, ...], tuple[float, dict[Any, Any]]] = {}
_shared_lock = threading.Lock()


def _lookups_for(event: dict[str, Any]) -> dict[Any, Any]:
    message = event["message"]
    key = (event.get("type"), message.get("id"), message.get("created_at"))
    now = time.monotonic()
    with _shared_lock:
        entry = _shared_lookups.get(key)
        if entry is None or entry[0] < now:
            for stale in [k for k, (until, _) in _shared_lookups.items() if until < now]:
                del _shared_lookups[stale]
            entry = _shared_lookups[key] = (now + _SHARED_FOR_SECONDS, {})
        return entry[1]


def _copy(value: Any) -> Any:
    """A copy of JSON data (dicts, lists, scalars): what an event is once published, and
    several times quicker than `copy.deepcopy`."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _encode(content: dict[str, Any]) -> str:
    return json.dumps(content, ensure_ascii=False, cls=DjangoJSONEncoder)


# How many distinct decorations of one event a batch remembers to share their frames:
# most viewers of a packet see the same bubble (not opened, still open), a few another.
_DISTINCT_KEPT = 4


class _Batch:
    """The connections of this process that receive one decorated event, served in one
    trip to the sync thread.

    A `packet.new` to a room of 2,000 wakes 2,000 consumers at once. A trip to the sync
    thread each (`database_sync_to_async`) cost more than the decoration itself, and
    they queued one after another for that one thread. Now the first consumer of an
    event starts the trip and every consumer of the same event that comes before it
    begins joins it; in the thread the batch closes, the event is decorated once per
    viewer (the packet's state looked up once: `hooks.shared_lookups()`), and viewers
    whose decorated event and language are the same share one encoded frame."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self.viewers: dict[tuple[int, str], Any] = {}  # (user id, language) → user
        self.accepting = True
        self.lock = threading.Lock()
        self.done: asyncio.Future[dict[tuple[int, str], str]] | None = None

    def join(self, user: Any, language: str) -> bool:
        with self.lock:
            if self.accepting:
                self.viewers[(user.pk, language)] = user
            return self.accepting

    def frames(self) -> dict[tuple[int, str], str]:
        with self.lock:
            self.accepting = False
        lookups = _lookups_for(self.event)
        recent: list[tuple[dict[str, Any], dict[str, str]]] = []  # decorations → frames
        frames = {}
        for (user_id, language), user in self.viewers.items():
            event = _copy(self.event)
            with hooks.sharing_lookups(lookups):
                hooks.decorate_messages([event["message"]], user)
            texts = next((texts for known, texts in recent if known == event), None)
            if texts is None:
                texts = {}
                recent.insert(0, (event, texts))
                del recent[_DISTINCT_KEPT:]
            if language not in texts:
                with translation.override(language):  # notices in this viewer's language
                    texts[language] = _encode(notices.localize_event(event))
            frames[(user_id, language)] = texts[language]
        return frames


_batches: dict[tuple[Any, ...], _Batch] = {}


async def _decorated_frame(event: dict[str, Any], user: Any, language: str) -> str:
    """The text frame of `event` decorated for `user` in `language`, made in a batch with
    the other connections of this process that receive the same event (`_Batch`)."""
    # The loop itself, not its id: a batch left behind by a loop that stopped (a test's)
    # must never be joined by a later loop that happens to get the same id.
    key = (asyncio.get_running_loop(), event.get("type"), event["message"].get("id"))
    batch = _batches.get(key)
    if batch is None or batch.event != event or not batch.join(user, language):
        batch = _batches[key] = _Batch(event)
        batch.join(user, language)
        batch.done = asyncio.ensure_future(database_sync_to_async(batch.frames)())

        def forget(_: Any, batch: _Batch = batch) -> None:
            if _batches.get(key) is batch:
                del _batches[key]

        batch.done.add_done_callback(forget)
    assert batch.done is not None
    frames = await asyncio.shield(batch.done)  # one consumer's cancel spares the rest
    return frames[(user.pk, language)]


def scope_language(scope: dict[str, Any]) -> str:
    """The connection's language, as `LocaleMiddleware` picks a page's: the language
    cookie (the language menu), else the browser's Accept-Language, else the site's."""
    wanted = [(scope.get("cookies") or {}).get(settings.LANGUAGE_COOKIE_NAME) or ""]
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    wanted += [code for code, _q in parse_accept_lang_header(accept) if code != "*"]
    for code in wanted:
        if not code:
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _post_text(user: Any, room_id: int, text: str) -> None:
    if not message_send_allowed(user):
        raise DomainError(_("操作太频繁，请稍后再试"), code="rate_limited", status=429)
    room = selectors.room_for_member(user=user, room_id=room_id)
    services.message_post_text(room=room, sender=user, text=text)
    mark_wrote(user.pk)  # read-your-writes: their history skips the replica a while


class _EventConsumer(AsyncJsonWebsocketConsumer):
    """Joins `self.event_groups` on connect and forwards what arrives there."""

    event_groups: list[str]

    @classmethod
    async def encode_json(cls, content: dict[str, Any]) -> str:
        return _encode(content)

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.event_groups = []
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.user = user
        self.language = scope_language(self.scope)
        if not await self.allowed():
            await self.close()
            return
        self.event_groups = self.groups_for(user)
        for group in self.event_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def allowed(self) -> bool:
        return True

    def groups_for(self, user: Any) -> list[str]:
        return [events.user_group(user.pk)]

    async def disconnect(self, code: int) -> None:
        for group in self.event_groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, a trip to
        # the sync thread each; an event to forward does no database work on this
        # thread (its decoration's own trip closes them), and a room of 2,000 receives
        # each event 2,000 times at once.
        if message["type"] == events.FORWARD:
            await self.event_forward(message)
        else:
            await super().dispatch(message)

    async def event_forward(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if hooks.message_decorators and isinstance(event.get("message"), dict):
            await self.send(text_data=await _decorated_frame(event, self.user, self.language))
            return
        with translation.override(self.language):  # notices in this viewer's language
            event = notices.localize_event(event)
        await self.send_json(event)

    async def send_error(self, code: str, text: str) -> None:
        await self.send_json({"type": "error", "code": code, "message": str(text)})

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Bad JSON is the client's mistake: answer with an error frame, keep the socket.
        if text_data is None:
            await self.send_error("invalid", _("只接受 JSON 文本帧"))
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("parse_error", _("请求内容无法解析"))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_error("invalid", _("此连接不接受消息"))


class RoomConsumer(_EventConsumer):
    """`/ws/rooms/<id>/`: a room's events plus the user's own; accepts `message.send`."""

    async def allowed(self) -> bool:
        self.room_id = selectors.valid_id(self.scope["url_route"]["kwargs"]["room_id"])
        if self.room_id is None:
            return False
        return await database_sync_to_async(selectors.is_member)(
            room_id=self.room_id, user_id=self.user.pk
        )

    def groups_for(self, user: Any) -> list[str]:
        assert self.room_id is not None  # `allowed` let only a valid room id through
        return [events.room_group(self.room_id), events.user_group(user.pk)]

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "message.send":
            await self.send_error("unknown_type", _("不支持的消息类型"))
            return
        text = content.get("text")
        if not isinstance(text, str):
            await self.send_error("invalid", _("text 必须是字符串"))
            return
        try:
            await database_sync_to_async(_post_text)(self.user, self.room_id, text)
        except DomainError as error:
            await self.send_json({"type": "error", **error.as_dict()})
        except Exception:  # never let one frame kill the connection
            logger.exception("message.send failed in room %s", self.room_id)
            await self.send_error("unavailable", _("服务繁忙，请稍后再试"))


class UserConsumer(_EventConsumer):
    """`/ws/me/`: only the user's own events (notices, wallet credits)."""
