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

__all__ = ["FixtureServer", "Handshake", "silent_listener", "mute_server", "closed_port"]

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
        on_connect: Optional[Callable[[ServerConnection], None]] = None,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.ssl_context = ssl_context
        self.reject_status = reject_status
        self.reject_body = reject_body
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
            ping_interval=None,
            ssl=self.ssl_context,
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
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            key = ""
            for line in request.decode("latin-1").split("\r\n"):
                name, _, value = line.partition(":")
                if name.strip().lower() == "sec-websocket-key":
                    key = value.strip()
            accept = base64.b64encode(
                hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
            ).decode()
            conn.sendall(
                (
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                ).encode()
            )
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


@contextlib.contextmanager
def tls_contexts() -> Iterator[Tuple[ssl.SSLContext, ssl.SSLContext]]:
    """A throw-away self-signed certificate for 127.0.0.1: ``(server, client)`` contexts.

    Made with the ``openssl`` command; yields nothing usable without it, so
    callers skip when :func:`shutil.which` finds no ``openssl``.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the openssl command is needed to make a test certificate")
    with tempfile.TemporaryDirectory() as folder:
        cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", key, "-out", cert],
            check=True, capture_output=True, timeout=60,
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert, key)
        client = ssl.create_default_context(cafile=cert)
        yield server, client


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (connecting is refused)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port
