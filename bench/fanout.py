"""Websocket members for the fan-out scenario, run as separate processes.

`python -m bench.fanout URL ROOM TOKENS_FILE START COUNT` opens COUNT websockets (the
tokens START… of the file, each trading its token for a one-use ticket first, as API
clients do: `POST /api/auth/ws-ticket`) to the room, prints `READY <n>` once all are connected, then
notes when each `packet.new` arrives until a line `STOP` comes on stdin, and prints one
JSON line `RESULT {"received": {packet_id: [unix times]}, "errors": n, ...}`.

Members join the way a room's members do, not all in one instant: at most
HANDSHAKES_IN_FLIGHT handshakes at a time per process, and a refused or timed-out
handshake is tried again (up to ATTEMPTS times, as the browser's reconnect does). The
retries are reported; a member still not connected after them is an error.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import websockets

HANDSHAKES_IN_FLIGHT = 16
ATTEMPTS = 3


@dataclass
class Members:
    total: int
    room: int
    received: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    handshake_s: list[float] = field(default_factory=list)  # ticket + upgrade, each member
    settled: int = 0  # connected or given up
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def settle(self) -> None:
        self.settled += 1
        if self.settled == self.total:
            self.ready.set()


async def ticket_url(http: aiohttp.ClientSession, base_url: str, ws_base: str, token: str) -> str:
    """The websocket URL with a fresh one-use ticket for this member's token."""
    async with http.post(
        f"{base_url}/api/auth/ws-ticket", headers={"Authorization": f"Token {token}"}
    ) as response:
        response.raise_for_status()
        return ws_base + (await response.json())["ticket"]


async def member(
    http: aiohttp.ClientSession,
    base_url: str,
    token: str,
    members: Members,
    handshakes: asyncio.Semaphore,
) -> None:
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    ws_base = f"ws://{parts.netloc}/ws/rooms/{members.room}/?ticket="
    for attempt in range(1, ATTEMPTS + 1):
        try:
            async with handshakes:
                began = time.monotonic()
                url = await ticket_url(http, base_url, ws_base, token)
                socket = await websockets.connect(
                    url, origin=origin, open_timeout=30, ping_interval=None, max_queue=None
                )
                members.handshake_s.append(time.monotonic() - began)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if attempt < ATTEMPTS:
                members.retries += 1
                await asyncio.sleep(0.5 * attempt)
                continue
            members.errors.append(repr(error))  # never connected: a scenario error
            members.settle()
            return
        break
    members.settle()
    try:
        async for frame in socket:
            arrived = time.time()
            event = json.loads(frame)
            if event.get("type") == "packet.new":
                members.received[str(event["packet"]["id"])].append(arrived)
    except asyncio.CancelledError:
        raise
    except Exception as error:  # dropped after connecting: a scenario error
        members.errors.append(repr(error))
    finally:
        await socket.close()


async def main(base_url: str, room: int, tokens_file: str, start: int, count: int) -> None:
    tokens = Path(tokens_file).read_text().split()[start : start + count]  # noqa: ASYNC240
    members = Members(total=len(tokens), room=room)
    handshakes = asyncio.Semaphore(HANDSHAKES_IN_FLIGHT)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    tasks = [
        asyncio.create_task(member(http, base_url, token, members, handshakes)) for token in tokens
    ]
    await members.ready.wait()
    print(f"READY {len(tokens) - len(members.errors)}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line or line.strip() == "STOP":
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await http.close()
    result = {
        "received": members.received,
        "errors": len(members.errors),
        "first_errors": members.errors[:3],
        "handshake_retries": members.retries,
        "handshake_s": [round(seconds, 4) for seconds in members.handshake_s],
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    url, room_id, path, first, n = sys.argv[1:6]
    asyncio.run(main(url, int(room_id), path, int(first), int(n)))
