"""The simulator's one-thread core: every session on one event-loop thread, paced by timers.

Hundreds of sessions leave the simulator's thread count flat; a slow custom
responder (run off the loop) delays only its own response; a cancel ends a
paced wait at once; ``stop()`` closes every session with 1001 and leaves no
thread; the public methods work from any thread, a responder's and a client
callback's included.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any, Callable, Dict, List, Optional

import pytest

pytest.importorskip("websockets")
websocket = pytest.importorskip("websocket")

from realtime_sync import RealtimeClient  # noqa: E402
from realtime_sync.simulator import RealtimeSimulator, Reply  # noqa: E402

_TEXT_ONLY = {"type": "session.update", "session": {"type": "realtime", "output_modalities": ["text"],
                                                   "audio": {"input": {"turn_detection": None}}}}


def _sim_threads() -> List[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("realtime-sync-sim")]


def _connect(url: str) -> Any:
    ws = websocket.create_connection(url, timeout=10)
    assert json.loads(ws.recv())["type"] == "session.created"
    assert json.loads(ws.recv())["type"] == "conversation.created"
    return ws


def _ask(ws: Any, text: str) -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
    ws.send(json.dumps({"type": "response.create"}))


def _until(ws: Any, event_type: str, seen: Optional[List[Dict[str, Any]]] = None) -> Dict[str, Any]:
    while True:
        event = json.loads(ws.recv())
        if seen is not None:
            seen.append(event)
        if event["type"] == event_type:
            return event


def _close_code(ws: Any) -> Optional[int]:
    """Read until the server's close frame; its code (None: the connection ended without one)."""
    try:
        for _ in range(100_000):
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return int.from_bytes(data[:2], "big") if len(data) >= 2 else None
    except (websocket.WebSocketConnectionClosedException, ConnectionError):
        return None
    return None


def test_hundreds_of_sessions_on_one_thread(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    before = len(_sim_threads())  # an earlier test's simulator may still be ending: counted relatively
    sim = make_simulator(http_port=None)
    threads = len(_sim_threads())
    assert threads <= before + 1  # the loop thread
    count = 200
    sockets = [_connect(sim.url) for _ in range(count)]
    try:
        assert sim.session_count == count
        for ws in sockets:
            ws.send(json.dumps(_TEXT_ONLY))
            _ask(ws, "hello")
        for index, ws in enumerate(sockets):
            done = _until(ws, "response.done")["response"]
            assert done["status"] == "completed", (index, done)
        assert len(_sim_threads()) <= threads  # the default responder runs on the loop: no thread more
    finally:
        for ws in sockets:
            ws.close()


def test_a_slow_responder_delays_only_its_own_response(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    release = threading.Event()
    entered = threading.Event()

    def responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Reply:
        text = items[-1]["content"][0]["text"]
        if text == "slow":
            entered.set()
            release.wait(30.0)  # stuck until the other session has had its whole paced reply
        return Reply(text="Here is a short spoken answer.")

    sim = make_simulator(responder=responder, speed=4.0, http_port=None)
    slow, quick = _connect(sim.url), _connect(sim.url)
    try:
        _ask(slow, "slow")
        assert entered.wait(10.0)
        started = time.monotonic()
        _ask(quick, "quick")
        seen: List[Dict[str, Any]] = []
        done = _until(quick, "response.done", seen)
        took = time.monotonic() - started
        assert not release.is_set() and done["response"]["status"] == "completed"
        deltas = [e for e in seen if e["type"] == "response.output_audio.delta"]
        assert len(deltas) >= 3  # paced audio streamed while the other responder was stuck
        assert took < 10.0
        release.set()
        assert _until(slow, "response.done")["response"]["status"] == "completed"
    finally:
        release.set()
        slow.close()
        quick.close()


def test_a_cancel_ends_a_paced_wait_at_once(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    # a tenth of real time: the words come seconds apart
    sim = make_simulator(speed=0.1, responder=lambda items, session: Reply(text="slow " * 40), http_port=None)
    ws = _connect(sim.url)
    try:
        ws.send(json.dumps(_TEXT_ONLY))
        _ask(ws, "talk")
        _until(ws, "response.output_text.delta")
        started = time.monotonic()
        ws.send(json.dumps({"type": "response.cancel"}))
        done = _until(ws, "response.done")["response"]
        assert done["status"] == "cancelled"
        assert time.monotonic() - started < 2.0  # the next word was due in about 3 s
    finally:
        ws.close()


def test_stop_closes_every_session_with_1001_and_leaves_no_thread() -> None:
    before = threading.active_count()
    sim = RealtimeSimulator(speed=1.0).start()
    sockets = [_connect(sim.url) for _ in range(20)]
    _ask(sockets[0], "Please talk for a long while so that stop interrupts the stream")
    _until(sockets[0], "response.output_audio.delta")
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 5.0
    assert _sim_threads() == []
    assert [_close_code(ws) for ws in sockets] == [1001] * len(sockets)
    for ws in sockets:
        ws.close()
    deadline = time.monotonic() + 5.0
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


def test_public_methods_from_a_responder_and_a_client_callback() -> None:
    holder: Dict[str, Any] = {}

    def responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Reply:
        sim = holder["sim"]  # a pool thread: the simulator's own methods must not deadlock here
        ids = sim.session_ids()
        reached = sim.broadcast({"type": "rate_limits.updated", "rate_limits": []})
        return Reply(text=f"{len(ids)} session(s), broadcast reached {reached}")

    with RealtimeSimulator(responder=responder, speed=None, http_port=None) as sim:
        holder["sim"] = sim
        client = RealtimeClient(url=sim.url)
        calls: List[Any] = []

        def on_done(event: Dict[str, Any]) -> None:  # the client's receive thread
            calls.append((sim.session_count, sim.broadcast({"type": "rate_limits.updated", "rate_limits": []})))

        client.realtime.on("server.response.done", on_done)
        client.connect()
        try:
            client.update_session(modalities=["text"], turn_detection=None)
            reply = client.ask("hello", timeout=20.0)
            assert "1 session(s), broadcast reached 1" in str(reply)
            deadline = time.monotonic() + 10.0
            while not calls and time.monotonic() < deadline:
                time.sleep(0.01)
            assert calls and calls[0] == (1, 1)
        finally:
            client.disconnect()


def test_expire_sessions_from_another_thread(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    sim = make_simulator(http_port=None)
    expiring, other = _connect(sim.url), _connect(sim.url)
    try:
        results: List[int] = []
        worker = threading.Thread(target=lambda: results.append(sim.expire_sessions()))
        worker.start()
        worker.join(10.0)
        assert results == [2]
        assert _until(expiring, "error")["error"]["code"] == "session_expired"
        assert _close_code(expiring) == 1000
        assert _until(other, "error")["error"]["code"] == "session_expired"
        assert _close_code(other) == 1000
    finally:
        expiring.close()
        other.close()


def test_stop_from_a_client_callback_does_not_deadlock() -> None:
    sim = RealtimeSimulator(speed=None, http_port=None).start()
    client = RealtimeClient(url=sim.url)
    stopped = threading.Event()

    def on_done(event: Dict[str, Any]) -> None:  # the client's receive thread: it cannot answer the close meanwhile
        sim.stop()
        stopped.set()

    client.realtime.on("server.response.done", on_done)
    client.connect()
    try:
        client.update_session(modalities=["text"], turn_detection=None)
        client.create_response()
        assert stopped.wait(15.0)
        assert _sim_threads() == []
    finally:
        client.disconnect()
        sim.stop()


def test_an_unpaced_stream_to_a_client_that_stopped_reading_waits_for_room(
    make_simulator: Callable[..., RealtimeSimulator],
) -> None:
    sim = make_simulator(speed=None, responder=lambda items, session: Reply(text="word " * 20000), http_port=None)
    ws = _connect(sim.url)
    try:
        ws.send(json.dumps({"type": "response.create"}))
        _until(ws, "response.created")  # then never read again: the socket fills, then the queue
        (session,) = sim._connections.open_sessions()
        time.sleep(1.0)
        assert len(session.channel._queue) <= 80  # the stream waits for room instead of queueing the whole reply
        assert sim.session_count == 1
    finally:
        ws.close()


def test_an_unpaced_replay_to_a_client_that_stopped_reading_waits_for_room(tmp_path: Any) -> None:
    audio = "A" * 6400  # a 200 ms pcm16 delta's size in base64
    lines = [
        {"format": "realtime-sync-recording", "version": 1, "protocol": "ga", "url": "wss://api.openai.com/v1/realtime"},
        {"t": 0.0, "dir": "open"},
        {"t": 0.01, "dir": "server", "event": {"type": "session.created", "event_id": "event_1", "session": {}}},
        {"t": 0.01, "dir": "server", "event": {"type": "conversation.created", "event_id": "event_2", "conversation": {}}},
        {"t": 0.02, "dir": "client", "event": {"type": "response.create", "event_id": "evt_1"}},
    ] + [
        {"t": 0.03, "dir": "server", "event": {"type": "response.output_audio.delta", "event_id": f"d{n}", "delta": audio}}
        for n in range(3000)
    ]
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    with RealtimeSimulator(replay=str(path), http_port=None) as sim:
        ws = _connect(sim.url)
        try:
            ws.send(json.dumps({"type": "response.create", "event_id": "evt_2"}))  # then never read again
            deadline = time.monotonic() + 10.0
            while sim.session_count == 1 and time.monotonic() < deadline:
                (session,) = sim._connections.open_sessions()
                if session._stepper.busy and session._out and len(session.channel._queue) >= 64:
                    break  # the replay waits for room, with frames still to send
                time.sleep(0.01)
            time.sleep(0.5)
            (session,) = sim._connections.open_sessions()
            assert len(session.channel._queue) <= 80  # not the whole recording queued at once
            assert len(session._out) > 1000
        finally:
            ws.close()


def test_a_slow_transcriber_delays_only_its_own_session(make_simulator: Callable[..., RealtimeSimulator]) -> None:
    release = threading.Event()
    entered = threading.Event()

    def transcriber(samples: Any, rate: int) -> str:
        entered.set()
        release.wait(30.0)  # stuck until the other session has had its reply
        return "hello there"

    def responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Reply:
        return Reply(text="word " * 4000 if items[-1]["content"][0].get("text") == "long" else "A short answer.")

    sim = make_simulator(transcriber=transcriber, responder=responder, speed=20.0, http_port=None)
    slow, quick = _connect(sim.url), _connect(sim.url)
    try:
        slow.send(json.dumps({"type": "session.update", "session": {
            "type": "realtime", "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": None, "transcription": {"model": "whisper-1"}}}}}))
        _until(slow, "session.updated")
        _ask(slow, "long")  # a paced reply of about a minute: the loop streams it while the transcriber runs
        _until(slow, "response.output_text.delta")
        pcm = bytes(4800 * 2)  # 200 ms of silence at 24 kHz
        slow.send(json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm).decode()}))
        slow.send(json.dumps({"type": "input_audio_buffer.commit"}))
        assert entered.wait(10.0)
        quick.send(json.dumps(_TEXT_ONLY))
        _ask(quick, "quick")
        done = _until(quick, "response.done")  # while the other session's transcriber is stuck
        assert not release.is_set() and done["response"]["status"] == "completed"
        release.set()
        seen: List[Dict[str, Any]] = []
        completed = _until(slow, "conversation.item.input_audio_transcription.completed", seen)
        assert completed["transcript"] == "hello there"
        types = [e["type"] for e in seen]
        assert types.index("input_audio_buffer.committed") < types.index("conversation.item.added")
    finally:
        release.set()
        slow.close()
        quick.close()


def test_a_responder_that_raises_system_exit_fails_its_response_only(
    make_simulator: Callable[..., RealtimeSimulator],
) -> None:
    def responder(items: List[Dict[str, Any]], session: Dict[str, Any]) -> Reply:
        if items[-1]["content"][0]["text"] == "exit":
            raise SystemExit(3)  # user code gone wrong: on a thread of its own it only ended that thread
        return Reply(text="Still here.")

    sim = make_simulator(responder=responder, speed=None, http_port=None)
    first, second = _connect(sim.url), _connect(sim.url)
    try:
        for ws in (first, second):
            ws.send(json.dumps(_TEXT_ONLY))
        _ask(first, "exit")
        assert _until(first, "response.done")["response"]["status"] == "failed"
        _ask(second, "hello")
        assert _until(second, "response.done")["response"]["status"] == "completed"
        _ask(first, "hello")  # the failing session goes on too
        assert _until(first, "response.done")["response"]["status"] == "completed"
    finally:
        first.close()
        second.close()
