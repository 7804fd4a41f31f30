"""uvicorn's HTTP and WebSocket protocols, letting go of a connection's objects once it is done with them.

`python -m api serve` runs uvicorn with these classes (`--http api.realtime.connections:HttpProtocol
--ws api.realtime.connections:WebSocketProtocol` does the same for uvicorn started by hand).

Each WebSocket connection leaves two reference cycles behind in the libraries as they are:

- the HTTP protocol that handled the upgrade and its parser (the parser holds the protocol's bound
  callbacks; only `connection_lost`, which never reaches it after the upgrade, breaks the cycle), with
  the transport and the request's buffers;
- the `websockets` connection and its frame parser, a generator whose frame holds the connection.

Both wait for a garbage collection of the generation they have reached, and this app collects the
older generations rarely on purpose (app.py: full collections were the push's p99 tail). Measured with
5,000 status sockets opened and closed: ~57,000 objects left per round, more each round, scattered over
the heap so that `malloc_trim` could not return the pages around them either. Breaking the cycles
frees each connection by reference counting the moment it ends.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # no httptools: uvicorn speaks HTTP with h11, whose protocol holds no such cycle
    from uvicorn.protocols.http.h11_impl import H11Protocol as HttpProtocol
else:

    class HttpProtocol(HttpToolsProtocol):  # type: ignore[no-redef]
        def handle_websocket_upgrade(self) -> None:
            super().handle_websocket_upgrade()
            # The WebSocket protocol owns the connection now: this object is done with it.
            self.parser = None  # type: ignore[assignment]


class WebSocketProtocol(WebSocketsSansIOProtocol):
    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        # No data comes after this, so the parser will never be stepped again: closing it releases
        # the connection its frame holds. (Sending after this point fails on `disconnected` before it
        # reaches the connection.)
        parser: Any = getattr(self.conn, "parser", None)
        if parser is not None:
            parser.close()


__all__ = ["HttpProtocol", "WebSocketProtocol"]
