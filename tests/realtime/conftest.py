"""A real uvicorn server running the app in this test process's event loop.

Same loop, same database, same hub: commands the tests execute publish hints that reach the
server's sockets, and the clients are real `websockets` connections over loopback.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn


@pytest.fixture(scope="session")
async def live(database: None) -> AsyncIterator[str]:
    from api.app import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_per_message_deflate=False,
        # As `python -m api serve` runs it: connections let go of their objects as they end.
        http="api.realtime.connections:HttpProtocol",
        ws="api.realtime.connections:WebSocketProtocol",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"127.0.0.1:{port}"
    server.should_exit = True
    await asyncio.wait_for(task, 20)


async def staff_cookie(host: str, role: str = "advisor") -> tuple[httpx.AsyncClient, str]:
    """An HTTP client signed in on the live server, and its Cookie header for WebSockets."""
    from tests.factories import PIN, make_staff

    person = await make_staff(role)
    client = httpx.AsyncClient(base_url=f"http://{host}")
    r = await client.post("/api/auth/login", json={"username": person["username"], "pin": PIN})
    assert r.status_code == 200, r.text
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    return client, cookie


def ws_url(host: str, path: str) -> str:
    return f"ws://{host}{path}"
