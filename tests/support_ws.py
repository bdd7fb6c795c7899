"""A scriptable WebSocket server on 127.0.0.1 for the socket-layer tests.

Built on the ``websockets`` library's threaded (sync) server. It binds port 0,
records each handshake (path and headers) and every frame it receives, and the
test drives it: send any frame (text, bytes, invalid UTF-8, 10 MB), close with
a code, or refuse the handshake with an HTTP status and a JSON body. Waits are
woken by a ``threading.Condition``; every wait takes a timeout in seconds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import inspect
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

# The sync server pings only from websockets 15 (no ``ping_interval`` before): the tests' own pings decide.
_NO_KEEPALIVE: Dict[str, Any] = (
    {"ping_interval": None} if "ping_interval" in inspect.signature(serve).parameters else {}
)

__all__ = [
    "FixtureServer",
    "Handshake",
    "silent_listener",
    "mute_server",
    "raw_server",
    "tls_raw_server",
    "read_client_frame",
    "server_frame",
    "TunnelProxy",
    "tls_contexts",
    "closed_port",
]

Message = Union[str, bytes]


class Handshake:
    """What the client sent in its opening handshake."""

    def __init__(self, path: str, headers: Dict[str, str]) -> None:
        self.path = path
        #: header names lower-cased
        self.headers = headers

    def __repr__(self) -> str:
        return f"Handshake(path={self.path!r})"


class FixtureServer:
    """A WebSocket server the test scripts frame by frame.

    Args:
        reject_status: answer every handshake with this HTTP status instead
            of upgrading (for example 401).
        reject_body: the JSON-serialisable body sent with ``reject_status``.
        reject_headers: extra response headers sent with ``reject_status``
            (``Location`` for a redirect, say).
        on_connect: called with the server connection right after the
            handshake, on the server's connection thread (send a
            ``session.created`` from here, for example).
        ssl_context: serve ``wss://`` with this server-side TLS context.
    """

    def __init__(
        self,
        *,
        reject_status: Optional[int] = None,
        reject_body: Any = None,
        reject_headers: Optional[Dict[str, str]] = None,
        on_connect: Optional[Callable[[ServerConnection], None]] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.reject_status = reject_status
        self.reject_body = reject_body
        self.reject_headers = dict(reject_headers or {})
        self.on_connect = on_connect
        self.handshakes: List[Handshake] = []
        self.received: List[Message] = []
        self.connections: List[ServerConnection] = []
        #: (code, reason) of the close frame each finished connection got from the client
        self.client_closes: List[Tuple[Optional[int], Optional[str]]] = []
        self._cond = threading.Condition()
        self._server: Optional[Server] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> "FixtureServer":
        self._server = serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            max_size=None,
            ssl=self.ssl_context,
            **_NO_KEEPALIVE,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fixture-ws-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        for connection in list(self.connections):
            with contextlib.suppress(Exception):
                connection.close()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(5.0)

    def __enter__(self) -> "FixtureServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return int(self._server.socket.getsockname()[1])

    @property
    def url(self) -> str:
        scheme = "ws" if self.ssl_context is None else "wss"
        return f"{scheme}://127.0.0.1:{self.port}"

    # -- scripting ----------------------------------------------------------

    def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> ServerConnection:
        """Block until ``count`` connections were accepted; return the latest."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.connections) >= count, timeout):
                raise TimeoutError(f"no WebSocket connection within {timeout} s")
            return self.connections[-1]

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> List[Message]:
        """Block until ``count`` frames were received in total; return them all."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.received) >= count, timeout):
                raise TimeoutError(
                    f"received {len(self.received)} of {count} frames within {timeout} s"
                )
            return list(self.received)

    def wait_for_client_close(self, timeout: float = 5.0) -> Tuple[Optional[int], Optional[str]]:
        """Block until a connection ended; return the client's close code and reason."""
        with self._cond:
            if not self._cond.wait_for(lambda: bool(self.client_closes), timeout):
                raise TimeoutError(f"no connection ended within {timeout} s")
            return self.client_closes[-1]

    def received_json(self) -> List[Dict[str, Any]]:
        with self._cond:
            return [json.loads(message) for message in self.received]

    def send(self, message: Message, *, text: Optional[bool] = None) -> None:
        """Send one frame on the latest connection.

        ``text=True`` with bytes sends them as a text frame unchecked (for
        invalid UTF-8); ``text=False`` with str sends a binary frame.
        """
        self.wait_for_connection().send(message, text=text)

    def send_json(self, event: Dict[str, Any]) -> None:
        self.send(json.dumps(event))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the latest connection with ``code`` and ``reason``."""
        self.wait_for_connection().close(code, reason)

    # -- server side --------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Optional[Response]:
        headers = {name.lower(): value for name, value in request.headers.raw_items()}
        with self._cond:
            self.handshakes.append(Handshake(request.path, headers))
            self._cond.notify_all()
        if self.reject_status is None:
            return None
        body = json.dumps(self.reject_body).encode("utf-8")
        response_headers = Headers()
        response_headers["Content-Type"] = "application/json"
        response_headers["Content-Length"] = str(len(body))
        response_headers["Connection"] = "close"
        for name, value in self.reject_headers.items():
            response_headers[name] = value
        return Response(self.reject_status, "Rejected", response_headers, body)

    def _handle(self, connection: ServerConnection) -> None:
        with self._cond:
            self.connections.append(connection)
            self._cond.notify_all()
        if self.on_connect is not None:
            self.on_connect(connection)
        try:
            for message in connection:
                with self._cond:
                    self.received.append(message)
                    self._cond.notify_all()
        except ConnectionClosed:
            pass
        finally:
            close = connection.protocol.close_rcvd
            with self._cond:
                self.client_closes.append(
                    (close.code, close.reason) if close is not None else (None, None)
                )
                self._cond.notify_all()


@contextlib.contextmanager
def silent_listener() -> Iterator[str]:
    """A TCP port on 127.0.0.1 that accepts connections and never answers.

    Yields its ``ws://`` URL; a handshake against it can only time out.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@contextlib.contextmanager
def mute_server(
    chatter_every: Optional[float] = None,
    *,
    burst: Sequence[bytes] = (),
    ssl_context: Optional[ssl.SSLContext] = None,
) -> Iterator[str]:
    """A server that completes one WebSocket handshake, then reads and ignores everything.

    It never answers a close frame or a ping, so a client must give up on the
    closing handshake by itself. With ``chatter_every`` (seconds) it also
    sends a small event that often, so the connection is never quiet although
    pings go unanswered. ``burst`` payloads are sent as text frames right
    after the first event, all in one write (over TLS: in one record, when
    they fit in 16 kB). With ``ssl_context`` it serves ``wss://``. Yields its
    URL.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def serve() -> None:
        try:
            conn, _ = listener.accept()
            if ssl_context is not None:
                conn.settimeout(5.0)
                conn = ssl_context.wrap_socket(conn, server_side=True)
        except OSError:
            return
        with conn:
            if not _accept_handshake(conn):
                return
            # one unmasked text frame, so the client knows its loop is reading
            hello = b'{"type":"session.created","event_id":"event_mute"}'
            conn.sendall(bytes([0x81, len(hello)]) + hello)
            if burst:
                conn.sendall(b"".join(_server_frame(payload) for payload in burst))
            conn.settimeout(0.2 if chatter_every is None else chatter_every)
            chatter = b'{"type":"rate_limits.updated","event_id":"event_chatter","rate_limits":[]}'
            while not stop.is_set():
                try:
                    if not conn.recv(65536):
                        return
                except socket.timeout:
                    if chatter_every is not None:
                        try:
                            conn.sendall(bytes([0x81, len(chatter)]) + chatter)
                        except OSError:
                            return
                    continue
                except OSError:
                    return

    thread = threading.Thread(target=serve, name="fixture-mute-server", daemon=True)
    thread.start()
    try:
        scheme = "ws" if ssl_context is None else "wss"
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(5.0)


def _server_frame(payload: bytes) -> bytes:
    """One unmasked text frame (payloads up to 64 kB)."""
    if len(payload) < 126:
        return bytes([0x81, len(payload)]) + payload
    return bytes([0x81, 126]) + len(payload).to_bytes(2, "big") + payload


def server_frame(payload: bytes, opcode: int = 0x1, *, fin: bool = True, mask: Optional[bytes] = None) -> bytes:
    """One server frame of any length and opcode, masked with ``mask`` (4 bytes) if given."""
    first = (0x80 if fin else 0) | opcode
    length = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if length < 126:
        header = bytes([first, mask_bit | length])
    elif length < 65536:
        header = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    if mask is None:
        return header + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def read_client_frame(conn: socket.socket) -> Tuple[int, bytes]:
    """Read one (masked) client frame from ``conn``: ``(opcode, unmasked payload)``."""

    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = conn.recv(count - len(data))
            if not chunk:
                raise ConnectionError("the client closed the socket")
            data += chunk
        return data

    b0, b1 = exactly(2)
    length = b1 & 0x7F
    if length == 126:
        length = int.from_bytes(exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(exactly(8), "big")
    key = exactly(4) if b1 & 0x80 else b"\0\0\0\0"
    payload = exactly(length)
    return b0 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@contextlib.contextmanager
def _one_connection(
    handle: Callable[[socket.socket], None], scheme: str, name: str, stop: Optional[threading.Event] = None
) -> Iterator[str]:
    """Accept one TCP connection on 127.0.0.1 and give it to ``handle`` on a thread; yields the URL.

    On exit ``stop`` (if any) is set, the listener closed and the thread joined.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            handle(conn)

    thread = threading.Thread(target=serve, name=name, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        if stop is not None:
            stop.set()
        listener.close()
        thread.join(10.0)


def raw_server(script: Callable[[socket.socket], None]) -> "contextlib.AbstractContextManager[str]":
    """A server that completes one WebSocket handshake, then hands the socket to ``script``.

    ``script(conn)`` runs on the server's thread and writes whatever bytes the
    test needs (trickled frames, huge headers, a reset). The socket is closed
    when it returns. A context manager yielding the ``ws://`` URL.
    """

    def handle(conn: socket.socket) -> None:
        if _accept_handshake(conn):
            with contextlib.suppress(OSError):
                script(conn)

    return _one_connection(handle, "ws", "fixture-raw-server")


def tls_raw_server(
    server_tls: ssl.SSLContext,
    script: Callable[["MemoryTLS", socket.socket], None],
    stop: Optional[threading.Event] = None,
    name: str = "fixture-tls-raw-server",
) -> "contextlib.AbstractContextManager[str]":
    """:func:`raw_server` over TLS that the test writes record by record.

    After the TLS and WebSocket handshakes, ``script(tunnel, conn)`` runs on
    the server's thread: ``tunnel`` (a :class:`MemoryTLS`) encrypts, ``conn``
    is the TCP socket under it, so a test can send part of a record. The
    socket has a 5 s timeout. On exit ``stop`` (if any) is set first, so a
    script waiting on it ends. A context manager yielding the ``wss://`` URL.
    """

    def handle(conn: socket.socket) -> None:
        with contextlib.suppress(OSError, ConnectionError, ssl.SSLError):
            conn.settimeout(5.0)
            tunnel = MemoryTLS(conn, server_tls)
            tunnel.handshake()
            if _accept_handshake(tunnel):  # type: ignore[arg-type]
                script(tunnel, conn)

    return _one_connection(handle, "wss", name, stop)


def _accept_handshake(conn: socket.socket) -> bool:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096)
        if not chunk:
            return False
        request += chunk
    key = ""
    for line in request.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    conn.sendall(
        (
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        ).encode()
    )
    return True


class TunnelProxy:
    """An HTTP ``CONNECT`` proxy on 127.0.0.1 that tunnels every request to one port.

    Whatever host the client asks for, the tunnel goes to ``127.0.0.1:target_port``
    (so a test can connect to ``wss://myres.openai.azure.com`` and reach a
    local fixture server). Records each ``CONNECT`` target and the request
    headers (lower-cased names). With ``refuse_status`` it answers every
    request with that status instead.
    """

    def __init__(self, target_port: int, *, refuse_status: Optional[int] = None) -> None:
        self.target_port = target_port
        self.refuse_status = refuse_status
        self.requests: List[Tuple[str, Dict[str, str]]] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(8)
        self._threads: List[threading.Thread] = []
        self._sockets: List[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, name="fixture-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> "TunnelProxy":
        self._accepting.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OSError):  # wakes the accept() (close alone does not, on Linux)
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self._accepting.join(5.0)
        for thread in self._threads:
            thread.join(5.0)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            thread = threading.Thread(target=self._serve, args=(client,), name="fixture-proxy-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            try:
                chunk = client.recv(4096)
            except OSError:
                return
            if not chunk:
                return
            request += chunk
        head, _, rest = request.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self.requests.append((lines[0], headers))
        if self.refuse_status is not None:
            client.sendall(f"HTTP/1.1 {self.refuse_status} Refused\r\nContent-Length: 0\r\n\r\n".encode())
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        self._sockets.append(upstream)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            upstream.sendall(rest)
        pump = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        self._threads.append(pump)
        pump.start()
        _pump(client, upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def tls_contexts(*names: str) -> Iterator[Tuple[ssl.SSLContext, ssl.SSLContext]]:
    """A throw-away self-signed certificate for 127.0.0.1 (and DNS ``names``): ``(server, client)`` contexts.

    Made with the ``openssl`` command; yields nothing usable without it, so
    callers skip when :func:`shutil.which` finds no ``openssl``.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make a test certificate")
    with tempfile.TemporaryDirectory() as folder:
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        alt_names = "subjectAltName=" + ",".join(["IP:127.0.0.1"] + [f"DNS:{name}" for name in names])
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", alt_names,
             "-keyout", key, "-out", cert],
            check=True, capture_output=True, timeout=60,
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
        client = ssl.create_default_context(cafile=cert)
        yield server, client


class MemoryTLS:
    """The server side of a TLS connection over memory buffers, so that a test can send part of a record."""

    def __init__(self, conn: socket.socket, server_tls: ssl.SSLContext) -> None:
        self.conn = conn
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = server_tls.wrap_bio(self.incoming, self.outgoing, server_side=True)

    def _pump(self) -> None:
        self.conn.sendall(self.outgoing.read())
        chunk = self.conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        self.incoming.write(chunk)

    def handshake(self) -> None:
        while True:
            try:
                self.tls.do_handshake()
                self.conn.sendall(self.outgoing.read())
                return
            except ssl.SSLWantReadError:
                self._pump()

    def recv(self, size: int) -> bytes:
        while True:
            try:
                return self.tls.read(size)
            except ssl.SSLWantReadError:
                self._pump()

    def sendall(self, data: bytes) -> None:
        self.tls.write(data)
        self.conn.sendall(self.outgoing.read())

    def record(self, data: bytes) -> bytes:
        """``data`` encrypted (TLS records), not sent: the caller sends it as it likes."""
        self.tls.write(data)
        return self.outgoing.read()


def tls_record_trickler(
    server_tls: ssl.SSLContext, stop: threading.Event, every: float = 0.05
) -> "contextlib.AbstractContextManager[str]":
    """A ``wss://`` server that, once open, sends one event, then a TLS record (a 1000-byte text frame)
    one byte every ``every`` seconds, until ``stop``. A context manager yielding its URL."""

    def script(tunnel: MemoryTLS, conn: socket.socket) -> None:
        tunnel.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
        record = tunnel.record(server_frame(b'{"type":"x","pad":"' + b"x" * 970 + b'"}'))
        for index in range(len(record) - 1):  # all but its last byte
            if stop.wait(every):
                return
            conn.sendall(record[index:index + 1])
        stop.wait(30.0)

    return tls_raw_server(server_tls, script, stop, "fixture-tls-trickler")


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connecting is refused)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port
