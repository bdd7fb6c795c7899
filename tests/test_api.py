"""Tests for realtime_sync.api.RealtimeAPI against a real WebSocket server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import logging
import re
import shutil
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest
from support_client import EventRecorder, SignalingWaiters
from support_ws import FixtureServer, closed_port, mute_server, silent_listener, tls_contexts

from realtime_sync.api import DEFAULT_URL, RECEIVE_THREAD_NAME, RealtimeAPI, generate_id
from realtime_sync.errors import (
    AuthenticationError,
    ConfigurationError,
    ConnectionClosedError,
    HandshakeError,
    InsecureTransportError,
    NotConnectedError,
    ProtocolError,
    RealtimeConnectionError,
    RealtimeError,
    RealtimeTimeoutError,
)

SECRET = "sk-test-Zq81SecretValueThatMustNeverLeak"
EVENT_ID = re.compile(r"^evt_[1-9A-HJ-NP-Za-km-z]{17}$")


# With pings (the default) the receive loop wakes for them and judges pongs;
# without, it may sleep until data comes: closing behaviour must not depend on which.
RECEIVE_MODES = pytest.mark.parametrize(
    "mode", [{}, {"ping_interval": None}], ids=["back-to-back reads", "poll before each frame"]
)


def client_log(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log line except the fixture server's own (logger ``websockets.*``).

    websocket-client (logger ``websocket``) is included.
    """
    return "\n".join(
        caplog.handler.format(r) for r in caplog.records if not r.name.startswith("websockets")
    )


def built(api: RealtimeAPI, model: Optional[str]) -> Tuple[str, Optional[str]]:
    """The URL ``connect(model)`` would open, revealed, and the model it names."""
    url, named = api._target(model)
    return url.reveal(), named


def recv_threads() -> List[threading.Thread]:
    return [
        t for t in threading.enumerate() if t.name == RECEIVE_THREAD_NAME or "_send_ping" in t.name
    ]


# -- handshake -----------------------------------------------------------------


def test_headers_and_query_string(server: FixtureServer, make_api: Callable[..., RealtimeAPI]) -> None:
    api = make_api(
        server.url + "/v1/realtime?deployment=my%20dep&model=old",
        api_key=SECRET,
        headers={"X-Extra": "yes"},
        query={"api-version": "2024-10-01-preview"},
        protocol="beta",
    )
    assert api.connect(model="gpt-4o-realtime-preview-2024-12-17", timeout=5.0) is True
    handshake = server.handshakes[0]
    parts = urlsplit(handshake.path)
    assert parts.path == "/v1/realtime"
    assert parse_qs(parts.query) == {
        "deployment": ["my dep"],
        "api-version": ["2024-10-01-preview"],
        "model": ["gpt-4o-realtime-preview-2024-12-17"],
    }
    assert handshake.headers["authorization"] == f"Bearer {SECRET}"
    assert handshake.headers["openai-beta"] == "realtime=v1"
    assert handshake.headers["x-extra"] == "yes"


def test_model_is_url_encoded(server: FixtureServer, make_api: Callable[..., RealtimeAPI]) -> None:
    api = make_api(server.url + "/v1/realtime")
    api.connect(model="odd model&x=1", timeout=5.0)
    assert parse_qs(urlsplit(server.handshakes[0].path).query) == {"model": ["odd model&x=1"]}


def test_model_none_keeps_url_query_and_header_none_removes_default(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url + "/rt?model=from-url", headers={"OpenAI-Beta": None, "api-key": "azure"})
    api.connect(model=None, timeout=5.0)
    handshake = server.handshakes[0]
    assert parse_qs(urlsplit(handshake.path).query) == {"model": ["from-url"]}
    assert "openai-beta" not in handshake.headers
    assert "authorization" not in handshake.headers  # no key for a non-OpenAI host
    assert handshake.headers["api-key"] == "azure"


def test_protocol_defaults_to_ga_at_openai_and_at_the_ga_path() -> None:
    openai = RealtimeAPI(api_key=SECRET)
    assert openai.protocol == "ga"
    assert not any(line.lower().startswith("openai-beta") for line in openai._header_lines())
    assert built(openai, None) == (DEFAULT_URL + "?model=gpt-realtime", "gpt-realtime")
    assert RealtimeAPI("wss://API.OpenAI.com/v1/realtime", api_key=SECRET).protocol == "ga"
    # a server at OpenAI's GA path (the simulator, relays mirroring OpenAI) speaks GA
    local = RealtimeAPI("ws://127.0.0.1:9/v1/realtime")
    assert local.protocol == "ga"
    assert not any(line.lower().startswith("openai-beta") for line in local._header_lines())
    assert built(local, None)[1] == "gpt-realtime"
    assert RealtimeAPI("wss://example.com/openai-proxy/v1/realtime/").protocol == "ga"
    # any other path keeps the reference client's beta dialect
    for url in ("wss://example.com/relay", "ws://127.0.0.1:9/", "ws://127.0.0.1:9"):
        other = RealtimeAPI(url)
        assert other.protocol == "beta", url
        assert "OpenAI-Beta: realtime=v1" in other._header_lines()
    # an explicit choice wins either way
    beta = RealtimeAPI(api_key=SECRET, protocol="beta")
    assert "OpenAI-Beta: realtime=v1" in beta._header_lines()
    assert built(beta, None)[1] == "gpt-4o-realtime-preview-2024-10-01"
    assert RealtimeAPI("ws://127.0.0.1:9/", protocol="ga").protocol == "ga"
    assert RealtimeAPI("ws://127.0.0.1:9/v1/realtime", protocol="beta").protocol == "beta"


@pytest.mark.parametrize("protocol", ["GA", "v1", "", 1])
def test_unknown_protocol_is_a_configuration_error(protocol: Any) -> None:
    with pytest.raises(ConfigurationError, match="protocol"):
        RealtimeAPI("ws://127.0.0.1:9/", protocol=protocol)


def test_ga_connection_sends_no_beta_header_and_ga_shaped_events(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url + "/v1/realtime", api_key=SECRET, protocol="ga")
    sent = EventRecorder().record_on(api, "client.session.update")
    raw = EventRecorder().record_on(api, "server.response.output_text.delta")
    assert api.connect(timeout=5.0) is True
    handshake = server.handshakes[0]
    assert "openai-beta" not in handshake.headers
    assert handshake.headers["authorization"] == f"Bearer {SECRET}"
    assert parse_qs(urlsplit(handshake.path).query) == {"model": ["gpt-realtime"]}

    # the caller speaks the beta model; the wire gets the GA shape
    event = api.send("session.update", {"session": {
        "modalities": ["text", "audio"], "voice": "alloy", "input_audio_format": "pcm16",
        "output_audio_format": "g711_ulaw", "instructions": "Be brief.",
    }})
    (frame,) = server.wait_for_messages(1)
    on_wire = json.loads(frame)
    assert on_wire == event and sent.of("client.session.update") == [event]  # returned and dispatched as written
    assert EVENT_ID.match(on_wire["event_id"])
    assert on_wire["session"] == {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "Be brief.",
        "audio": {
            "input": {"format": {"type": "audio/pcm", "rate": 24000}},
            "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"},
        },
    }
    # events GA shares with beta go out unchanged
    assert api.send("response.cancel")["type"] == "response.cancel"
    assert json.loads(server.wait_for_messages(2)[1])["type"] == "response.cancel"
    # the receive path dispatches the raw wire event, GA name and all
    delta = {"type": "response.output_text.delta", "event_id": "event_1", "response_id": "r",
             "item_id": "i", "output_index": 0, "content_index": 0, "delta": "Hi"}
    server.send_json(delta)
    assert raw.wait("server.response.output_text.delta", 1) == [delta]


def test_beta_connection_keeps_the_beta_wire(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url, protocol="beta")
    assert api.protocol == "beta"
    api.connect(timeout=5.0)
    handshake = server.handshakes[0]
    assert handshake.headers["openai-beta"] == "realtime=v1"
    assert parse_qs(urlsplit(handshake.path).query) == {"model": ["gpt-4o-realtime-preview-2024-10-01"]}
    session = {"modalities": ["text", "audio"], "voice": "alloy", "input_audio_format": "pcm16",
               "temperature": 0.7}
    event = api.send("session.update", {"session": session})
    assert json.loads(server.wait_for_messages(1)[0]) == event
    assert event["session"] == session


def test_ga_send_with_an_untranslatable_session_raises_and_sends_nothing(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url, protocol="ga")
    api.connect(timeout=5.0)
    sent = EventRecorder().record_on(api, "client.*")
    with pytest.raises(ConfigurationError):
        api.send("session.update", {"session": {"input_audio_format": "mp3"}})
    api.send("response.create")
    assert [json.loads(m)["type"] for m in server.wait_for_messages(1)] == ["response.create"]
    assert [e["type"] for e in sent.of("client.*")] == ["response.create"]


def test_key_defaults_to_environment_only_for_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    openai = RealtimeAPI()
    assert openai._header_lines()[0] == f"Authorization: Bearer {SECRET}"
    other = RealtimeAPI("ws://127.0.0.1:1/")
    assert not any(line.startswith("Authorization") for line in other._header_lines())
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        RealtimeAPI().connect()


def test_key_over_plain_ws_to_remote_host_is_refused() -> None:
    with pytest.raises(InsecureTransportError) as info:
        RealtimeAPI("ws://example.com/v1/realtime", api_key=SECRET)
    assert SECRET not in str(info.value)
    with pytest.raises(InsecureTransportError):
        RealtimeAPI("ws://example.com/", headers={"api-key": SECRET})
    with pytest.raises(InsecureTransportError):
        RealtimeAPI("ws://example.com/?api-key=" + SECRET)
    # loopback and TLS are fine; so is plain ws:// without a key
    RealtimeAPI("ws://127.0.0.1:9/", api_key=SECRET)
    RealtimeAPI("ws://localhost:9/", api_key=SECRET)
    RealtimeAPI("ws://[::1]:9/", api_key=SECRET)
    RealtimeAPI("wss://example.com/", api_key=SECRET)
    RealtimeAPI("ws://example.com/")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "http://example.com/"},
        {"url": "wss:///nohost"},
        {"url": "ws://127.0.0.1:1/", "api_key": "sk-bad\r\nX-Injected: 1"},
        {"url": "ws://127.0.0.1:1/", "headers": {"X-A": "b\nc"}},
        {"url": "ws://127.0.0.1:1/", "ping_interval": 5, "ping_timeout": 5},
        {"url": "ws://127.0.0.1:1/", "max_frame_size": 0},
        # no number of seconds: the receive loop would die on them (OverflowError) or never time out
        {"url": "ws://127.0.0.1:1/", "ping_interval": float("inf")},
        {"url": "ws://127.0.0.1:1/", "ping_interval": float("nan")},
        {"url": "ws://127.0.0.1:1/", "ping_timeout": float("inf")},
        {"url": "ws://127.0.0.1:1/", "frame_timeout": float("inf")},
        {"url": "ws://127.0.0.1:1/", "frame_timeout": float("nan")},
    ],
)
def test_bad_configuration_is_rejected(kwargs: Dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RealtimeAPI(**kwargs)


@pytest.mark.parametrize("timeout", [float("inf"), float("nan"), 0, -1, 1e10])
def test_connect_refuses_a_timeout_that_is_no_number_of_seconds(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="timeout"):
        RealtimeAPI("ws://127.0.0.1:1/").connect(timeout=timeout)


def test_url_property_and_repr_hide_credentials() -> None:
    api = RealtimeAPI("wss://user:pw@example.com/rt?api-key=" + SECRET + "&deployment=d", api_key=SECRET)
    assert SECRET not in api.url and "pw" not in api.url
    assert "deployment=d" in api.url
    assert SECRET not in repr(api)
    assert SECRET not in repr(vars(api))


# -- connection failures -------------------------------------------------------


def test_http_401_gives_authentication_error_fast() -> None:
    body = {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}
    with FixtureServer(reject_status=401, reject_body=body) as server:
        api = RealtimeAPI(server.url, api_key=SECRET)
        started = time.monotonic()
        with pytest.raises(AuthenticationError) as info:
            api.connect(timeout=5.0)
        assert time.monotonic() - started < 2.0
    error = info.value
    assert error.status_code == 401
    assert "Incorrect API key provided." in str(error) and "API key" in str(error)
    assert "invalid_api_key" in error.body
    assert SECRET not in str(error) and SECRET not in error.body
    assert not api.is_connected()
    assert not recv_threads()


def test_http_500_gives_handshake_error_with_server_message() -> None:
    with FixtureServer(reject_status=503, reject_body={"error": {"message": "overloaded"}}) as server:
        with pytest.raises(HandshakeError) as info:
            RealtimeAPI(server.url).connect(timeout=5.0)
    assert not isinstance(info.value, AuthenticationError)
    assert info.value.status_code == 503 and "overloaded" in str(info.value)


def test_refused_port_fails_fast_and_clearly() -> None:
    api = RealtimeAPI(f"ws://127.0.0.1:{closed_port()}/")
    started = time.monotonic()
    with pytest.raises(RealtimeConnectionError, match="refused") as info:
        api.connect(timeout=5.0)
    assert time.monotonic() - started < 2.0
    assert type(info.value) is RealtimeConnectionError
    assert isinstance(info.value, ConnectionError)
    assert not recv_threads()


def test_dns_failure_names_the_host() -> None:
    with pytest.raises(RealtimeConnectionError, match="resolve host 'nonexistent.invalid'"):
        RealtimeAPI("ws://nonexistent.invalid/v1/realtime").connect(timeout=10.0)
    assert not recv_threads()


def test_handshake_timeout_raises_realtime_timeout_error() -> None:
    with silent_listener() as url:
        api = RealtimeAPI(url)
        started = time.monotonic()
        with pytest.raises(RealtimeTimeoutError, match="timed out") as info:
            api.connect(timeout=0.3)
        assert 0.25 <= time.monotonic() - started < 3.0
        assert isinstance(info.value, TimeoutError)
        assert not api.is_connected()
        for thread in recv_threads():
            thread.join(5.0)
        assert not recv_threads()


def test_tls_failure_is_named(server: FixtureServer) -> None:
    url = server.url.replace("ws://", "wss://")
    with pytest.raises(RealtimeConnectionError, match="TLS"):
        RealtimeAPI(url).connect(timeout=5.0)


def test_connect_twice_raises_and_reconnect_after_disconnect_works(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    api.connect(timeout=5.0)
    with pytest.raises(RealtimeConnectionError, match="already connected"):
        api.connect(timeout=5.0)
    api.disconnect()
    assert not api.is_connected()
    api.connect(timeout=5.0)
    assert api.is_connected()
    server.wait_for_connection(count=2)
    api.send("response.create")
    assert json.loads(server.wait_for_messages(1)[0])["type"] == "response.create"


# -- send and receive ----------------------------------------------------------


def test_send_adds_id_and_type_dispatches_client_events_and_writes_one_frame(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    order: List[str] = []
    api.on("client.response.create", lambda e: order.append("client.response.create"))
    api.on("client.*", lambda e: order.append("client.*"))
    api.connect(timeout=5.0)
    event = api.send("response.create", {"response": {"modalities": ["text"]}})
    assert EVENT_ID.match(event["event_id"])
    assert event["type"] == "response.create"
    assert order == ["client.response.create", "client.*"]
    assert server.wait_for_messages(1) and server.received_json() == [event]
    # a caller-chosen event_id is kept
    mine = api.send("input_audio_buffer.clear", {"event_id": "evt_mine"})
    assert mine["event_id"] == "evt_mine"
    assert server.wait_for_messages(2)[1] == '{"event_id":"evt_mine","type":"input_audio_buffer.clear"}'


def test_send_rejects_bad_data(server: FixtureServer, make_api: Callable[..., RealtimeAPI]) -> None:
    api = make_api(server.url)
    api.connect(timeout=5.0)
    sent = EventRecorder().record_on(api, "client.*")
    with pytest.raises(ConfigurationError):
        api.send("session.update", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="JSON"):
        api.send("session.update", {"session": {"bad": object()}})
    with pytest.raises(ConfigurationError, match="type"):
        api.send("session.update", {"type": "response.create"})
    assert sent.of("client.*") == []  # nothing dispatched for rejected events
    api.send("response.create")
    assert len(server.wait_for_messages(1)) == 1


def test_send_when_not_connected_raises(server: FixtureServer) -> None:
    api = RealtimeAPI(server.url)
    with pytest.raises(NotConnectedError):
        api.send("response.create")
    api.connect(timeout=5.0)
    api.disconnect()
    with pytest.raises(NotConnectedError):
        api.send("response.create")


def test_server_events_dispatched_as_type_then_wildcard_on_receive_thread(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    order: List[str] = []
    api.on("server.session.created", lambda e: order.append("server.session.created"))
    api.on("server.*", lambda e: order.append("server.*:" + e["type"]))
    everything = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    server.send_json({"type": "session.created", "event_id": "event_1", "session": {}})
    server.send_json({"type": "output_audio_buffer.started", "event_id": "event_2"})  # not in the beta spec
    events = everything.wait("server.*", 2)
    assert order == ["server.session.created", "server.*:session.created", "server.*:output_audio_buffer.started"]
    assert [e["event_id"] for e in events] == ["event_1", "event_2"]
    assert [t.name for t in everything.threads] == [RECEIVE_THREAD_NAME] * 2


def test_on_server_event_runs_first_and_a_raising_hook_is_logged(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], caplog: pytest.LogCaptureFixture
) -> None:
    order: List[str] = []

    def hook(event: Dict[str, Any]) -> None:
        order.append("hook:" + event["event_id"])
        assert threading.current_thread().name == RECEIVE_THREAD_NAME
        if event["event_id"] == "event_bad":
            raise RuntimeError("hook bug")

    api = make_api(server.url, on_server_event=hook)
    api.on("server.session.created", lambda e: order.append("type:" + e["event_id"]))
    api.on("server.*", lambda e: order.append("*:" + e["event_id"]))
    everything = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    with caplog.at_level(logging.ERROR, logger="realtime_sync.api"):
        for event_id in ("event_1", "event_bad", "event_3"):
            server.send_json({"type": "session.created", "event_id": event_id})
        everything.wait("server.*", 3)
    assert order == [
        "hook:event_1", "type:event_1", "*:event_1",
        "hook:event_bad", "type:event_bad", "*:event_bad",  # the listeners still run
        "hook:event_3", "type:event_3", "*:event_3",
    ]
    logged = [r for r in caplog.records if r.exc_info and "hook bug" in str(r.exc_info[1])]
    assert len(logged) == 1 and "on_server_event" in logged[0].getMessage()
    assert api.is_connected()
    with pytest.raises(ConfigurationError):
        RealtimeAPI(server.url, on_server_event="not callable")  # type: ignore[arg-type]


def test_eight_threads_sending_concurrently_lose_and_interleave_nothing(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    api.connect(timeout=5.0)
    threads_count, per_thread = 8, 200
    audio = base64.b64encode(bytes(range(256)) * 8).decode("ascii")  # frames of ~2.8 kB
    start = threading.Barrier(threads_count)
    failures: List[BaseException] = []

    def sender(index: int) -> None:
        try:
            start.wait(5.0)
            for seq in range(per_thread):
                api.send("input_audio_buffer.append", {"audio": audio, "thread": index, "seq": seq})
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30.0)
    assert not failures
    server.wait_for_messages(threads_count * per_thread, timeout=30.0)
    events = server.received_json()  # every frame parses: nothing interleaved
    assert len(events) == threads_count * per_thread
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["audio"] == audio for e in events)
    for index in range(threads_count):
        assert [e["seq"] for e in events if e["thread"] == index] == list(range(per_thread))


def test_garbage_frames_are_reported_and_the_loop_goes_on(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api(server.url)
    errors = EventRecorder().record_on(api, "error")
    good = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    with caplog.at_level(logging.WARNING, logger="realtime_sync.api"):
        server.send("this is not json")
        server.send(b"\xff\xfe{not utf-8", text=True)
        server.send("[1, 2, 3]")
        server.send('{"no_type": true}')
        server.send("x" * 5000)
        server.send_json({"type": "session.created", "event_id": "event_ok"})
        assert good.wait("server.*", 1)[0]["event_id"] == "event_ok"
    reported = errors.wait("error", 5)
    assert len(reported) == 5
    for payload in reported:
        assert set(payload) == {"error", "event", "client_event", "raw"}
        assert isinstance(payload["error"], ProtocolError)
        assert payload["client_event"] is None
        assert isinstance(payload["raw"], str) and len(payload["raw"]) <= 200
    assert reported[0]["raw"] == "this is not json"
    assert reported[3]["event"] == {"no_type": True}
    assert reported[4]["raw"] == "x" * 200
    assert api.is_connected()
    assert len([r for r in caplog.records if r.name == "realtime_sync.api"]) == 5


@pytest.mark.parametrize("opener, closer", [("[", "]"), ('{"a":', "}")])
def test_json_nested_too_deeply_gives_one_error_dispatch_and_the_loop_goes_on(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], opener: str, closer: str
) -> None:
    api = make_api(server.url)
    errors = EventRecorder().record_on(api, "error")
    good = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    deep = '{"type": "x.deep", "event_id": "e1", "v": ' + opener * 5000 + "1" * (opener == '{"a":') + closer * 5000 + "}"
    server.send(deep)
    server.send_json({"type": "session.created", "event_id": "event_ok"})
    try:
        json.loads(deep)
    except RecursionError:  # this interpreter's json cannot parse it (3.13's can): one error, then on
        pass
    else:  # valid JSON this json parses: delivered as any event, and the loop goes on
        assert [e["event_id"] for e in good.wait("server.*", 2)] == ["e1", "event_ok"] and errors.of("error") == []
        return
    assert good.wait("server.*", 1)[0]["event_id"] == "event_ok"
    (payload,) = errors.wait("error", 1)
    assert isinstance(payload["error"], ProtocolError) and "nested too deeply" in str(payload["error"])
    assert payload["raw"] == deep[:200]
    assert api.is_connected()


def test_frames_parse_exactly_as_json_loads(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    """The receive path's raw_decode fast path gives json.loads's results and errors."""
    frames = [
        ' {"type": "a.leading_space", "event_id": "e1"}',
        '{"type": "a.trailing_space", "event_id": "e2"} \r\n',
        '{"type": "a.extra", "event_id": "e3"} {"type": "x"}',
        '\ufeff{"type": "a.bom", "event_id": "e4"}',
        '{"type": "a.nested", "event_id": "e5", "x": [1, 2.5, null, true, {"k": "\\u00e9"}]}',
        '{"type": "a.cut", "event_id": "e6"',
        '{"type": "a.duplicate", "type": "a.last", "event_id": "e7"}',
    ]
    expected: List[Any] = []
    messages: List[str] = []
    for frame in frames:
        try:
            expected.append(json.loads(frame))
        except ValueError as exc:
            expected.append(None)
            messages.append(str(exc))
    assert expected.count(None) == 3  # extra data, BOM, cut short
    api = make_api(server.url)
    errors = EventRecorder().record_on(api, "error")
    events = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    for frame in frames:
        server.send(frame)
    server.send_json({"type": "session.created", "event_id": "event_end"})
    received = events.wait("server.*", 5)
    assert received[:-1] == [event for event in expected if event is not None]
    reported = errors.wait("error", 3)
    assert [payload["raw"] for payload in reported] == [
        frame for frame, event in zip(frames, expected) if event is None
    ]
    for payload, message in zip(reported, messages):  # json.loads's own error text
        assert f"({message})" in str(payload["error"])


def test_raising_callback_is_logged_and_the_loop_goes_on(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], caplog: pytest.LogCaptureFixture
) -> None:
    api = make_api(server.url)

    def broken(event: Dict[str, Any]) -> None:
        raise ValueError("callback bug")

    api.on("server.*", broken)
    after = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    with caplog.at_level(logging.ERROR):
        server.send_json({"type": "a", "event_id": "1"})
        server.send_json({"type": "b", "event_id": "2"})
        assert [e["type"] for e in after.wait("server.*", 2)] == ["a", "b"]
    logged = [
        r for r in caplog.records if r.exc_info is not None and "callback bug" in str(r.exc_info[1])
    ]
    assert len(logged) == 2 and all(r.name == "realtime_sync.events" for r in logged)
    assert api.is_connected()


def test_ten_megabyte_frame_is_accepted(server: FixtureServer, make_api: Callable[..., RealtimeAPI]) -> None:
    api = make_api(server.url)
    got = EventRecorder().record_on(api, "server.response.audio.delta")
    api.connect(timeout=5.0)
    delta = "A" * (10 * 1024 * 1024)
    server.send_json({"type": "response.audio.delta", "event_id": "big", "delta": delta})
    event = got.wait("server.response.audio.delta", 1, timeout=30.0)[0]
    assert len(event["delta"]) == len(delta)


def test_frame_over_max_frame_size_is_reported_and_closes_1009(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url, max_frame_size=1000)
    errors = EventRecorder().record_on(api, "error")
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    server.send_json({"type": "x", "event_id": "e", "delta": "B" * 2000})
    reported = errors.wait("error", 1)[0]
    assert isinstance(reported["error"], ProtocolError) and "max_frame_size" in str(reported["error"])
    assert reported["raw"].startswith('{"type": "x"') and len(reported["raw"]) == 200
    assert closes.wait("close", 1)[0] == {"error": True, "code": 1009, "reason": "message too big"}
    assert server.wait_for_client_close()[0] == 1009


# -- closing ---------------------------------------------------------------------


@RECEIVE_MODES
def test_server_close_dispatches_close_once_with_code_and_reason(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], mode: Dict[str, Any]
) -> None:
    api = make_api(server.url, **mode)
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    server.close(4000, "The Realtime Beta API is no longer supported.")
    assert closes.wait("close", 1) == [
        {"error": True, "code": 4000, "reason": "The Realtime Beta API is no longer supported."}
    ]
    assert not api.is_connected()
    with pytest.raises(NotConnectedError):
        api.send("response.create")
    api.disconnect()
    api.disconnect()
    assert len(closes.of("close")) == 1
    assert not recv_threads()


def test_server_normal_close_is_not_an_error(server: FixtureServer, make_api: Callable[..., RealtimeAPI]) -> None:
    api = make_api(server.url)
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    server.close(1000, "bye")
    assert closes.wait("close", 1) == [{"error": False, "code": 1000, "reason": "bye"}]


@RECEIVE_MODES
def test_connection_lost_is_an_error_close(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], mode: Dict[str, Any]
) -> None:
    api = make_api(server.url, **mode)
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    server.wait_for_connection().close_socket()  # TCP closed, no closing handshake
    payload = closes.wait("close", 1)[0]
    assert payload["error"] is True and payload["code"] is None
    assert isinstance(payload["reason"], str) and payload["reason"]
    assert not api.is_connected()


def test_missing_pong_ends_the_connection() -> None:
    """ping_interval/ping_timeout are honoured: a peer that never answers pings is dropped."""
    with mute_server() as url:
        api = RealtimeAPI(url, ping_interval=0.2, ping_timeout=0.1)
        closes = EventRecorder().record_on(api, "close")
        started = time.monotonic()
        api.connect(timeout=5.0)
        payload = closes.wait("close", 1, timeout=10.0)[0]
        assert payload["error"] is True and "ping/pong" in payload["reason"]
        assert time.monotonic() - started < 2.5  # no wait for a close answer from a dead peer
        api.disconnect()
        assert not recv_threads()


def test_unanswered_pings_end_a_connection_that_keeps_receiving() -> None:
    """The pong check runs between frames too, not only when the socket is quiet."""
    with mute_server(chatter_every=0.05) as url:
        api = RealtimeAPI(url, ping_interval=0.3, ping_timeout=0.2)
        closes = EventRecorder().record_on(api, "close")
        chatter = EventRecorder().record_on(api, "server.rate_limits.updated")
        api.connect(timeout=5.0)
        payload = closes.wait("close", 1, timeout=10.0)[0]
        assert payload["error"] is True and "ping/pong" in payload["reason"]
        assert len(chatter.of("server.rate_limits.updated")) >= 3  # frames kept arriving until the end
        api.disconnect()
        assert not recv_threads()


def test_quiet_connection_with_answered_pings_stays_open(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    """Silence longer than the socket timeout (interval + timeout) is fine while pongs arrive."""
    # ping_timeout is what a loaded machine may take to answer a ping (0.25 s was seen to run out);
    # the silence is still longer than interval + timeout (1.9 s), and two pings are answered in it.
    api = make_api(server.url, ping_interval=1.0, ping_timeout=0.9)
    closed = threading.Event()
    api.on("close", lambda event: closed.set())
    received = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    assert not closed.wait(2.5)  # longer than a socket timeout without a server event
    assert api.is_connected()
    server.send_json({"type": "session.created", "event_id": "event_late"})
    assert received.wait("server.*", 1)[0]["event_id"] == "event_late"


def test_quiet_connection_without_pings_stays_open(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    """Without pings nothing bounds silence; the frame deadline does not apply to it."""
    api = make_api(server.url, ping_interval=None, frame_timeout=0.2)
    closed = threading.Event()
    api.on("close", lambda event: closed.set())
    received = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    assert not closed.wait(1.0)
    assert api.is_connected()
    server.send_json({"type": "session.created", "event_id": "event_late"})
    assert received.wait("server.*", 1)[0]["event_id"] == "event_late"
    started = time.monotonic()
    api.disconnect()
    assert time.monotonic() - started < 1.0 and not recv_threads()
    assert closed.is_set()


@RECEIVE_MODES
def test_server_close_during_a_stream_is_seen_at_once(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], mode: Dict[str, Any]
) -> None:
    api = make_api(server.url, **mode)
    closes = EventRecorder().record_on(api, "close")
    received = EventRecorder().record_on(api, "server.*")
    api.connect(timeout=5.0)
    for index in range(200):
        server.send_json({"type": "response.audio.delta", "event_id": f"event_{index}", "delta": "AAAA"})
    started = time.monotonic()
    server.close(4000, "bye")
    assert closes.wait("close", 1)[0] == {"error": True, "code": 4000, "reason": "bye"}
    assert time.monotonic() - started < 1.0
    assert len(received.of("server.*")) == 200


@RECEIVE_MODES
def test_tls_stream_arrives_whole_in_both_receive_modes(mode: Dict[str, Any]) -> None:
    """Over wss://, records TLS has already decrypted are read without waiting for the socket."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    with tls_contexts() as (server_tls, client_tls), FixtureServer(ssl_context=server_tls) as server:
        api = RealtimeAPI(server.url, api_key=SECRET, ssl_context=client_tls, **mode)
        received = EventRecorder().record_on(api, "server.*")
        closes = EventRecorder().record_on(api, "close")
        try:
            api.connect(timeout=5.0)
            assert server.handshakes[0].headers["authorization"] == f"Bearer {SECRET}"
            server.wait_for_connection()
            # one burst, many small records: TLS reads ahead of what the socket shows
            for index in range(300):
                server.send_json({"type": "response.text.delta", "event_id": f"e{index}",
                                  "delta": "x" * (index % 50)})
            events = received.wait("server.*", 300, timeout=5.0)
            assert [e["event_id"] for e in events] == [f"e{i}" for i in range(300)]
            api.send("response.create")
            assert json.loads(server.wait_for_messages(1)[0])["type"] == "response.create"
        finally:
            api.disconnect()
        assert closes.of("close") == [{"error": False, "code": 1000, "reason": None}]
        assert not recv_threads()


@RECEIVE_MODES
def test_tls_frames_buffered_in_one_record_are_all_read(mode: Dict[str, Any]) -> None:
    """Frames TLS has decrypted ahead of the socket are read without waiting for more data."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a test certificate")
    burst = [json.dumps({"type": "response.text.delta", "event_id": f"e{i}", "delta": "x"}).encode()
             for i in range(100)]
    assert len(b"".join(burst)) < 16000  # one TLS record
    with tls_contexts() as (server_tls, client_tls), mute_server(burst=burst, ssl_context=server_tls) as url:
        api = RealtimeAPI(url, ssl_context=client_tls, **mode)
        received = EventRecorder().record_on(api, "server.*")
        try:
            api.connect(timeout=5.0)
            events = received.wait("server.*", 101, timeout=5.0)
            assert [e["event_id"] for e in events[1:]] == [f"e{i}" for i in range(100)]
        finally:
            api.disconnect()
        assert not recv_threads()


def test_disconnect_is_idempotent_and_leaves_no_thread(server: FixtureServer) -> None:
    api = RealtimeAPI(server.url, ping_interval=5.0, ping_timeout=2.0)
    closes = EventRecorder().record_on(api, "close")
    api.disconnect()  # never connected: nothing to do
    api.connect(timeout=5.0)
    assert api.is_connected()
    assert [t.name for t in recv_threads()].count(RECEIVE_THREAD_NAME) == 1
    # one thread per connection: the receive thread also sends the pings
    assert not any("ping" in t.name for t in threading.enumerate())
    started = time.monotonic()
    api.disconnect()
    assert time.monotonic() - started < 3.0
    api.disconnect()
    assert not api.is_connected()
    assert not recv_threads()
    assert closes.of("close") == [{"error": False, "code": 1000, "reason": None}]
    assert server.wait_for_client_close()[0] == 1000


@RECEIVE_MODES
def test_disconnect_from_another_thread(server: FixtureServer, mode: Dict[str, Any]) -> None:
    api = RealtimeAPI(server.url, **mode)
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    threads = [threading.Thread(target=api.disconnect) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10.0)
    assert closes.wait("close", 1) and len(closes.of("close")) == 1
    assert not recv_threads()


@RECEIVE_MODES
def test_disconnect_from_inside_a_callback(server: FixtureServer, mode: Dict[str, Any]) -> None:
    api = RealtimeAPI(server.url, **mode)
    closes = EventRecorder().record_on(api, "close")
    returned = threading.Event()

    def on_event(event: Dict[str, Any]) -> None:
        api.disconnect()  # must not join its own thread
        returned.set()

    api.on("server.session.created", on_event)
    api.connect(timeout=5.0)
    server.send_json({"type": "session.created", "event_id": "e"})
    assert returned.wait(5.0)
    assert closes.wait("close", 1) == [{"error": False, "code": 1000, "reason": None}]
    assert server.wait_for_client_close()[0] == 1000
    for thread in recv_threads():
        thread.join(5.0)
    assert not recv_threads()


@RECEIVE_MODES
def test_disconnect_when_server_never_answers_the_close(mode: Dict[str, Any]) -> None:
    """A server that ignores our close frame: disconnect() still ends the thread soon."""
    with mute_server() as url:
        api = RealtimeAPI(url, **mode)
        closes = EventRecorder().record_on(api, "close")
        hello = EventRecorder().record_on(api, "server.session.created")
        api.connect(timeout=5.0)
        hello.wait("server.session.created", 1)  # the loop is reading
        started = time.monotonic()
        api.disconnect(timeout=5.0)
        # it waits briefly for an answer, then shuts the socket down
        assert time.monotonic() - started < 4.0
        assert not recv_threads()
        assert closes.wait("close", 1) == [{"error": False, "code": 1000, "reason": None}]


# -- waits, threads, logging -----------------------------------------------------


def test_wait_for_next_woken_by_server_event_and_refused_on_receive_thread(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    inside: List[Any] = []

    def on_created(event: Dict[str, Any]) -> None:
        inside.append(api.is_receive_thread())
        try:
            api.wait_for_next("server.session.updated", timeout=1.0)
        except RuntimeError as exc:
            inside.append(exc)

    api.on("server.session.created", on_created)
    api.connect(timeout=5.0)
    assert not api.is_receive_thread()
    waiters = SignalingWaiters()
    api._waiters = waiters
    registered = waiters.registered
    result: List[Optional[Dict[str, Any]]] = []
    waiter = threading.Thread(target=lambda: result.append(api.wait_for_next("server.session.created", 10.0)))
    waiter.start()
    assert registered.acquire(timeout=5.0)  # the waiter is in place (see SignalingWaiters)
    server.send_json({"type": "session.created", "event_id": "e1"})
    waiter.join(5.0)
    assert result == [{"type": "session.created", "event_id": "e1"}]
    assert inside[0] is True and isinstance(inside[1], RuntimeError)


def _wait_in_thread(api: RealtimeAPI, name: str, timeout: Optional[float]) -> Tuple[threading.Thread, List[Any]]:
    """Start a thread blocked in api.wait_for_next(name); return once its waiter is registered."""
    waiters = SignalingWaiters()
    waiters.update(api._waiters)
    api._waiters = waiters
    outcome: List[Any] = []

    def wait() -> None:
        try:
            outcome.append(api.wait_for_next(name, timeout))
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait, daemon=True)  # a regression must not hang the run
    thread.start()
    assert waiters.registered.acquire(timeout=5.0)  # the waiter is in place
    return thread, outcome


@RECEIVE_MODES
def test_wait_for_next_raises_connection_closed_when_the_server_closes(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], mode: Dict[str, Any]
) -> None:
    api = make_api(server.url, **mode)
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    thread, outcome = _wait_in_thread(api, "server.response.done", None)  # no timeout at all
    close_thread, close_outcome = _wait_in_thread(api, "close", 10.0)
    server.close(4000, "session over")
    thread.join(5.0)
    assert not thread.is_alive()
    (error,) = outcome
    assert isinstance(error, ConnectionClosedError) and isinstance(error, RealtimeConnectionError)
    assert (error.code, error.reason) == (4000, "session over")
    assert "4000" in str(error) and "session over" in str(error)
    payload = {"error": True, "code": 4000, "reason": "session over"}
    assert closes.wait("close", 1) == [payload]
    close_thread.join(5.0)
    assert close_outcome == [payload]  # waiting for "close" itself returns its payload
    assert api._waiters == {}


def test_wait_for_next_raises_connection_closed_on_disconnect_and_lost_socket(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    api.connect(timeout=5.0)
    thread, outcome = _wait_in_thread(api, "server.session.updated", 30.0)
    disconnecter = threading.Thread(target=api.disconnect)
    disconnecter.start()
    thread.join(5.0)
    disconnecter.join(5.0)
    assert isinstance(outcome[0], ConnectionClosedError) and outcome[0].code == 1000

    api.connect(timeout=5.0)
    thread, outcome = _wait_in_thread(api, "server.session.updated", 30.0)
    # the second connection: the server may register it after connect() returned
    server.wait_for_connection(count=2).close_socket()  # TCP gone, no closing handshake
    thread.join(5.0)
    assert isinstance(outcome[0], ConnectionClosedError) and outcome[0].code is None
    assert outcome[0].reason  # what websocket-client said


def test_wait_for_next_begun_as_the_connection_ends_raises_at_once(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wait that saw the connection open but registered after its end still raises."""
    api = make_api(server.url)
    closes = EventRecorder().record_on(api, "close")
    api.connect(timeout=5.0)
    server.close(1000, "bye")
    closes.wait("close", 1)
    monkeypatch.setattr(api, "is_connected", lambda: True)  # as if checked just before the end
    started = time.monotonic()
    with pytest.raises(ConnectionClosedError) as caught:
        api.wait_for_next("server.response.done", timeout=10.0)
    assert time.monotonic() - started < 5.0
    assert (caught.value.code, caught.value.reason) == (1000, "bye")
    assert api._waiters == {}


def test_wait_for_next_while_not_connected_is_a_plain_wait(
    server: FixtureServer, make_api: Callable[..., RealtimeAPI]
) -> None:
    api = make_api(server.url)
    assert api.wait_for_next("server.session.created", timeout=0.01) is None
    thread, outcome = _wait_in_thread(api, "custom", 10.0)
    api.dispatch("custom", {"n": 1})
    thread.join(5.0)
    assert outcome == [{"n": 1}]


def test_debug_logs_type_and_id_audio_as_length_and_never_the_key(
    server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    audio = base64.b64encode(b"\x01\x02" * 1200).decode("ascii")
    with caplog.at_level(logging.DEBUG):
        api = RealtimeAPI(server.url, api_key=SECRET, debug=True, headers={"api-key": SECRET + "-azure"})
        got = EventRecorder().record_on(api, "server.*")
        api.connect(timeout=5.0)
        api.send("input_audio_buffer.append", {"audio": audio})
        server.send_json({"type": "response.audio.delta", "event_id": "event_77", "delta": audio})
        got.wait("server.*", 1)
        errors = EventRecorder().record_on(api, "error")
        server.send("garbage echoing " + SECRET)  # a server echoing the key: masked too
        assert SECRET not in errors.wait("error", 1)[0]["raw"]
        api.disconnect()
    text = client_log(caplog)
    assert "response.audio.delta event_id=event_77" in text
    assert f"<{len(audio)} base64 chars>" in text
    assert audio not in text
    assert "input_audio_buffer.append event_id=evt_" in text
    assert "garbage echoing [secure]" in text
    assert SECRET not in text
    assert SECRET not in repr(api)


def test_without_debug_events_are_not_logged(server: FixtureServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="realtime_sync"):
        api = RealtimeAPI(server.url)
        got = EventRecorder().record_on(api, "server.*")
        api.connect(timeout=5.0)
        api.send("response.create")
        server.send_json({"type": "session.created", "event_id": "event_quiet"})
        got.wait("server.*", 1)
        api.disconnect()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("realtime_sync")]
    assert any("connected to" in line for line in lines)
    assert not any("event_quiet" in line or "response.create" in line for line in lines)


def test_key_never_in_logs_repr_or_exceptions(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        with FixtureServer(reject_status=401, reject_body={"error": {"message": "bad key"}}) as server:
            api = RealtimeAPI(server.url, api_key=SECRET, debug=True)
            with pytest.raises(AuthenticationError) as info:
                api.connect(timeout=5.0)
        with FixtureServer() as server:
            api = RealtimeAPI(server.url, api_key=SECRET, debug=True)
            api.connect(timeout=5.0)
            api.send("response.create")
            server.wait_for_messages(1)
            server.close(4001, "closing")
            for thread in recv_threads():
                thread.join(5.0)
            api.disconnect()
    assert server.handshakes[0].headers["authorization"] == f"Bearer {SECRET}"  # it was sent...
    text = client_log(caplog)
    assert "realtime_sync.api" in text and "realtime_sync._transport" in text
    assert SECRET not in text  # ...and never logged, by us or by websocket-client
    error = info.value
    assert SECRET not in str(error) and SECRET not in repr(error) and SECRET not in error.body
    assert SECRET not in repr(api) and SECRET not in str(vars(api))


def test_key_echoed_by_server_is_masked_in_our_exception_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    body = {"error": {"message": f"bad key {SECRET}"}}
    with caplog.at_level(logging.DEBUG):
        with FixtureServer(reject_status=401, reject_body=body) as server:
            with pytest.raises(AuthenticationError) as info:
                RealtimeAPI(server.url, api_key=SECRET, debug=True).connect(timeout=5.0)
    error = info.value
    assert "bad key [secure]" in str(error)
    assert SECRET not in str(error) and SECRET not in error.body
    assert error.__cause__ is None  # the raw cause held the key: not chained
    # websocket-client itself logs the response body ("... - goodbye"): out of our
    # hands, so only our own logger is checked here.
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("realtime_sync")]
    assert ours and not any(SECRET in line for line in ours)


def test_generate_id_format() -> None:
    ids = {generate_id("evt_") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(EVENT_ID.match(i) for i in ids)
    assert len(generate_id("item_", 21)) == 21
    with pytest.raises(ValueError):
        generate_id("toolong_", 4)


def test_errors_are_realtime_errors() -> None:
    assert issubclass(AuthenticationError, RealtimeError)
    assert issubclass(RealtimeTimeoutError, TimeoutError)
