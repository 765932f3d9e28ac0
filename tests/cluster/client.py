"""A black-box client of the deployed API: HTTP and websockets against a base URL only
(API.md), no import of the application. Used by the black-box subset and the drills."""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

PASSWORD = "cluster-pw-2468"
PIN = "135790"
CARD = "4111111111111111"
_names = itertools.count()


def _phone() -> str:
    """A mobile number of its own per binding (SMS codes are limited per number)."""
    return f"139{secrets.randbelow(10**8):08d}"


@dataclass
class Person:
    id: int
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


class Api:
    def __init__(self, base_url: str, *, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        method: str,
        path: str,
        who: Person | None = None,
        body: dict | None = None,
        *,
        money: bool = False,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        headers = dict(who.auth) if who else {}
        if money:
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        return self.http.request(method, path, headers=headers, json=body)

    def ok(self, method: str, path: str, who: Person | None = None, body=None, **kw) -> dict:
        response = self.call(method, path, who, body, **kw)
        assert response.status_code in (200, 201, 204), (
            f"{method} {path}: {response.status_code} {response.text[:300]}"
        )
        return response.json() if response.content else {}

    def register(self, name: str | None = None) -> Person:
        username = name or f"c{os.getpid()}x{int(time.time()) % 100000}x{next(_names)}"
        body = self.ok(
            "POST",
            "/api/auth/register",
            body={"username": username, "password": PASSWORD, "display_name": username},
        )
        return Person(id=body["id"], username=username, token=body["token"])

    def fund(self, who: Person, amount_fen: int) -> int:
        """Bind the sandbox card (setting the PIN) and top up `amount_fen`; the balance."""
        binding = self.ok(
            "POST",
            "/api/cards",
            who,
            {"card_number": CARD, "holder_name": "张三", "phone": _phone(), "pin": PIN},
        )
        card = self.ok(
            "POST",
            f"/api/cards/{binding['binding_id']}/verify",
            who,
            {"code": binding["sandbox_sms_code"]},
        )
        body = self.ok(
            "POST",
            "/api/wallet/topup",
            who,
            {"card_id": card["id"], "amount_fen": amount_fen, "pin": PIN},
            money=True,
        )
        return body["balance_fen"]

    def group(self, creator: Person, members: list[Person], name: str = "群") -> dict:
        """A group room of `creator` and `members`: strangers are invited, and accept."""
        room = self.ok(
            "POST",
            "/api/rooms",
            creator,
            {"kind": "group", "name": name, "member_ids": [m.id for m in members]},
        )
        invited = {user["id"] for user in room.get("invited", [])}
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(
                    lambda member: self.accept_invitation(member, room["id"]),
                    [member for member in members if member.id in invited],
                )
            )
        return room

    def accept_invitation(self, who: Person, room_id: int) -> None:
        pending = self.ok("GET", "/api/invitations?page_size=100", who)["results"]
        found = [i for i in pending if i["room"]["id"] == room_id]
        assert found, f"no invitation to room {room_id} for {who.username}"
        self.ok("POST", f"/api/invitations/{found[0]['id']}/accept", who)

    def send_lucky(self, sender: Person, room_id: int, *, count: int, total_fen: int) -> dict:
        return self.ok(
            "POST",
            "/api/packets",
            sender,
            {
                "room_id": room_id,
                "kind": "lucky",
                "count": count,
                "total_fen": total_fen,
                "greeting": "恭喜发财",
                "pay_with": "balance",
                "pin": PIN,
            },
            money=True,
        )

    def balance(self, who: Person) -> int:
        return self.ok("GET", "/api/wallet", who)["balance_fen"]

    # --- websockets ----------------------------------------------------------------------

    def websocket(self, who: Person, path: str):
        """A connected websocket (websockets' sync client) on `path`, with a fresh ticket."""
        from websockets.sync.client import connect
        from websockets.typing import Origin

        ticket = self.ok("POST", "/api/auth/ws-ticket", who)["ticket"]
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return connect(
            f"{scheme}://{parts.netloc}{path}?ticket={ticket}",
            origin=Origin(f"{parts.scheme}://{parts.netloc}"),
            open_timeout=10,
        )


def next_event(socket, type_: str, *, timeout: float = 10, where=None) -> dict:
    """The next event of `type_` (and matching `where`) on `socket`, skipping others."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {type_} event within {timeout}s")
        event = json.loads(socket.recv(timeout=left))
        if event.get("type") == type_ and (where is None or where(event)):
            return event
