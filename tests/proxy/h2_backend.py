"""A real HTTP/2 backend for tests, written with the h2 library: h2c, or h2 over TLS with ALPN.

Paths: /echo (JSON of the request: method, path, headers, body length, connection number),
/big/N (N bytes, sent as the proxy's windows allow), /trailers (a body, then trailers),
/slow (headers, then nothing until the stream is reset: records the reset).
Request trailers are recorded (`trailers` in /echo's JSON). `max_concurrent_streams` is advertised in
SETTINGS (a stream over it ends the connection, counted in `over_limit`); `settings_delay` holds the
server's SETTINGS back (a distant backend); `status` makes /echo answer with that status; `refuse`
and `go_away` refuse the next requests as RFC 9113 8.7 describes (for retries).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings


@dataclass
class H2Backend:
    port: int
    connections: int = 0
    requests: list[dict[str, object]] = field(default_factory=list)
    resets: list[int] = field(default_factory=list)
    max_open_streams: int = 0
    max_concurrent_streams: int | None = None
    settings_delay: float = 0.0  # seconds before the server's preface (SETTINGS) is sent
    status: int = 200
    over_limit: int = 0  # streams opened over max_concurrent_streams (h2 ended the connection)
    refuse: int = 0  # the next this many requests are refused (RST_STREAM REFUSED_STREAM)
    go_away: int = 0  # the next this many requests get GOAWAY naming an earlier stream, then a close
    sent: int = 0  # body bytes of /big responses sent so far
    server: asyncio.Server | None = None
    transports: list[asyncio.BaseTransport] = field(default_factory=list)


class _Protocol(asyncio.Protocol):
    def __init__(self, state: H2Backend) -> None:
        self.state = state
        state.connections += 1
        self.number = state.connections
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config)
        self.tasks: set[asyncio.Task[None]] = set()
        self.transport: asyncio.Transport | None = None
        self.bodies: dict[int, int] = {}
        self.heads: dict[int, dict[str, str]] = {}
        self.trailers: dict[int, dict[str, str]] = {}
        self.window_open: dict[int, asyncio.Event] = {}
        self.open: set[int] = set()
        self.held: list[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.state.transports.append(transport)
        limit = self.state.max_concurrent_streams
        if limit is not None:
            self.conn.local_settings = h2.settings.Settings(
                client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: limit}
            )
        if self.state.settings_delay:
            # A backend far away: its SETTINGS (and answers to what came first) arrive late.
            self.held = []
            asyncio.get_running_loop().call_later(self.state.settings_delay, self.initiate)
        else:
            self.initiate()

    def initiate(self) -> None:
        self.conn.initiate_connection()
        self.flush()
        held, self.held = self.held, None
        for data in held or ():
            self.data_received(data)

    def flush(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(self.conn.data_to_send())

    def data_received(self, data: bytes) -> None:
        if self.held is not None:
            self.held.append(data)
            return
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.TooManyStreamsError:
            # A stream over our SETTINGS_MAX_CONCURRENT_STREAMS: h2 ends the connection (GOAWAY).
            self.state.over_limit += 1
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                sid = event.stream_id
                self.heads[sid] = dict(event.headers)  # type: ignore[arg-type]
                self.bodies[sid] = 0
                self.open.add(sid)
                self.state.max_open_streams = max(self.state.max_open_streams, len(self.open))
            elif isinstance(event, h2.events.DataReceived):
                self.bodies[event.stream_id] += len(event.data)
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.TrailersReceived):
                self.trailers[event.stream_id] = dict(event.headers)  # type: ignore[arg-type]
            elif isinstance(event, h2.events.StreamEnded):
                task = asyncio.ensure_future(self.respond(event.stream_id))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif isinstance(event, h2.events.StreamReset):
                self.state.resets.append(event.stream_id)
                self.open.discard(event.stream_id)
                if event.stream_id in self.window_open:
                    self.window_open[event.stream_id].set()
            elif isinstance(event, h2.events.WindowUpdated):
                for ev in self.window_open.values():
                    ev.set()
        self.flush()

    async def respond(self, sid: int) -> None:
        head = self.heads[sid]
        path = head[":path"]
        info = {
            "method": head[":method"],
            "path": path,
            "authority": head.get(":authority"),
            "scheme": head.get(":scheme"),
            "headers": {k: v for k, v in head.items() if not k.startswith(":")},
            "body_len": self.bodies[sid],
            "connection": self.number,
            "port": self.state.port,
            "trailers": self.trailers.get(sid, {}),
        }
        if self.state.refuse > 0:
            self.state.refuse -= 1
            self.conn.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
            self.flush()
            return
        if self.state.go_away > 0:
            self.state.go_away -= 1
            self.conn.close_connection(last_stream_id=max(sid - 2, 0))
            self.flush()
            if self.transport is not None:
                self.transport.close()
            return
        self.state.requests.append(info)
        if path.startswith("/slow"):
            self.conn.send_headers(sid, [(":status", "200")])
            self.flush()
            return
        await asyncio.sleep(0.05 if path.startswith("/echo/wait") else 0)
        if path.startswith("/big/"):
            size = int(path.rsplit("/", 1)[1])
            self.conn.send_headers(sid, [(":status", "200"), ("content-length", str(size))])
            await self.send(sid, b"x" * size)
            return
        body = json.dumps(info).encode()
        if path.startswith("/trailers"):
            self.conn.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc")])
            self.conn.send_data(sid, body)
            self.conn.send_headers(sid, [("grpc-status", "0"), ("grpc-message", "fine")], end_stream=True)
        else:
            self.conn.send_headers(
                sid,
                [
                    (":status", str(self.state.status)),
                    ("content-type", "application/json"),
                    ("x-backend", "h2"),
                ],
            )
            self.conn.send_data(sid, body, end_stream=True)
        self.open.discard(sid)
        self.flush()

    async def send(self, sid: int, data: bytes) -> None:
        event = self.window_open.setdefault(sid, asyncio.Event())
        view = memoryview(data)
        while view:
            if sid in self.state.resets:
                return
            window = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size)
            if window <= 0:
                event.clear()
                await event.wait()
                continue
            piece = bytes(view[:window])
            self.conn.send_data(sid, piece, end_stream=len(view) <= window)
            view = view[window:]
            self.state.sent += len(piece)
            self.flush()
        self.open.discard(sid)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def start_h2_backend(
    ssl_context: ssl.SSLContext | None = None, max_concurrent_streams: int | None = None
) -> H2Backend:
    state = H2Backend(0, max_concurrent_streams=max_concurrent_streams)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(state), "127.0.0.1", 0, ssl=ssl_context)
    state.server = server
    state.port = server.sockets[0].getsockname()[1]
    return state
