"""The socket layer under attack and on bad networks, against real servers on 127.0.0.1.

Secrets (redirects, ws:// with a key, echoed keys, traceback locals, text
that cannot be encoded), liveness (trickled frames, slow callbacks, huge
frame headers, connections ending without a close code), Azure endpoints
and proxies. The fixture servers are in ``support_ws.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import socket
import struct
import sys
import threading
import time
import tracemalloc
from typing import Any, Callable, Dict, Iterator, List, Optional, Set
from urllib.parse import parse_qs, urlsplit

import pytest
from support_client import EventRecorder
from support_ws import (
    FixtureServer,
    TunnelProxy,
    closed_port,
    mute_server,
    raw_server,
    read_client_frame,
    server_frame,
    tls_contexts,
)

from realtime_sync.api import RealtimeAPI
from realtime_sync.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionClosedError,
    HandshakeError,
    InsecureTransportError,
    ProtocolError,
    RealtimeConnectionError,
    ServerError,
)

SECRET = "sk-test-Zq81SecretValueThatMustNeverLeak"


def needs_openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")


# -- secrets -------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_are_refused_and_nothing_is_sent_to_the_location(status: int) -> None:
    with FixtureServer() as elsewhere:
        elsewhere_url = elsewhere.url
        location = elsewhere_url + "/steal?token=" + SECRET
        with FixtureServer(reject_status=status, reject_headers={"Location": location}) as server:
            api = RealtimeAPI(server.url, api_key=SECRET)
            with pytest.raises(HandshakeError, match="redirect") as info:
                api.connect(timeout=5.0)
        assert elsewhere.handshakes == []  # the key never went there
    message = str(info.value)
    assert elsewhere_url + "/steal?token=%5Bsecure%5D" in message
    assert SECRET not in message
    assert info.value.status_code == status
    assert not api.is_connected()


@pytest.mark.parametrize("name", ["api-key", "token", "key", "access_token", "sig"])
def test_a_key_in_query_over_plain_ws_to_a_remote_host_is_refused(name: str) -> None:
    with pytest.raises(InsecureTransportError) as info:
        RealtimeAPI("ws://example.com/v1/realtime", query={name: SECRET})
    assert SECRET not in str(info.value)
    with pytest.raises(InsecureTransportError):
        RealtimeAPI("ws://example.com/v1/realtime", headers={"api-key": SECRET})
    # the same over TLS, to loopback, or a harmless parameter is fine
    RealtimeAPI("wss://example.com/v1/realtime", query={name: SECRET})
    RealtimeAPI("ws://127.0.0.1:9/", query={name: SECRET})
    RealtimeAPI("ws://example.com/", query={"api-version": "2024-10-01-preview"})


def test_a_key_echoed_in_a_server_error_event_is_masked_everywhere(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], caplog: pytest.LogCaptureFixture
) -> None:
    hooked: List[Dict[str, Any]] = []
    api = make_api(server.url, api_key=SECRET, debug=True, on_server_event=hooked.append)
    errors = EventRecorder().record_on(api, "server.error")
    others = EventRecorder().record_on(api, "server.response.text.delta")
    with caplog.at_level(logging.DEBUG):
        api.connect(timeout=5.0)
        server.send_json({"type": "error", "event_id": "event_1", "error": {
            "type": "invalid_request_error", "code": "invalid_api_key",
            "message": f"Incorrect API key provided: {SECRET}.", "param": None, "event_id": None,
            "details": [f"Bearer {SECRET}"],
        }})
        event = errors.wait("server.error", 1)[0]
        # other events are not touched (the hot path does not pay for masking)
        server.send_json({"type": "response.text.delta", "event_id": "event_2", "delta": "hello"})
        assert others.wait("server.response.text.delta", 1)[0]["delta"] == "hello"
    assert event["error"]["message"] == "Incorrect API key provided: [secure]."
    assert event["error"]["details"] == ["Bearer [secure]"]
    assert event["error"]["code"] == "invalid_api_key"
    assert hooked[0] is event  # the owner's hook saw the masked event too
    error = ServerError(event["error"])
    assert SECRET not in str(error) and SECRET not in repr(error.error)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("realtime_sync"))
    assert "event_id=event_1" in logged and SECRET not in logged


def _frame_locals_holding(exc: BaseException, secret: str) -> List[str]:
    """Where ``secret`` shows in the locals of the traceback frames of ``exc`` and its chain."""
    found: List[str] = []
    seen: Set[int] = set()

    def shows(value: Any, depth: int = 0) -> bool:
        if depth > 4:
            return False
        try:
            text = repr(value)
        except Exception:
            return False
        if secret in text:
            return True
        if isinstance(value, dict):
            return any(shows(k, depth + 1) or shows(v, depth + 1) for k, v in value.items())
        if isinstance(value, (list, tuple, set)):
            return any(shows(v, depth + 1) for v in value)
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict) and depth < 2:
            return any(shows(v, depth + 1) for v in attributes.values())
        return False

    chain: Optional[BaseException] = exc
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        tb = chain.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            for name, value in frame.f_locals.items():
                if shows(value):
                    found.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}:{name}")
            tb = tb.tb_next
        chain = chain.__cause__ or chain.__context__
    return found


@pytest.mark.parametrize("failure", ["http 401", "refused", "redirect"])
def test_no_traceback_frame_local_holds_the_key_after_a_failed_connect(failure: str) -> None:
    caught: Optional[BaseException] = None
    if failure == "refused":
        api = RealtimeAPI(f"ws://127.0.0.1:{closed_port()}/?api-key={SECRET}", api_key=SECRET)
        try:
            api.connect(timeout=5.0)
        except RealtimeConnectionError as exc:
            caught = exc
    else:
        options: Dict[str, Any] = {"reject_status": 401, "reject_body": {"error": {"message": "no"}}}
        if failure == "redirect":
            options = {"reject_status": 302, "reject_headers": {"Location": "ws://127.0.0.1:9/x"}}
        with FixtureServer(**options) as server:
            api = RealtimeAPI(server.url, api_key=SECRET, headers={"api-key": SECRET})
            try:
                api.connect(timeout=5.0)
            except RealtimeConnectionError as exc:
                caught = exc
    assert caught is not None
    assert caught.__cause__ is not None or failure == "redirect"  # websocket-client's error is chained
    assert _frame_locals_holding(caught, SECRET) == []


def test_text_that_cannot_be_utf8_is_a_configuration_error_and_nothing_is_written(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    sent = EventRecorder().record_on(api, "client.*")
    api.connect(timeout=5.0)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "bad \ud800 text"}]}
    with pytest.raises(ConfigurationError, match="UTF-8"):
        api.send("conversation.item.create", {"item": item})
    assert sent.of("client.*") == []
    api.send("response.create")
    assert [json.loads(m)["type"] for m in server.wait_for_messages(1)] == ["response.create"]
    assert api.is_connected()


# -- liveness ------------------------------------------------------------------------


def _trickle(every: float, stop: threading.Event) -> Callable[[socket.socket], None]:
    """A server script: one event, then a 1000-byte frame one byte every ``every`` s."""

    def script(conn: socket.socket) -> None:
        conn.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
        conn.sendall(bytes([0x81, 126]) + (1000).to_bytes(2, "big"))
        conn.settimeout(every)
        while not stop.is_set():
            conn.sendall(b" ")
            try:
                if conn.recv(65536) == b"":
                    return
            except socket.timeout:
                pass

    return script


@pytest.mark.parametrize(
    "options, reason",
    [
        ({"ping_interval": None, "frame_timeout": 0.6}, "frame timed out"),
        ({"ping_interval": 0.4, "ping_timeout": 0.3, "frame_timeout": None}, "ping/pong timed out"),
    ],
    ids=["frame deadline", "pong deadline"],
)
def test_a_frame_trickling_in_does_not_keep_the_connection_alive(options: Dict[str, Any], reason: str) -> None:
    stop = threading.Event()
    with raw_server(_trickle(0.05, stop)) as url:
        api = RealtimeAPI(url, **options)
        closes = EventRecorder().record_on(api, "close")
        try:
            api.connect(timeout=5.0)
            started = time.monotonic()
            payload = closes.wait("close", 1, timeout=10.0)[0]
            assert time.monotonic() - started < 3.0
            assert payload["error"] is True and payload["code"] is None
            assert payload["reason"].startswith(reason)
        finally:
            stop.set()
            api.disconnect()


_NO_LOW_WATER = [  # as on platforms where the socket's low-water mark is not used (not Linux)
    pytest.param(False, False, id="own thread, no low-water mark"),
    pytest.param(True, False, id="shared loop, no low-water mark"),
]


@pytest.mark.parametrize(
    "on_loop, low_water",
    [pytest.param(False, True, id="own thread"), pytest.param(True, True, id="shared loop")] + _NO_LOW_WATER,
)
def test_a_tls_record_trickling_in_a_byte_at_a_time_is_cut_off_by_the_frame_timeout(
    on_loop: bool, low_water: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes of a TLS record still arriving count as the message's first: a read must not wait for the rest."""
    from support_ws import tls_record_trickler

    from realtime_sync import ReceiveLoop
    from realtime_sync._transport import tls

    needs_openssl()
    monkeypatch.setattr(tls, "_LOW_WATER", tls._LOW_WATER and low_water)
    stop = threading.Event()
    with tls_contexts() as (server_tls, client_tls), ReceiveLoop() as loop, tls_record_trickler(server_tls, stop) as url:
        api = RealtimeAPI(url, ssl_context=client_tls, ping_interval=None, frame_timeout=0.6,
                          receive_loop=loop if on_loop else None)
        closes = EventRecorder().record_on(api, "close")
        try:
            api.connect(timeout=5.0)
            started = time.monotonic()
            payload = closes.wait("close", 1, timeout=8.0)[0]
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            api.disconnect()
    assert payload["error"] is True and payload["code"] is None
    assert payload["reason"].startswith("frame timed out"), payload
    assert elapsed < 0.6 + 3.0, elapsed


def _split_record_server(server_tls: Any, stop: threading.Event, trials: int, sent: List[float]) -> Any:
    """A ``wss://`` server that, once open, sends ``trials`` times one TLS record (a ~16 KB event) in two
    TCP pieces 5 ms apart, 60 ms between two records; ``sent`` gets the time of each second piece."""
    from support_ws import tls_raw_server

    def script(tunnel: Any, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        tunnel.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
        for _ in range(trials):
            record = tunnel.record(server_frame(b'{"type":"delta","delta":"' + b"A" * 16000 + b'"}'))
            if stop.wait(0.06):
                return
            conn.sendall(record[: len(record) // 2])
            if stop.wait(0.005):
                return
            sent.append(time.monotonic())
            conn.sendall(record[len(record) // 2 :])
        stop.wait(30.0)

    return tls_raw_server(server_tls, script, stop, "fixture-split-record")


@pytest.mark.parametrize(
    "on_loop, low_water",
    [pytest.param(False, True, id="own thread"), pytest.param(True, True, id="shared loop")] + _NO_LOW_WATER,
)
def test_a_tls_record_in_two_tcp_pieces_is_delivered_as_its_last_piece_arrives(
    on_loop: bool, low_water: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record's first TCP segment must not put the read to sleep: the event comes as the rest arrives.

    Without the socket's low-water mark (other platforms) the events still all come, up to a nap late.
    """
    from realtime_sync import ReceiveLoop
    from realtime_sync._transport import tls

    needs_openssl()
    if low_water and not tls._LOW_WATER:
        pytest.skip("the socket's low-water mark (SO_RCVLOWAT) is used on Linux only")
    monkeypatch.setattr(tls, "_LOW_WATER", low_water)
    trials = 7
    stop = threading.Event()
    sent: List[float] = []
    arrived: List[float] = []
    done = threading.Event()

    def on_delta(event: Dict[str, Any]) -> None:
        arrived.append(time.monotonic())
        if len(arrived) == trials:
            done.set()

    with tls_contexts() as (server_tls, client_tls), ReceiveLoop() as loop, \
            _split_record_server(server_tls, stop, trials, sent) as url:
        api = RealtimeAPI(url, ssl_context=client_tls, ping_interval=None, frame_timeout=5.0,
                          receive_loop=loop if on_loop else None)
        api.on("server.delta", on_delta)
        try:
            api.connect(timeout=5.0)
            assert done.wait(20.0), arrived
        finally:
            stop.set()
            api.disconnect()
    delays = [got - put for got, put in zip(arrived, sent)]
    if low_water:
        # best of seven: a 20 ms nap would show in every trial, CPU load only in some
        assert min(delays) < 0.008, [f"{delay * 1000:.1f} ms" for delay in delays]


def _half_record_server(server_tls: Any, closed_at: Optional[List[float]]) -> Any:
    """A ``wss://`` server that, once open, sends one event, then half a TLS record, then closes 0.3 s
    later (``closed_at`` gets the time), or with ``closed_at`` ``None`` stalls until the test ends."""
    from support_ws import tls_raw_server

    stop = threading.Event()

    def script(tunnel: Any, conn: socket.socket) -> None:
        tunnel.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
        time.sleep(0.2)
        record = tunnel.record(server_frame(b'{"type":"x","pad":"' + b"x" * 2000 + b'"}'))
        conn.sendall(record[: len(record) // 2])
        if closed_at is None:
            stop.wait(10.0)
            return
        time.sleep(0.3)
        closed_at.append(time.monotonic())
        conn.shutdown(socket.SHUT_RDWR)

    return tls_raw_server(server_tls, script, stop, "fixture-half-record")


@pytest.mark.parametrize("on_loop", [False, True], ids=["own thread", "shared loop"])
def test_a_server_closing_halfway_through_a_tls_record_ends_the_connection_at_once(on_loop: bool) -> None:
    """Half a record, then the server closes: no deadline is needed to see the end (none is set here)."""
    from realtime_sync import ReceiveLoop

    needs_openssl()
    closed_at: List[float] = []
    with tls_contexts() as (server_tls, client_tls), ReceiveLoop() as loop, \
            _half_record_server(server_tls, closed_at) as url:
        api = RealtimeAPI(url, ssl_context=client_tls, ping_interval=None, frame_timeout=None,
                          receive_loop=loop if on_loop else None)
        closes = EventRecorder().record_on(api, "close", "error")
        try:
            api.connect(timeout=5.0)
            payload = closes.wait("close", 1, timeout=8.0)[0]
            ended = time.monotonic()
        finally:
            api.disconnect()
    assert payload["error"] is True and payload["code"] is None, payload
    assert ended - closed_at[0] < 2.0, ended - closed_at[0]
    assert [name for name, _ in closes.events] == ["close"], closes.events


@pytest.mark.parametrize("on_loop", [False, True], ids=["own thread", "shared loop"])
def test_disconnect_while_half_a_tls_record_waits_ends_cleanly(on_loop: bool) -> None:
    """The close begun here shuts the socket down under the reader: it ends, and reads no raw TLS bytes as frames."""
    from realtime_sync import ReceiveLoop

    needs_openssl()
    with tls_contexts() as (server_tls, client_tls), ReceiveLoop() as loop, \
            _half_record_server(server_tls, None) as url:
        api = RealtimeAPI(url, ssl_context=client_tls, ping_interval=None, frame_timeout=None,
                          receive_loop=loop if on_loop else None)
        closes = EventRecorder().record_on(api, "close", "error")
        try:
            api.connect(timeout=5.0)
            time.sleep(0.5)  # the half record is in; the server answers nothing more
            started = time.monotonic()
            api.disconnect()
            took = time.monotonic() - started
        finally:
            api.disconnect()
    assert took < 3.0, took  # the close grace (1 s), not the 5 s wait for a receive thread that never ends
    assert [name for name, _ in closes.events] == ["close"], closes.events


def test_disconnect_ends_a_connection_halfway_through_a_tls_record_with_no_deadline_set() -> None:
    """No ping, no frame_timeout: a read waiting for the rest of a TLS record must still see the close begun."""
    from support_ws import tls_record_trickler

    needs_openssl()
    stop = threading.Event()
    with tls_contexts() as (server_tls, client_tls), tls_record_trickler(server_tls, stop) as url:
        api = RealtimeAPI(url, ssl_context=client_tls, ping_interval=None, frame_timeout=None)
        closes = EventRecorder().record_on(api, "close")
        try:
            api.connect(timeout=5.0)
            conn = api._conn
            assert conn is not None and conn._receiver is not None
            deadline = time.monotonic() + 5.0
            while conn._receiver.reader.partial_since is None and time.monotonic() < deadline:
                time.sleep(0.01)  # part of the record has come
            assert conn._receiver.reader.partial_since is not None
            api.disconnect(timeout=5.0)
            conn.thread.join(5.0)
            assert not conn.thread.is_alive()  # the receive thread saw the close deadline and ended
            assert len(closes.wait("close", 1, timeout=5.0)) == 1
        finally:
            stop.set()
            api.disconnect()


def _post_handshake_server(server_tls: Any, stop: threading.Event, ticks: bool) -> Any:
    """A ``wss://`` server that, once open, sends one event, then a TLS 1.3 post-handshake message on
    its own (a request for the client's certificate: a whole record holding no data), then nothing for
    2.5 s, then the event ``late``; with ``ticks``, instead an event ``tick`` every 0.1 s (no such
    message), each carrying the time it was sent."""
    import ssl

    from support_ws import tls_raw_server

    def script(tunnel: Any, conn: socket.socket) -> None:
        tunnel.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
        if ticks:
            for _ in range(30):
                if stop.wait(0.1):
                    return
                tunnel.sendall(server_frame(json.dumps({"type": "tick", "sent": time.monotonic()}).encode()))
            stop.wait(10.0)
            return
        time.sleep(0.2)
        tunnel.tls.verify_client_post_handshake()
        with contextlib.suppress(ssl.SSLWantReadError):
            tunnel.tls.do_handshake()  # sends the request now, alone
        conn.sendall(tunnel.outgoing.read())
        if stop.wait(2.5):
            return
        tunnel.sendall(server_frame(b'{"type":"late","event_id":"event_2"}'))
        stop.wait(10.0)

    return tls_raw_server(server_tls, script, stop, "fixture-post-handshake")


@contextlib.contextmanager
def _post_handshake_contexts() -> Iterator[Any]:
    import ssl

    needs_openssl()
    if not getattr(ssl, "HAS_TLSv1_3", False):
        pytest.skip("TLS 1.3 is needed for a post-handshake message")
    with tls_contexts() as (server_tls, client_tls):
        server_tls.verify_mode = ssl.CERT_OPTIONAL
        server_tls.post_handshake_auth = True
        client_tls.post_handshake_auth = True  # a user's context may allow it; the server then may ask at any time
        yield server_tls, client_tls


@pytest.mark.parametrize("on_loop", [False, True], ids=["own thread", "shared loop"])
def test_a_tls_record_holding_no_data_does_not_block_the_read(on_loop: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole TLS 1.3 record with no application data in it (a key update, a late session ticket, a
    certificate request) alone: the read must not wait inside the TLS layer for the next record (it did,
    for the socket's whole timeout, then ended the connection: 'timed out')."""
    from realtime_sync import ReceiveLoop
    from realtime_sync._transport import config

    monkeypatch.setattr(config, "IO_TIMEOUT", 1.0)  # the socket's timeout with no ping (30 s)
    stop = threading.Event()
    with _post_handshake_contexts() as (server_tls, client_tls), ReceiveLoop() as loop, \
            _post_handshake_server(server_tls, stop, ticks=False) as url:
        api = RealtimeAPI(url, ssl_context=client_tls, ping_interval=None, frame_timeout=None,
                          receive_loop=loop if on_loop else None)
        events = EventRecorder().record_on(api, "server.late", "close")
        try:
            api.connect(timeout=5.0)
            events.wait("server.late", 1, timeout=8.0)
        finally:
            stop.set()
            api.disconnect()
    assert [name for name, _ in events.events][:1] == ["server.late"], events.events


def test_a_tls_record_holding_no_data_does_not_stall_a_shared_loop() -> None:
    """The other connections of a ReceiveLoop go on while one of them gets a record holding no data."""
    from realtime_sync import ReceiveLoop

    stop = threading.Event()
    delays: List[float] = []
    with _post_handshake_contexts() as (server_tls, client_tls), ReceiveLoop() as loop, \
            _post_handshake_server(server_tls, stop, ticks=False) as quiet_url, \
            _post_handshake_server(server_tls, stop, ticks=True) as ticking_url:
        quiet = RealtimeAPI(quiet_url, ssl_context=client_tls, ping_interval=None, frame_timeout=None, receive_loop=loop)
        ticking = RealtimeAPI(ticking_url, ssl_context=client_tls, ping_interval=None, frame_timeout=None,
                              receive_loop=loop)
        ticking.on("server.tick", lambda event: delays.append(time.monotonic() - event["sent"]))
        late = EventRecorder().record_on(quiet, "server.late")
        try:
            quiet.connect(timeout=5.0)
            ticking.connect(timeout=5.0)
            late.wait("server.late", 1, timeout=8.0)
        finally:
            stop.set()
            quiet.disconnect()
            ticking.disconnect()
    assert len(delays) >= 10, delays
    assert sorted(delays)[len(delays) // 2] < 0.5, [f"{delay:.2f}" for delay in delays]  # median: load spares it


def test_slow_callbacks_do_not_close_a_healthy_ponging_connection(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    """Two 1.5 s callbacks, a ping outstanding during the second, ping_timeout 0.3 s."""
    api = make_api(server.url, ping_interval=0.5, ping_timeout=0.3)
    started = threading.Event()
    done = EventRecorder()

    def slow(event: Dict[str, Any]) -> None:
        started.set()
        threading.Event().wait(1.5)  # the user's slow work on the receive thread
        done.callback("done")(event)

    api.on("server.slow", slow)
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    server.send_json({"type": "slow", "event_id": "event_1"})
    assert started.wait(5.0)
    server.send_json({"type": "slow", "event_id": "event_2"})  # read (and a ping sent) after the first callback
    server.send_json({"type": "slow", "event_id": "event_3"})
    assert [e["event_id"] for e in done.wait("done", 3, timeout=10.0)] == ["event_1", "event_2", "event_3"]
    assert closes.of("close") == [] and api.is_connected()


def test_a_frame_header_over_max_frame_size_is_refused_before_its_payload() -> None:
    client_frames: List[Any] = []
    blob = b"A" * (4 * 1024 * 1024)

    def script(conn: socket.socket) -> None:
        declared = 8 * 1024**3  # 8 GiB
        conn.sendall(bytes([0x81, 127]) + struct.pack("!Q", declared) + b'{"type": "x"')
        conn.settimeout(5.0)
        for _ in range(8):  # 32 MiB more, as fast as the client takes it
            try:
                conn.sendall(blob)
            except OSError:
                break
        with pytest.raises(Exception):  # noqa: B017 - read until the client's close frame
            while True:
                client_frames.append(read_client_frame(conn))

    with raw_server(script) as url:
        api = RealtimeAPI(url, max_frame_size=1024 * 1024)
        errors = EventRecorder().record_on(api, "error")
        closes = EventRecorder().record_on(api, "close")
        tracemalloc.start()
        try:
            api.connect(timeout=5.0)
            payload = closes.wait("close", 1, timeout=10.0)[0]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
            api.disconnect()
    assert payload == {"error": True, "code": 1009, "reason": "message too big"}
    assert len(errors.of("error")) == 1
    reported = errors.of("error")[0]
    assert isinstance(reported["error"], ProtocolError) and "max_frame_size" in str(reported["error"])
    assert "8589934592" in str(reported["error"])
    assert peak < 8 * 1024 * 1024  # nothing of the 8 GiB (or the 32 MiB sent) was kept
    assert client_frames and client_frames[0][0] == 0x8
    assert int.from_bytes(client_frames[0][1][:2], "big") == 1009


def _reset(conn: socket.socket) -> None:
    conn.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
    conn.recv(1)  # the test's send() below says when
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _fin(conn: socket.socket) -> None:
    conn.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
    read_client_frame(conn)  # the whole frame: unread bytes would turn the close into a reset
    conn.shutdown(socket.SHUT_WR)
    conn.settimeout(5.0)
    while conn.recv(65536):
        pass


@pytest.mark.parametrize(
    "script, reason",
    [(_reset, "connection reset by peer"), (_fin, "the server closed the TCP connection without a close frame")],
    ids=["RST", "FIN"],
)
def test_an_end_without_close_code_carries_its_reason(script: Callable[[socket.socket], None], reason: str) -> None:
    with raw_server(script) as url:
        api = RealtimeAPI(url)
        created = EventRecorder().record_on(api, "server.session.created")
        closes = EventRecorder().record_on(api, "close")
        try:
            api.connect(timeout=5.0)
            created.wait("server.session.created", 1)
            failures: List[BaseException] = []

            def waiter() -> None:
                try:
                    api.wait_for_next("server.response.done", timeout=10.0)
                except BaseException as exc:
                    failures.append(exc)

            thread = threading.Thread(target=waiter)
            thread.start()
            threading.Event().wait(0.1)  # let the waiter register (it raises either way)
            api.send("response.create")  # tells the script to end the connection
            payload = closes.wait("close", 1, timeout=5.0)[0]
            thread.join(5.0)
        finally:
            api.disconnect()
    assert payload == {"error": True, "code": None, "reason": reason}
    assert len(failures) == 1 and isinstance(failures[0], ConnectionClosedError)
    assert failures[0].reason == reason and reason in str(failures[0])


def test_a_missing_pong_names_the_ping_timeout_in_the_error() -> None:
    with mute_server() as url:
        api = RealtimeAPI(url, ping_interval=0.2, ping_timeout=0.1)
        closes = EventRecorder().record_on(api, "close")
        api.connect(timeout=5.0)
        payload = closes.wait("close", 1, timeout=5.0)[0]
        api.disconnect()
    assert payload == {"error": True, "code": None, "reason": "ping/pong timed out: no pong within 0.1 s"}


def _deaf(stop: threading.Event, received: Optional[List[bytes]] = None) -> Callable[[socket.socket], None]:
    """A server script: one event, then it reads nothing until ``stop``; then it reads to the end into ``received``."""

    def script(conn: socket.socket) -> None:
        conn.sendall(server_frame(b'{"type":"session.created","event_id":"event_1"}'))
        stop.wait(30.0)
        if received is not None:
            conn.settimeout(10.0)
            while True:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    return
                received.append(chunk)

    return script


def _fill(sock: socket.socket, until: threading.Event) -> None:
    """Keep ``sock``'s send buffer full (raw bytes: the deaf server reads none of them) until ``until`` is set."""
    chunk = b"\0" * 65536
    while not until.is_set():
        try:
            while sock.send(chunk, socket.MSG_DONTWAIT):
                pass
        except BlockingIOError:
            until.wait(0.01)  # full: top it up as soon as the kernel has sent anything on
        except OSError:
            return


@pytest.mark.skipif(not hasattr(socket, "MSG_DONTWAIT"), reason="fills the socket with MSG_DONTWAIT")
@pytest.mark.parametrize("on_loop", [False, True], ids=["own thread", "shared loop"])
def test_a_server_that_stops_reading_is_caught_by_the_ping_timeout(on_loop: bool) -> None:
    """The ping cannot even be sent (the socket's buffer stays full): it still counts, and its pong never comes."""
    from realtime_sync import ReceiveLoop

    stop, filled = threading.Event(), threading.Event()
    with ReceiveLoop() as loop, raw_server(_deaf(stop)) as url:
        api = RealtimeAPI(url, ping_interval=1.0, ping_timeout=0.5, receive_loop=loop if on_loop else None)
        closes = EventRecorder().record_on(api, "close")
        filler = None
        try:
            api.connect(timeout=5.0)
            started = time.monotonic()
            filler = threading.Thread(target=_fill, args=(api._conn._sock, filled), daemon=True)  # type: ignore[union-attr]
            filler.start()
            payload = closes.wait("close", 1, timeout=8.0)[0]  # it never came: the dropped ping did not count
            elapsed = time.monotonic() - started
        finally:
            filled.set()
            stop.set()
            if filler is not None:
                filler.join(5.0)
            api.disconnect()
    assert payload["error"] is True and payload["code"] is None
    assert payload["reason"].startswith("ping/pong timed out: no pong within 0.5 s"), payload
    assert elapsed < 1.5 + 3.0, elapsed  # ping_interval + ping_timeout, and room for a loaded machine


@pytest.mark.parametrize("on_loop", [False, True], ids=["own thread", "shared loop"])
def test_a_send_that_times_out_halfway_ends_the_connection_and_nothing_follows_it(
    monkeypatch: pytest.MonkeyPatch, on_loop: bool
) -> None:
    from realtime_sync import ReceiveLoop
    from realtime_sync._transport import config as config_module
    from realtime_sync.errors import NotConnectedError, RealtimeTimeoutError

    monkeypatch.setattr(config_module, "IO_TIMEOUT", 0.5)
    stop = threading.Event()
    received: List[bytes] = []
    text = "x" * (16 << 20)  # more than the socket buffers on both sides hold: part of it goes out
    with ReceiveLoop() as loop, raw_server(_deaf(stop, received)) as url:
        api = RealtimeAPI(url, ping_interval=None, receive_loop=loop if on_loop else None)
        closes = EventRecorder().record_on(api, "close")
        try:
            api.connect(timeout=5.0)
            with pytest.raises(RealtimeTimeoutError, match="with part of it sent: the connection was closed"):
                api.send("conversation.item.create", {"item": {"type": "message", "text": text}})
            payload = closes.wait("close", 1, timeout=5.0)[0]
            assert not api.is_connected()
            with pytest.raises(NotConnectedError):
                api.send("response.create")
        finally:
            stop.set()
            api.disconnect()
    assert payload["error"] is True and payload["code"] is None
    assert payload["reason"].startswith("send timed out: 'conversation.item.create' was only partly sent"), payload
    # what the server got: the first part of that one frame, then the end (no other frame's bytes after it)
    data = b"".join(received)
    assert data[:2] == bytes([0x81, 0x80 | 127])
    declared = struct.unpack("!Q", data[2:10])[0]
    assert 0 < len(data) - 14 < declared


@pytest.mark.skipif(
    not (sys.platform.startswith("linux") and hasattr(socket, "MSG_DONTWAIT")),
    reason="what a timed-out send wrote is known on Linux plain sockets (kernel timeouts)",
)
def test_a_send_that_times_out_with_nothing_written_leaves_the_connection_open(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_sync._transport import config as config_module
    from realtime_sync.errors import RealtimeTimeoutError

    monkeypatch.setattr(config_module, "IO_TIMEOUT", 0.5)
    stop = threading.Event()
    with raw_server(_deaf(stop)) as url:
        api = RealtimeAPI(url, ping_interval=None)
        closes = EventRecorder().record_on(api, "close")
        try:
            api.connect(timeout=5.0)
            sock = api._conn._sock  # type: ignore[union-attr]
            chunk = b"\0" * 65536  # raw bytes the deaf server never reads, until the socket takes no more
            quiet, deadline = 0, time.monotonic() + 20.0
            while quiet < 3 and time.monotonic() < deadline:  # the kernel took nothing three times in a row
                taken = 0
                with contextlib.suppress(BlockingIOError):
                    while True:
                        taken += sock.send(chunk, socket.MSG_DONTWAIT)
                quiet = quiet + 1 if taken == 0 else 0
                time.sleep(0.1)  # what the server's side still had room for moves on meanwhile
            assert quiet == 3, "the socket kept taking bytes"
            with pytest.raises(RealtimeTimeoutError, match=r"accepted nothing for 0.5 s$"):
                api.send("response.create")
            time.sleep(0.3)
            assert api.is_connected() and closes.of("close") == []
        finally:
            stop.set()
            api.disconnect()


def test_server_pings_are_answered_with_their_payload_and_masked_server_frames_are_read() -> None:
    pongs: List[Any] = []
    answered = threading.Event()

    def script(conn: socket.socket) -> None:
        conn.sendall(server_frame(b"are you there", 0x9))
        conn.sendall(server_frame(b'{"type":"masked.event","event_id":"e1"}', mask=b"\x11\x22\x33\x44"))
        conn.settimeout(5.0)
        pongs.append(read_client_frame(conn))
        answered.set()
        read_client_frame(conn)  # the close frame

    with raw_server(script) as url:
        api = RealtimeAPI(url)
        events = EventRecorder().record_on(api, "server.*")
        try:
            api.connect(timeout=5.0)
            assert answered.wait(5.0)
            assert events.wait("server.*", 1)[0] == {"type": "masked.event", "event_id": "e1"}
        finally:
            api.disconnect()
    assert pongs == [(0xA, b"are you there")]


@pytest.mark.parametrize("value", [0, -1, "5", True])
def test_a_bad_frame_timeout_is_a_configuration_error(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="frame_timeout"):
        RealtimeAPI("ws://127.0.0.1:9/", frame_timeout=value)


# -- Azure ---------------------------------------------------------------------------

AZURE_HOST = "myres.openai.azure.com"


@pytest.fixture
def azure() -> Iterator[Any]:
    """A TLS fixture server reached as any *.azure.com host through a tunnelling proxy."""
    needs_openssl()
    names = (AZURE_HOST, "myres.cognitiveservices.azure.com")
    with tls_contexts(*names) as (server_tls, client_tls), FixtureServer(ssl_context=server_tls) as server:
        with TunnelProxy(server.port) as proxy:

            class Azure:
                def __init__(self) -> None:
                    self.server, self.proxy, self.client_tls = server, proxy, client_tls

                def api(self, url: str, **options: Any) -> RealtimeAPI:
                    return RealtimeAPI(url, proxy=proxy.url, ssl_context=client_tls, **options)

            yield Azure()


def test_azure_ga_endpoint_defaults_to_ga_with_the_deployment_as_model_and_an_api_key_header(azure: Any) -> None:
    for host in ("myres.openai.azure.com", "myres.cognitiveservices.azure.com"):
        api = azure.api(f"wss://{host}/openai/v1/realtime", api_key=SECRET)
        assert api.protocol == "ga"
        try:
            api.connect(model="my-deployment", timeout=5.0)
        finally:
            api.disconnect()
        handshake = azure.server.handshakes[-1]
        assert urlsplit(handshake.path).path == "/openai/v1/realtime"
        assert parse_qs(urlsplit(handshake.path).query) == {"model": ["my-deployment"]}
        assert handshake.headers["api-key"] == SECRET
        assert "authorization" not in handshake.headers and "openai-beta" not in handshake.headers
        assert azure.proxy.requests[-1][0] == f"CONNECT {host}:443 HTTP/1.1"
    with pytest.raises(ConfigurationError, match="deployment"):
        azure.api(f"wss://{AZURE_HOST}/openai/v1/realtime", api_key=SECRET).connect(timeout=5.0)


def test_azure_deployment_url_is_beta_and_gets_no_model(azure: Any) -> None:
    url = f"wss://{AZURE_HOST}/openai/realtime?api-version=2024-10-01-preview&deployment=dep"
    api = azure.api(url, api_key=SECRET)
    assert api.protocol == "beta"
    try:
        api.connect(timeout=5.0)
    finally:
        api.disconnect()
    handshake = azure.server.handshakes[-1]
    assert parse_qs(urlsplit(handshake.path).query) == {"api-version": ["2024-10-01-preview"], "deployment": ["dep"]}
    assert handshake.headers["api-key"] == SECRET and "authorization" not in handshake.headers


def test_azure_key_from_the_environment_and_a_401_hint_naming_the_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    needs_openssl()
    body = {"error": {"message": "Access denied due to invalid subscription key."}}
    with tls_contexts(AZURE_HOST) as (server_tls, client_tls):
        with FixtureServer(reject_status=401, reject_body=body, ssl_context=server_tls) as server:
            with TunnelProxy(server.port) as proxy:
                url = f"wss://{AZURE_HOST}/openai/v1/realtime?model=dep"
                monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
                with pytest.raises(AuthenticationError) as from_env:
                    RealtimeAPI(url, proxy=proxy.url, ssl_context=client_tls).connect(timeout=5.0)
                assert server.handshakes[-1].headers["api-key"] == SECRET
                monkeypatch.delenv("AZURE_OPENAI_API_KEY")
                with pytest.raises(AuthenticationError) as given:
                    RealtimeAPI(url, SECRET, proxy=proxy.url, ssl_context=client_tls).connect(timeout=5.0)
    assert "api-key header" in str(from_env.value) and "AZURE_OPENAI_API_KEY" in str(from_env.value)
    assert "api-key header" in str(given.value)
    assert "environment" not in str(given.value) and "OPENAI_API_KEY" not in str(given.value)
    assert "Authorization" not in str(given.value)


def test_a_401_hint_names_authorization_and_no_env_var_for_a_given_key() -> None:
    with FixtureServer(reject_status=401, reject_body={"error": {"message": "bad key"}}) as server:
        with pytest.raises(AuthenticationError) as info:
            RealtimeAPI(server.url, api_key=SECRET).connect(timeout=5.0)
    assert "Authorization header" in str(info.value) and "OPENAI_API_KEY" not in str(info.value)


# -- proxies -------------------------------------------------------------------------


def test_an_explicit_proxy_carries_the_connection_and_its_credentials(server: FixtureServer) -> None:
    with TunnelProxy(server.port) as proxy:
        proxied = proxy.url.replace("http://", "http://user:pr0xy-pa55@")
        api = RealtimeAPI("ws://realtime.test/v1/realtime", proxy=proxied)
        try:
            api.connect(timeout=5.0)
            api.send("response.create")
            assert json.loads(server.wait_for_messages(1)[0])["type"] == "response.create"
        finally:
            api.disconnect()
    line, headers = proxy.requests[0]
    assert line == "CONNECT realtime.test:80 HTTP/1.1"
    assert headers["proxy-authorization"].startswith("Basic ")
    assert "pr0xy-pa55" not in repr(api) and "pr0xy-pa55" not in str(vars(api))


def test_the_environment_proxy_is_honoured(server: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> None:
    with TunnelProxy(server.port) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        api = RealtimeAPI("ws://realtime.test/v1/realtime")
        try:
            api.connect(timeout=5.0)
        finally:
            api.disconnect()
    assert proxy.requests[0][0] == "CONNECT realtime.test:80 HTTP/1.1"


def test_a_proxy_that_fails_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(RealtimeConnectionError, match="proxy") as explicit:
        RealtimeAPI("ws://realtime.test/", proxy=dead).connect(timeout=5.0)
    assert dead in str(explicit.value) and "realtime.test" not in str(explicit.value).split("proxy")[0]
    monkeypatch.setenv("https_proxy", dead)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with pytest.raises(RealtimeConnectionError, match="proxy") as from_env:
        RealtimeAPI("wss://realtime.test/").connect(timeout=5.0)
    assert dead in str(from_env.value)
    with TunnelProxy(9, refuse_status=403) as refusing:
        refusing_url = refusing.url
        with pytest.raises(RealtimeConnectionError, match="proxy") as refused:
            RealtimeAPI("ws://realtime.test/", proxy=refusing_url).connect(timeout=5.0)
    assert refusing_url in str(refused.value) and "403" in str(refused.value)


@pytest.mark.parametrize("proxy", ["ftp://host:1", "http://", "", 5])
def test_a_bad_proxy_is_a_configuration_error(proxy: Any) -> None:
    with pytest.raises(ConfigurationError, match="proxy"):
        RealtimeAPI("ws://127.0.0.1:9/", proxy=proxy)
