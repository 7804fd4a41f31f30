"""The PWA: the staff app shell, its service worker and manifest, and its static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Response, get
from litestar.static_files import create_static_files_router

WEB = Path(__file__).resolve().parents[2] / "web"


def _file(name: str, media_type: str, **headers: str) -> Response[bytes]:
    return Response(
        (WEB / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "no-cache", **headers},
    )


@get("/", include_in_schema=False, sync_to_thread=False)
def index() -> Response[bytes]:
    return _file("index.html", "text/html; charset=utf-8")


@get("/sw.js", include_in_schema=False, sync_to_thread=False)
def service_worker() -> Response[bytes]:
    # Served from the root so it may control the whole app; never cached by HTTP.
    return _file("sw.js", "text/javascript; charset=utf-8", **{"Service-Worker-Allowed": "/"})


@get("/manifest.webmanifest", include_in_schema=False, sync_to_thread=False)
def manifest() -> Response[bytes]:
    return _file("manifest.webmanifest", "application/manifest+json")


static = create_static_files_router(
    path="/web", directories=[WEB], include_in_schema=False, send_as_attachment=False
)

ROUTES: list[Any] = [index, service_worker, manifest, static]
