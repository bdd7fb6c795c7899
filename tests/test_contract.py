"""The public API contract, sentence by sentence.

Code outside the project calls the public names (the README and the
docstrings document them) exactly as written:
these tests pin them (names, parameter names and defaults, return values,
event names and payload shapes, exceptions) against real parts: the
:class:`~realtime_sync.simulator.RealtimeSimulator`, a scripted WebSocket
server on 127.0.0.1 (``tests/support_client.py``), or pure functions. Waits
sleep on events with timeouts; nothing here sleeps for synchronisation.
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import re
import subprocess
import sys
import threading
import warnings
from typing import Any, Callable, Dict, Iterator, List, Optional

import numpy as np
import pytest
import support_client
from support_client import EventRecorder
from support_ga import user_item

import realtime_sync
from realtime_sync import Conversation, EventHandler, RealtimeAPI, RealtimeClient, RealtimeError
from realtime_sync import audio as rs_audio
from realtime_sync.errors import NotConnectedError, ProtocolError, RealtimeTimeoutError, ServerError

Event = Dict[str, Any]
EMPTY = inspect.Parameter.empty
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
EVENT_ID = re.compile(r"^evt_[%s]{17}$" % BASE58)
WAIT = 5.0


def params(function: Callable[..., Any]) -> Dict[str, inspect.Parameter]:
    """The parameters of ``function`` by name (``self`` dropped)."""
    found = dict(inspect.signature(function).parameters)
    found.pop("self", None)
    return found


def assert_params(function: Callable[..., Any], expected: List[Any]) -> None:
    """``expected`` lists the leading parameters: ``name`` or ``(name, default)``.

    A bare name must have no default (required) unless it is ``**name`` or
    ``*name``; parameters after the listed ones must all have defaults (so a
    call written as documented works).
    """
    found = list(params(function).values())
    assert len(found) >= len(expected), (function, found)
    for parameter, spec in zip(found, expected):
        if isinstance(spec, tuple):
            name, default = spec
            assert parameter.name == name, (function, found)
            assert parameter.default == default, (function, parameter, default)
        elif spec.startswith("**"):
            assert parameter.name == spec[2:] and parameter.kind is parameter.VAR_KEYWORD, (function, found)
        else:
            assert parameter.name == spec, (function, found)
            assert parameter.default is EMPTY, (function, parameter)
    for parameter in found[len(expected) :]:
        assert (
            parameter.default is not EMPTY
            or parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL)
        ), (function, parameter)


# ---------------------------------------------------------------------------
# The package
# ---------------------------------------------------------------------------


def test_import_gives_the_public_names_without_optional_extras() -> None:
    code = (
        "import sys\n"
        "import realtime_sync\n"
        "from realtime_sync import RealtimeClient, RealtimeAPI, Conversation, EventHandler, RealtimeError, __version__\n"
        "assert isinstance(__version__, str) and __version__\n"
        "bad = sorted(m for m in ('pyaudio', 'websockets') if m in sys.modules)\n"
        "import realtime_sync.devices\n"
        "from realtime_sync.devices import Microphone, Speaker\n"
        "lazy = 'pyaudio' in sys.modules\n"
        "print(bad, lazy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "False"], result.stdout


def test_public_names_are_the_classes() -> None:
    from realtime_sync.api import RealtimeAPI as api_class
    from realtime_sync.client import RealtimeClient as client_class
    from realtime_sync.conversation import Conversation as conversation_class
    from realtime_sync.devices import Microphone, Speaker
    from realtime_sync.errors import RealtimeError as error_class
    from realtime_sync.events import EventHandler as handler_class
    from realtime_sync.simulator import RealtimeSimulator

    assert (RealtimeAPI, RealtimeClient, Conversation, EventHandler, RealtimeError) == (
        api_class,
        client_class,
        conversation_class,
        handler_class,
        error_class,
    )
    assert issubclass(RealtimeAPI, EventHandler) and issubclass(RealtimeClient, EventHandler)
    assert issubclass(RealtimeError, Exception)
    assert inspect.isclass(RealtimeSimulator) and inspect.isclass(Microphone) and inspect.isclass(Speaker)
    assert set(realtime_sync.__all__) >= {
        "RealtimeClient",
        "RealtimeAPI",
        "Conversation",
        "EventHandler",
        "RealtimeError",
        "__version__",
    }


# ---------------------------------------------------------------------------
# EventHandler
# ---------------------------------------------------------------------------


def test_event_handler_signatures() -> None:
    assert_params(EventHandler.on, ["name", ("callback", None)])
    assert_params(EventHandler.off, ["name", ("callback", None)])
    assert_params(EventHandler.on_next, ["name", "callback"])
    assert_params(EventHandler.off_next, ["name", ("callback", None)])
    assert_params(EventHandler.wait_for_next, ["name", ("timeout", None)])
    assert_params(EventHandler.dispatch, ["name", "event"])
    assert_params(EventHandler.clear_event_handlers, [])


def test_on_as_decorator_and_direct_call() -> None:
    handler = EventHandler()
    seen: List[Any] = []

    @handler.on("ping")
    def first(event: Event) -> None:
        seen.append(("first", event["n"]))

    def second(event: Event) -> None:
        seen.append(("second", event["n"]))

    handler.on("ping", second)
    handler.dispatch("ping", {"n": 1})
    assert callable(first)  # the decorator hands the function back
    assert seen == [("first", 1), ("second", 1)]


def test_off_one_unknown_and_all() -> None:
    handler = EventHandler()
    seen: List[str] = []
    a = handler.on("e", lambda event: seen.append("a"))
    handler.on("e", lambda event: seen.append("b"))
    with pytest.raises(ValueError):
        handler.off("e", lambda event: None)
    with pytest.raises(ValueError):
        handler.off("other", a)
    handler.off("e", a)
    handler.dispatch("e", {})
    assert seen == ["b"]
    handler.off("e")
    handler.dispatch("e", {})
    assert seen == ["b"]


def test_on_next_runs_once_after_on_and_off_next_removes() -> None:
    handler = EventHandler()
    seen: List[str] = []
    handler.on_next("e", lambda event: seen.append("next"))
    handler.on("e", lambda event: seen.append("on"))
    handler.dispatch("e", {})
    handler.dispatch("e", {})
    assert seen == ["on", "next", "on"]

    once = handler.on_next("e", lambda event: seen.append("removed"))
    handler.off_next("e", once)
    handler.on_next("e", lambda event: seen.append("all-removed"))
    handler.off_next("e")
    seen.clear()
    handler.dispatch("e", {})
    assert seen == ["on"]


def test_a_raising_callback_is_logged_and_the_others_run(caplog: pytest.LogCaptureFixture) -> None:
    handler = EventHandler()
    seen: List[str] = []

    def boom(event: Event) -> None:
        raise RuntimeError("boom in callback")

    handler.on("e", boom)
    handler.on("e", lambda event: seen.append("on"))
    handler.on_next("e", boom)
    handler.on_next("e", lambda event: seen.append("next"))
    with caplog.at_level("ERROR"):
        handler.dispatch("e", {})
    assert seen == ["on", "next"]
    logged = [r for r in caplog.records if r.exc_info and "boom in callback" in str(r.exc_info[1])]
    assert len(logged) == 2  # with the traceback


def test_clear_event_handlers() -> None:
    handler = EventHandler()
    seen: List[str] = []
    handler.on("e", lambda event: seen.append("on"))
    handler.on_next("e", lambda event: seen.append("next"))
    handler.clear_event_handlers()
    handler.dispatch("e", {})
    assert seen == []


def test_wait_for_next_returns_the_payload_woken_by_the_event() -> None:
    handler = EventHandler()
    got: List[Any] = []
    started = threading.Event()

    def waiter() -> None:
        started.set()
        got.append(handler.wait_for_next("e", timeout=WAIT))

    thread = threading.Thread(target=waiter)
    thread.start()
    assert started.wait(WAIT)
    payload = {"n": 7}
    # The waiter may not be registered yet: dispatch until it is answered.
    for _ in range(500):
        if not thread.is_alive():
            break
        handler.dispatch("e", payload)
        thread.join(0.01)
    assert got == [payload]


def test_wait_for_next_timeout_returns_none() -> None:
    assert EventHandler().wait_for_next("never", timeout=0.01) is None


def test_wait_for_next_from_the_dispatching_thread_raises() -> None:
    handler = EventHandler()
    raised: List[BaseException] = []

    def inside(event: Event) -> None:
        try:
            handler.wait_for_next("other", timeout=WAIT)
        except RuntimeError as exc:
            raised.append(exc)

    handler.on("e", inside)
    handler.dispatch("e", {})
    assert len(raised) == 1


# ---------------------------------------------------------------------------
# RealtimeAPI
# ---------------------------------------------------------------------------


def test_realtime_api_signatures() -> None:
    assert_params(RealtimeAPI.__init__, [("url", None), ("api_key", None)])
    init = params(RealtimeAPI.__init__)
    assert init["debug"].kind is inspect.Parameter.KEYWORD_ONLY and init["debug"].default is False
    connect = params(RealtimeAPI.connect)
    assert list(connect)[:2] == ["model", "timeout"]
    assert connect["timeout"].default is not EMPTY
    assert_params(RealtimeAPI.send, ["event_name", ("data", None)])
    assert_params(RealtimeAPI.is_connected, [])
    assert_params(RealtimeAPI.disconnect, [])


def test_connect_default_model_on_the_wire(scripted: Any) -> None:
    api = RealtimeAPI(url=scripted.url, protocol="beta")
    try:
        assert api.connect() is True
        path = scripted.wait_for_connection().request.path
    finally:
        api.disconnect()
    assert "model=gpt-4o-realtime-preview-2024-10-01" in path


def test_connect_send_dispatch_and_disconnect(scripted: Any) -> None:
    api = RealtimeAPI(url=scripted.url, protocol="beta", debug=False)
    rec = EventRecorder()
    for name in ("client.session.update", "client.*", "server.session.created", "server.*", "close"):
        api.on(name, rec.callback(name))
    assert api.is_connected() is False
    assert api.connect(model="gpt-4o-realtime-preview-2024-10-01", timeout=WAIT) is True
    assert api.is_connected() is True
    try:
        created = rec.wait("server.session.created")[0]
        assert created["type"] == "session.created" and "event_id" in created
        assert rec.wait("server.*")[0] is created

        event = api.send("session.update", {"session": {"instructions": "hi"}})
        assert event["type"] == "session.update"
        assert EVENT_ID.match(event["event_id"]), event["event_id"]
        assert event["session"] == {"instructions": "hi"}
        assert rec.of("client.session.update") == [event]
        assert rec.of("client.*") == [event]
        assert scripted.wait_for("session.update")[0] == event

        bare = api.send("response.cancel")
        assert set(bare) == {"event_id", "type"} and bare["type"] == "response.cancel"
        assert scripted.wait_for("response.cancel")[0] == bare
    finally:
        api.disconnect()
    assert api.is_connected() is False
    closes = rec.wait("close")
    assert set(closes[0]) == {"error", "code", "reason"} and closes[0]["error"] is False
    from realtime_sync.api import RECEIVE_THREAD_NAME

    assert not [t for t in threading.enumerate() if t.name == RECEIVE_THREAD_NAME]  # joined
    api.disconnect()  # idempotent
    assert len(rec.of("close")) == 1
    with pytest.raises(RealtimeError):
        api.send("response.cancel")
    with pytest.raises(NotConnectedError):
        api.send("response.cancel")


def test_non_object_frames_are_reported_and_the_loop_goes_on(scripted: Any) -> None:
    api = RealtimeAPI(url=scripted.url, protocol="beta")
    rec = EventRecorder()
    api.on("error", rec.callback("error"))
    api.on("server.rate_limits.updated", rec.callback("rate"))
    api.connect(timeout=WAIT)
    try:
        scripted.send_raw("this is not json")
        scripted.send_raw("[1, 2, 3]")
        scripted.send({"type": "rate_limits.updated", "rate_limits": []})
        assert len(rec.wait("rate")) == 1
        errors = rec.wait("error", 2)
        assert api.is_connected()
    finally:
        api.disconnect()
    for payload in errors:
        assert isinstance(payload["error"], RealtimeError)
        assert isinstance(payload["error"], ProtocolError)
        assert {"error", "event", "client_event", "raw"} <= set(payload)
    assert errors[0]["raw"] == "this is not json"


def test_close_payload_when_the_server_ends_the_socket(scripted: Any) -> None:
    api = RealtimeAPI(url=scripted.url, protocol="beta")
    rec = EventRecorder()
    api.on("close", rec.callback("close"))
    api.connect(timeout=WAIT)
    scripted.close(4000, "going away")
    payload = rec.wait("close")[0]
    api.disconnect()
    assert set(payload) == {"error", "code", "reason"}
    assert isinstance(payload["error"], bool)
    assert payload["code"] == 4000 and payload["reason"] == "going away"
    assert api.is_connected() is False


def test_disconnect_from_inside_a_callback(scripted: Any) -> None:
    api = RealtimeAPI(url=scripted.url, protocol="beta")
    rec = EventRecorder()
    problems: List[BaseException] = []

    def stop(event: Event) -> None:
        try:
            api.disconnect()
            api.disconnect()
        except BaseException as exc:  # reported below
            problems.append(exc)

    api.on("server.session.created", stop)
    api.on("close", rec.callback("close"))
    api.connect(timeout=WAIT)
    rec.wait("close")
    api.disconnect()
    assert problems == []
    assert api.is_connected() is False
    from realtime_sync.api import RECEIVE_THREAD_NAME

    assert not [t for t in threading.enumerate() if t.name == RECEIVE_THREAD_NAME]


def test_wait_for_next_on_the_receive_thread_raises(scripted: Any) -> None:
    api = RealtimeAPI(url=scripted.url, protocol="beta")
    raised: List[BaseException] = []
    done = threading.Event()

    def inside(event: Event) -> None:
        try:
            api.wait_for_next("server.never", timeout=WAIT)
        except RuntimeError as exc:
            raised.append(exc)
        done.set()

    api.on("server.session.created", inside)
    api.connect(timeout=WAIT)
    try:
        assert done.wait(WAIT)
    finally:
        api.disconnect()
    assert len(raised) == 1


def test_api_key_is_not_in_repr_or_errors() -> None:
    secret = "sk-contract-test-secret-1234567890"
    api = RealtimeAPI(url=f"ws://127.0.0.1:{_free_port()}/", api_key=secret)  # nothing listens
    assert secret not in repr(api) and secret not in api.url
    with pytest.raises(RealtimeError) as info:
        api.connect(timeout=2.0)
    assert secret not in str(info.value) and secret not in repr(info.value)


# ---------------------------------------------------------------------------
# Conversation
# ---------------------------------------------------------------------------

_ids = iter(range(1, 10**9))


def ev(type_: str, **fields: Any) -> Event:
    return dict({"event_id": f"event_{next(_ids)}", "type": type_}, **fields)


def item_created(item: Event) -> Event:
    return ev("conversation.item.created", previous_item_id=None, item=item)


def assistant(item_id: str = "item_a", content: Optional[List[Event]] = None) -> Event:
    return {
        "id": item_id,
        "object": "realtime.item",
        "type": "message",
        "status": "in_progress",
        "role": "assistant",
        "content": content if content is not None else [],
    }


def user(item_id: str = "item_u", content: Optional[List[Event]] = None) -> Event:
    return user_item(item_id, content if content is not None else [{"type": "input_text", "text": "hello"}])


def b64(samples: np.ndarray) -> str:
    return base64.b64encode(np.asarray(samples, dtype="<i2").tobytes()).decode("ascii")


def test_conversation_signatures() -> None:
    assert_params(Conversation.process_event, ["event", ("input_audio_buffer", None)])
    assert_params(Conversation.get_item, ["id"])
    assert_params(Conversation.get_items, [])
    assert_params(Conversation.clear, [])
    assert_params(Conversation.queue_input_audio, ["array"])
    conversation = Conversation()
    assert conversation.items == [] and conversation.responses == []


def test_item_created_formats_and_returns_item_and_none() -> None:
    conversation = Conversation()
    event = item_created(
        user(content=[{"type": "input_text", "text": "hello "}, {"type": "text", "text": "world"}])
    )
    item, delta = conversation.process_event(event)
    assert delta is None
    assert item is conversation.get_item("item_u") and conversation.items == [item]
    assert item is not event["item"] and "formatted" not in event["item"]  # a deep copy
    formatted = item["formatted"]
    assert formatted["text"] == "hello world" and formatted["transcript"] == ""
    assert isinstance(formatted["audio"], np.ndarray) and formatted["audio"].dtype == np.int16
    assert len(formatted["audio"]) == 0
    assert item["status"] == "completed"

    # the same id again is not appended twice
    conversation.process_event(item_created(user()))
    assert len(conversation.items) == 1

    other, _ = conversation.process_event(item_created(assistant()))
    assert other["status"] == "in_progress"


def test_user_message_takes_the_queued_input_audio() -> None:
    conversation = Conversation()
    samples = np.arange(480, dtype=np.int16)
    conversation.queue_input_audio(samples)
    item, _ = conversation.process_event(
        item_created(user(content=[{"type": "input_audio", "transcript": None}]))
    )
    assert item["status"] == "completed"
    np.testing.assert_array_equal(item["formatted"]["audio"], samples)


def test_function_call_and_output_items() -> None:
    conversation = Conversation()
    call = {
        "id": "item_f",
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": "",
    }
    item, _ = conversation.process_event(item_created(call))
    assert item["status"] == "in_progress"
    assert item["formatted"]["tool"] == {
        "type": "function",
        "name": "get_weather",
        "call_id": "call_1",
        "arguments": "",
    }
    out = {"id": "item_o", "object": "realtime.item", "type": "function_call_output", "call_id": "call_1", "output": '{"t": 20}'}
    item, _ = conversation.process_event(item_created(out))
    assert item["status"] == "completed" and item["formatted"]["output"] == '{"t": 20}'


def test_truncated_cuts_audio_and_empties_transcript() -> None:
    conversation = Conversation()
    conversation.process_event(ev("response.created", response={"id": "resp_1", "output": [], "status": "in_progress"}))
    conversation.process_event(item_created(assistant(content=[{"type": "audio", "transcript": ""}])))
    conversation.process_event(
        ev("response.audio.delta", response_id="resp_1", item_id="item_a", output_index=0, content_index=0,
           delta=b64(np.ones(24000, dtype=np.int16)))
    )
    conversation.process_event(
        ev("response.audio_transcript.delta", response_id="resp_1", item_id="item_a", output_index=0,
           content_index=0, delta="Hello there")
    )
    audio_end_ms = 333
    item, delta = conversation.process_event(
        ev("conversation.item.truncated", item_id="item_a", content_index=0, audio_end_ms=audio_end_ms)
    )
    assert delta is None
    assert len(item["formatted"]["audio"]) == math.floor(audio_end_ms * 24000 / 1000) == 7992
    assert item["formatted"]["transcript"] == ""
    with pytest.raises(RealtimeError):
        conversation.process_event(ev("conversation.item.truncated", item_id="nope", content_index=0, audio_end_ms=1))


def test_deleted_removes_and_unknown_is_an_error() -> None:
    conversation = Conversation()
    conversation.process_event(item_created(user()))
    item, _ = conversation.process_event(ev("conversation.item.deleted", item_id="item_u"))
    assert item["id"] == "item_u"
    assert conversation.get_item("item_u") is None and conversation.items == []
    with pytest.raises(RealtimeError):
        conversation.process_event(ev("conversation.item.deleted", item_id="item_u"))


def transcription(item_id: str, transcript: str) -> Event:
    return ev(
        "conversation.item.input_audio_transcription.completed",
        item_id=item_id,
        content_index=0,
        transcript=transcript,
    )


def test_transcription_known_item_and_empty_as_space() -> None:
    conversation = Conversation()
    conversation.process_event(item_created(user(content=[{"type": "input_audio", "transcript": None}])))
    item, delta = conversation.process_event(transcription("item_u", "what time is it"))
    assert item["content"][0]["transcript"] == "what time is it"
    assert item["formatted"]["transcript"] == "what time is it"
    assert delta == {"transcript": "what time is it"}  # as the reference returns it
    conversation.process_event(item_created(user("item_v", [{"type": "input_audio", "transcript": None}])))
    item, delta = conversation.process_event(transcription("item_v", ""))
    assert item["formatted"]["transcript"] == " "
    assert item["content"][0]["transcript"] == "" and delta == {"transcript": ""}


def test_transcription_before_its_item_is_queued_then_attached() -> None:
    conversation = Conversation()
    assert conversation.process_event(transcription("item_u", "early words")) == (None, None)
    item, _ = conversation.process_event(item_created(user(content=[{"type": "input_audio", "transcript": None}])))
    assert item["formatted"]["transcript"] == "early words"
    # and an early empty transcript is a single space
    conversation.process_event(transcription("item_w", ""))
    item, _ = conversation.process_event(item_created(user("item_w", [{"type": "input_audio", "transcript": None}])))
    assert item["formatted"]["transcript"] == " "


def test_speech_detection_slices_the_input_buffer() -> None:
    conversation = Conversation()
    buffer = np.arange(48000, dtype=np.int16)  # two seconds at 24 kHz
    assert conversation.process_event(
        ev("input_audio_buffer.speech_started", audio_start_ms=500, item_id="item_s"), buffer
    ) == (None, None)
    assert conversation.process_event(
        ev("input_audio_buffer.speech_stopped", audio_end_ms=1250, item_id="item_s"), buffer
    ) == (None, None)
    item, _ = conversation.process_event(item_created(user("item_s", [{"type": "input_audio", "transcript": None}])))
    np.testing.assert_array_equal(item["formatted"]["audio"], buffer[500 * 24 : 1250 * 24])

    # start unseen: it defaults to the end, an empty slice
    conversation.process_event(
        ev("input_audio_buffer.speech_stopped", audio_end_ms=1000, item_id="item_t"), buffer
    )
    item, _ = conversation.process_event(item_created(user("item_t", [{"type": "input_audio", "transcript": None}])))
    assert len(item["formatted"]["audio"]) == 0


def test_responses_output_items_and_deltas() -> None:
    conversation = Conversation()
    with pytest.raises(RealtimeError):
        conversation.process_event(
            ev("response.output_item.added", response_id="resp_x", output_index=0, item=assistant())
        )
    assert conversation.process_event(
        ev("response.created", response={"id": "resp_1", "output": [], "status": "in_progress"})
    ) == (None, None)
    assert [r["id"] for r in conversation.responses] == ["resp_1"]
    assert conversation.process_event(
        ev("response.output_item.added", response_id="resp_1", output_index=0, item=assistant())
    ) == (None, None)
    assert conversation.responses[0]["output"] == ["item_a"]
    conversation.process_event(item_created(assistant()))
    item, delta = conversation.process_event(
        ev("response.content_part.added", response_id="resp_1", item_id="item_a", output_index=0, content_index=0,
           part={"type": "text", "text": ""})
    )
    assert item["content"] == [{"type": "text", "text": ""}] and delta is None
    item, delta = conversation.process_event(
        ev("response.text.delta", response_id="resp_1", item_id="item_a", output_index=0, content_index=0, delta="Hi")
    )
    assert delta == {"text": "Hi"}
    item, delta = conversation.process_event(
        ev("response.text.delta", response_id="resp_1", item_id="item_a", output_index=0, content_index=0, delta=" you")
    )
    assert item["content"][0]["text"] == "Hi you" and item["formatted"]["text"] == "Hi you"

    item, delta = conversation.process_event(
        ev("response.content_part.added", response_id="resp_1", item_id="item_a", output_index=0, content_index=1,
           part={"type": "audio", "transcript": ""})
    )
    item, delta = conversation.process_event(
        ev("response.audio_transcript.delta", response_id="resp_1", item_id="item_a", output_index=0,
           content_index=1, delta="Hey")
    )
    assert delta == {"transcript": "Hey"}
    assert item["content"][1]["transcript"] == "Hey" and item["formatted"]["transcript"] == "Hey"

    chunk = np.array([1, -2, 300, -32768, 32767], dtype=np.int16)
    for _ in range(2):
        item, delta = conversation.process_event(
            ev("response.audio.delta", response_id="resp_1", item_id="item_a", output_index=0, content_index=1,
               delta=b64(chunk))
        )
    assert set(delta) == {"audio"} and delta["audio"].dtype == np.int16
    np.testing.assert_array_equal(delta["audio"], chunk)
    np.testing.assert_array_equal(item["formatted"]["audio"], np.concatenate([chunk, chunk]))

    done = dict(assistant(), status="completed")
    with pytest.raises(RealtimeError):
        conversation.process_event(ev("response.output_item.done", response_id="resp_1", output_index=0))
    with pytest.raises(RealtimeError):
        conversation.process_event(
            ev("response.output_item.done", response_id="resp_1", output_index=0, item=dict(done, id="item_zz"))
        )
    item, delta = conversation.process_event(
        ev("response.output_item.done", response_id="resp_1", output_index=0, item=done)
    )
    assert item["status"] == "completed" and item is conversation.get_item("item_a") and delta is None


def test_function_call_arguments_delta() -> None:
    conversation = Conversation()
    conversation.process_event(ev("response.created", response={"id": "resp_1", "output": [], "status": "in_progress"}))
    call = {"id": "item_f", "object": "realtime.item", "type": "function_call", "status": "in_progress",
            "name": "f", "call_id": "call_1", "arguments": ""}
    conversation.process_event(item_created(call))
    for piece in ('{"a":', " 1}"):
        item, delta = conversation.process_event(
            ev("response.function_call_arguments.delta", response_id="resp_1", item_id="item_f", output_index=0,
               call_id="call_1", delta=piece)
        )
        assert delta == {"arguments": piece}
    assert item["arguments"] == '{"a": 1}' and item["formatted"]["tool"]["arguments"] == '{"a": 1}'


def test_unknown_ids_and_malformed_events_raise_realtime_errors() -> None:
    conversation = Conversation()
    with pytest.raises(RealtimeError):
        conversation.process_event({"type": "response.created", "response": {"id": "r", "output": []}})
    with pytest.raises(RealtimeError):
        conversation.process_event({"event_id": "event_1"})
    with pytest.raises(RealtimeError):
        conversation.process_event(
            ev("response.text.delta", response_id="r", item_id="nope", output_index=0, content_index=0, delta="x")
        )
    with pytest.raises(RealtimeError):
        conversation.process_event(
            ev("response.audio.delta", response_id="r", item_id="nope", output_index=0, content_index=0, delta="")
        )


def test_get_items_is_a_new_list_and_clear_empties() -> None:
    conversation = Conversation()
    conversation.process_event(item_created(user()))
    conversation.process_event(ev("response.created", response={"id": "resp_1", "output": [], "status": "in_progress"}))
    items = conversation.get_items()
    assert items == conversation.items and items is not conversation.items
    items.clear()
    assert len(conversation.get_items()) == 1
    conversation.clear()
    assert conversation.items == [] and conversation.responses == []
    assert conversation.get_item("item_u") is None


def test_new_server_events_pass_through() -> None:
    conversation = Conversation()
    assert conversation.process_event(ev("output_audio_buffer.started", response_id="r")) == (None, None)


# ---------------------------------------------------------------------------
# RealtimeClient
# ---------------------------------------------------------------------------


def test_client_signatures() -> None:
    assert_params(RealtimeClient.__init__, [("url", None), ("api_key", None)])
    assert_params(RealtimeClient.connect, [])
    assert "timeout" in params(RealtimeClient.connect)
    assert_params(RealtimeClient.disconnect, [])
    assert_params(RealtimeClient.reset, [])
    assert_params(RealtimeClient.is_connected, [])
    assert_params(RealtimeClient.wait_for_session_created, [("timeout", None)])
    assert_params(RealtimeClient.update_session, ["**config"])
    assert_params(RealtimeClient.get_turn_detection_type, [])
    assert_params(RealtimeClient.add_tool, ["definition", "handler"])
    assert_params(RealtimeClient.remove_tool, ["name"])
    assert_params(RealtimeClient.delete_item, ["id"])
    assert list(params(RealtimeClient.send_user_message_content))[:1] == ["content"]
    assert_params(RealtimeClient.append_input_audio, ["samples"])
    assert_params(RealtimeClient.create_response, [])
    assert_params(RealtimeClient.cancel_response, [("id", None), ("sample_count", 0)])
    assert_params(RealtimeClient.wait_for_next_item, [("timeout", None)])
    assert_params(RealtimeClient.wait_for_next_completed_item, [("timeout", None)])
    client = RealtimeClient(url="ws://127.0.0.1:9")
    assert isinstance(client.realtime, RealtimeAPI)
    assert isinstance(client.conversation, Conversation)
    assert isinstance(client.session_config, dict)
    assert client.is_connected() is False


@pytest.fixture
def connected(scripted: Any) -> Iterator[Any]:
    """A RealtimeClient connected to the scripted server, with a Recorder on its events."""
    client = RealtimeClient(url=scripted.url, protocol="beta")
    rec = EventRecorder()
    for name in (
        "realtime.event",
        "conversation.updated",
        "conversation.item.appended",
        "conversation.item.completed",
        "conversation.interrupted",
        "error",
        "close",
    ):
        client.on(name, rec.callback(name))
    client.rec = rec  # type: ignore[attr-defined]

    def tool(args: Dict[str, Any]) -> Any:
        return {"echo": args}

    client.add_tool({"name": "echo", "description": "echo", "parameters": {"type": "object"}}, tool)
    assert client.connect(timeout=WAIT) is True
    assert client.wait_for_session_created(timeout=WAIT)
    scripted.wait_for("session.update")  # the one connect() sends
    try:
        yield client
    finally:
        client.disconnect()


def test_connect_sends_session_update_with_tools(scripted: Any, connected: Any) -> None:
    update = scripted.wait_for("session.update")[0]
    tools = update["session"]["tools"]
    assert tools == [{"type": "function", "name": "echo", "description": "echo", "parameters": {"type": "object"}}]
    assert connected.is_connected() is True
    events = connected.rec.wait("realtime.event", 2)
    for payload in events:
        assert set(payload) == {"time", "source", "event"}
    sources = {p["source"] for p in events}
    assert sources == {"client", "server"}
    assert any(p["source"] == "client" and p["event"]["type"] == "session.update" for p in events)


def test_update_session_and_turn_detection_type(scripted: Any, connected: Any) -> None:
    mark = scripted.mark()
    connected.update_session(instructions="be brief", turn_detection={"type": "server_vad"})
    frame = scripted.wait_frames(mark, 1)[0]
    assert frame["type"] == "session.update"
    assert frame["session"]["instructions"] == "be brief"
    assert connected.session_config["instructions"] == "be brief"
    assert connected.get_turn_detection_type() == "server_vad"
    connected.update_session(turn_detection=None)
    assert connected.get_turn_detection_type() is None


def test_remove_tool_and_delete_item(scripted: Any, connected: Any) -> None:
    mark = scripted.mark()
    connected.remove_tool("echo")
    update = scripted.wait_frames(mark, 1)[0]  # a connected client re-sends its session
    assert update["type"] == "session.update" and update["session"]["tools"] == []
    mark = scripted.mark()
    connected.delete_item("item_x")
    frame = scripted.wait_frames(mark, 1)[0]
    assert frame["type"] == "conversation.item.delete" and frame["item_id"] == "item_x"


def test_send_user_message_content_creates_item_and_response(scripted: Any, connected: Any) -> None:
    mark = scripted.mark()
    connected.send_user_message_content([{"type": "input_text", "text": "hello"}])
    create, response = scripted.wait_frames(mark, 2)
    assert create["type"] == "conversation.item.create"
    assert create["item"]["role"] == "user" and create["item"]["type"] == "message"
    assert create["item"]["content"] == [{"type": "input_text", "text": "hello"}]
    assert response["type"] == "response.create"


def test_create_response_commits_pending_audio_without_turn_detection(scripted: Any, connected: Any) -> None:
    assert connected.get_turn_detection_type() is None
    samples = (np.sin(np.arange(4800) / 10.0) * 8000).astype(np.int16)
    mark = scripted.mark()
    connected.append_input_audio(samples)
    connected.create_response()
    frames = scripted.wait_frames(mark, 3)
    assert [f["type"] for f in frames] == ["input_audio_buffer.append", "input_audio_buffer.commit", "response.create"]
    assert frames[0]["audio"] == b64(samples)
    # the committed audio is queued for the next user item
    scripted.send(item_created(user("item_in", [{"type": "input_audio", "transcript": None}])))
    item = connected.rec.wait("conversation.item.appended")[0]["item"]
    assert item["id"] == "item_in"
    np.testing.assert_array_equal(item["formatted"]["audio"], samples)


def test_client_conversation_events_and_cancel_response(scripted: Any, connected: Any) -> None:
    rec = connected.rec
    assert connected.wait_for_next_item(timeout=0.01) is None
    assert connected.wait_for_next_completed_item(timeout=0.01) is None
    scripted.response_created("resp_1")
    scripted.assistant_item("item_a", "resp_1", audio=True)
    appended = rec.wait("conversation.item.appended")[0]
    assert set(appended) == {"item"} and appended["item"]["id"] == "item_a"
    audio = (np.arange(48000) % 1000).astype(np.int16)
    scripted.send(
        ev("response.audio.delta", response_id="resp_1", item_id="item_a", output_index=0, content_index=0,
           delta=b64(audio))
    )
    updates = rec.wait("conversation.updated")
    for payload in updates:
        assert set(payload) == {"item", "delta"}
    audio_updates = [p for p in updates if p["delta"] and "audio" in p["delta"]]
    while not audio_updates:
        updates = rec.wait("conversation.updated", len(updates) + 1)
        audio_updates = [p for p in updates if p["delta"] and "audio" in p["delta"]]
    np.testing.assert_array_equal(audio_updates[0]["delta"]["audio"], audio)

    with pytest.raises(RealtimeError):
        connected.cancel_response("item_missing", 10)
    scripted.send(item_created(user("item_u")))
    rec.wait("conversation.item.appended", 2)
    with pytest.raises(RealtimeError):
        connected.cancel_response("item_u", 10)

    # 24024 / 24000 * 1000 is 1000.9999999999999 in floating point: the formula is
    # The reference's formula, float division included.
    for sample_count, expected_ms in ((12345, 514), (24024, 1000)):
        mark = scripted.mark()
        assert connected.cancel_response("item_a", sample_count)["id"] == "item_a"
        cancel, truncate = scripted.wait_frames(mark, 2)
        assert cancel["type"] == "response.cancel"
        assert truncate["type"] == "conversation.item.truncate"
        assert truncate["item_id"] == "item_a" and truncate["content_index"] == 0
        assert truncate["audio_end_ms"] == math.floor(sample_count / 24000 * 1000) == expected_ms

    scripted.send(ev("input_audio_buffer.speech_started", audio_start_ms=10, item_id="item_next"))
    assert rec.wait("conversation.interrupted")[0] == {}

    # completed item: the server finishes the assistant item
    done = dict(assistant("item_a", [{"type": "audio", "transcript": ""}]), status="completed")
    scripted.send(ev("response.output_item.done", response_id="resp_1", output_index=0, item=done))
    # the user message completed on creation, the assistant item now
    completed = rec.wait("conversation.item.completed", 2)
    assert [set(p) for p in completed] == [{"item"}, {"item"}]
    assert [p["item"]["id"] for p in completed] == ["item_u", "item_a"]


def test_wait_for_next_item_and_completed_item_return_the_item(
    scripted: Any, connected: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    results: Dict[str, Any] = {}

    waiting = support_client.signal_when_waiting(monkeypatch)  # set once a helper is registered
    thread = threading.Thread(target=lambda: results.update(item=connected.wait_for_next_item(timeout=WAIT)))
    thread.start()
    assert waiting.wait(WAIT)
    scripted.send(item_created(user("item_w")))
    thread.join(WAIT)
    assert results["item"]["id"] == "item_w" and "formatted" in results["item"]
    connected.rec.wait("conversation.item.completed")  # the user message completed too

    waiting.clear()
    thread = threading.Thread(
        target=lambda: results.update(completed=connected.wait_for_next_completed_item(timeout=WAIT))
    )
    thread.start()
    assert waiting.wait(WAIT)
    scripted.response_created("resp_9")
    scripted.send(ev("response.output_item.added", response_id="resp_9", output_index=0, item=assistant("item_z")))
    scripted.send(item_created(assistant("item_z")))
    scripted.send(ev("response.output_item.done", response_id="resp_9", output_index=0,
                     item=dict(assistant("item_z"), status="completed")))
    thread.join(WAIT)
    assert results["completed"]["id"] == "item_z" and results["completed"]["status"] == "completed"


def test_server_error_event_is_an_error_dispatch(scripted: Any, connected: Any) -> None:
    scripted.send(ev("error", error={"type": "invalid_request_error", "code": "x", "message": "bad", "param": None,
                                     "event_id": None}))
    payload = connected.rec.wait("error")[0]
    assert isinstance(payload["error"], ServerError)
    assert payload["event"]["type"] == "error"
    assert "client_event" in payload


def test_client_close_dispatch(scripted: Any, connected: Any) -> None:
    scripted.close(1011, "server broke")
    payload = connected.rec.wait("close")[0]
    assert set(payload) == {"error", "code", "reason"}
    assert payload == {"error": True, "code": 1011, "reason": "server broke"}
    assert connected.is_connected() is False


def test_tool_call_runs_on_a_worker_with_parsed_arguments(scripted: Any) -> None:
    client = RealtimeClient(url=scripted.url, protocol="beta")
    calls: List[Any] = []

    def lookup(args: Dict[str, Any]) -> Any:
        calls.append((args, threading.current_thread()))
        return {"temperature": 21, "city": args["city"]}

    def broken(args: Dict[str, Any]) -> Any:
        raise ValueError("no such city")

    client.add_tool({"name": "lookup", "parameters": {"type": "object"}}, lookup)
    client.add_tool({"name": "broken", "parameters": {"type": "object"}}, broken)
    client.connect(timeout=WAIT)
    try:
        client.wait_for_session_created(timeout=WAIT)
        scripted.wait_for("session.update")
        scripted.response_created("resp_1")
        mark = scripted.mark()
        scripted.function_call("item_f1", "call_1", "lookup", '{"city": "Oslo"}', "resp_1")
        scripted.response_done("resp_1")
        frames = scripted.wait_frames(mark, 2)
        assert [f["type"] for f in frames] == ["conversation.item.create", "response.create"]
        output = frames[0]["item"]
        assert output["type"] == "function_call_output" and output["call_id"] == "call_1"
        assert json.loads(output["output"]) == {"temperature": 21, "city": "Oslo"}
        assert calls[0][0] == {"city": "Oslo"}

        scripted.response_created("resp_2")
        mark = scripted.mark()
        scripted.function_call("item_f2", "call_2", "broken", "{}", "resp_2")
        scripted.response_done("resp_2")
        frames = scripted.wait_frames(mark, 2)
        assert [f["type"] for f in frames] == ["conversation.item.create", "response.create"]
        assert json.loads(frames[0]["item"]["output"]) == {"error": "no such city"}
    finally:
        client.disconnect()


def test_tool_handler_does_not_run_on_the_receive_thread(scripted: Any) -> None:
    client = RealtimeClient(url=scripted.url, protocol="beta")
    on_receive: List[bool] = []
    ran = threading.Event()

    def handler(args: Dict[str, Any]) -> Any:
        on_receive.append(client.realtime.is_receive_thread())
        ran.set()
        return "ok"

    client.add_tool({"name": "t", "parameters": {"type": "object"}}, handler)
    client.connect(timeout=WAIT)
    try:
        scripted.response_created("resp_1")
        scripted.function_call("item_f", "call_1", "t", "{}", "resp_1")
        scripted.response_done("resp_1")
        assert ran.wait(WAIT)
    finally:
        client.disconnect()
    assert on_receive == [False]


def test_reset_and_disconnect(scripted: Any, connected: Any) -> None:
    scripted.send(item_created(user()))
    connected.rec.wait("conversation.item.appended")
    connected.disconnect()
    connected.disconnect()
    assert connected.is_connected() is False
    connected.reset()
    assert connected.conversation.get_items() == []
    assert connected.is_connected() is False


def test_simulator_round_trip_as_in_design() -> None:
    pytest.importorskip("websockets")
    from realtime_sync.simulator import RealtimeSimulator

    with RealtimeSimulator() as sim:  # exactly as the README writes it
        assert sim.url.startswith("ws://127.0.0.1:") and sim.port > 0
        client = RealtimeClient(url=sim.url)
        replied = threading.Event()
        completed: List[Event] = []

        @client.on("conversation.item.completed")
        def done(event: Event) -> None:
            completed.append(event["item"])
            if event["item"].get("role") == "assistant":
                replied.set()

        try:
            assert client.connect(timeout=WAIT) is True
            assert client.wait_for_session_created(timeout=WAIT)
            client.update_session(modalities=["text"])
            client.send_user_message_content([{"type": "input_text", "text": "Hello!"}])
            assert replied.wait(WAIT)
            assert [item["role"] for item in completed] == ["user", "assistant"]
            assert completed[0]["formatted"]["text"] == "Hello!"
            assert completed[1]["formatted"]["text"]
        finally:
            client.disconnect()


# ---------------------------------------------------------------------------
# audio.py
# ---------------------------------------------------------------------------


def test_audio_function_signatures() -> None:
    assert_params(rs_audio.pcm16_to_base64, ["samples"])
    assert_params(rs_audio.base64_to_pcm16, ["text"])
    assert_params(rs_audio.pcm16_to_float, ["samples"])
    assert_params(rs_audio.float_to_pcm16, ["x"])
    for name in ("ulaw_encode", "ulaw_decode", "alaw_encode", "alaw_decode"):
        assert len(params(getattr(rs_audio, name))) >= 1
    assert_params(rs_audio.resample, ["samples", "from_rate", "to_rate"])
    assert_params(rs_audio.read_wav, ["path"])
    assert_params(rs_audio.write_wav, ["path", "samples", "rate"])


def test_audio_conversions() -> None:
    samples = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    text = rs_audio.pcm16_to_base64(samples)
    assert text == b64(samples)
    back = rs_audio.base64_to_pcm16(text)
    assert back.dtype == np.int16
    np.testing.assert_array_equal(back, samples)

    floats = rs_audio.pcm16_to_float(samples)
    assert floats.dtype == np.float32
    clipped = rs_audio.float_to_pcm16(np.array([2.0, -2.0, 0.0], dtype=np.float32))
    assert clipped.dtype == np.int16
    assert clipped[0] == 32767 and clipped[1] in (-32767, -32768) and clipped[2] == 0

    for rate_from, rate_to in ((24000, 8000), (8000, 24000), (24000, 16000), (44100, 24000), (48000, 24000)):
        x = np.zeros(4410, dtype=np.int16)
        y = rs_audio.resample(x, rate_from, rate_to)
        assert y.dtype == np.int16 and len(y) == round(len(x) * rate_to / rate_from)


def test_g711_matches_the_classic_reference() -> None:
    samples = np.arange(-32768, 32768, 7, dtype=np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        audioop = pytest.importorskip("audioop")
    raw = samples.astype("<i2").tobytes()
    assert rs_audio.ulaw_encode(samples) == audioop.lin2ulaw(raw, 2)
    assert rs_audio.alaw_encode(samples) == audioop.lin2alaw(raw, 2)
    codes = bytes(range(256))
    np.testing.assert_array_equal(
        rs_audio.ulaw_decode(codes), np.frombuffer(audioop.ulaw2lin(codes, 2), dtype="<i2")
    )
    np.testing.assert_array_equal(
        rs_audio.alaw_decode(codes), np.frombuffer(audioop.alaw2lin(codes, 2), dtype="<i2")
    )


def test_g711_known_codes() -> None:
    # Known values of the reference implementation (valid without audioop).
    assert rs_audio.ulaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == bytes([0xFF, 0x80, 0x00])
    assert rs_audio.alaw_encode(np.array([0, 32767, -32768], dtype=np.int16)) == bytes([0xD5, 0xAA, 0x2A])
    np.testing.assert_array_equal(rs_audio.ulaw_decode(bytes([0xFF, 0x80])), [0, 32124])


def test_wav_round_trip(tmp_path: Any) -> None:
    samples = (np.sin(np.arange(2400) / 5.0) * 10000).astype(np.int16)
    path = tmp_path / "x.wav"
    assert rs_audio.write_wav(str(path), samples, 24000) is None
    result = rs_audio.read_wav(str(path))
    assert isinstance(result, tuple) and len(result) == 2
    got, rate = result
    assert rate == 24000 and got.dtype == np.int16
    np.testing.assert_array_equal(got, samples)


# ---------------------------------------------------------------------------
# More of RealtimeAPI: defaults, failures that say what failed, secrets, threads
# ---------------------------------------------------------------------------


def test_url_defaults_to_openai_and_api_key_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from realtime_sync.errors import InsecureTransportError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert RealtimeAPI().url.startswith("wss://api.openai.com/v1/realtime")
    # Without a key, clear-text ws:// to OpenAI is accepted (nothing secret to send)...
    RealtimeAPI(url="ws://api.openai.com/v1/realtime")
    # ...with OPENAI_API_KEY set, the key is picked up, so it is refused.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment-0123456789")
    with pytest.raises(InsecureTransportError) as info:
        RealtimeAPI(url="ws://api.openai.com/v1/realtime")
    assert "sk-from-the-environment" not in str(info.value)
    # ...and only when talking to OpenAI.
    RealtimeAPI(url="ws://example.com/v1/realtime")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connect_failures_are_realtime_errors_saying_what_failed(make_simulator: Any) -> None:
    import socket

    from realtime_sync.errors import AuthenticationError, RealtimeConnectionError, RealtimeTimeoutError

    with pytest.raises(RealtimeConnectionError) as refused:
        RealtimeAPI(url=f"ws://127.0.0.1:{_free_port()}").connect(timeout=WAIT)
    assert "refused" in str(refused.value).lower()

    secret = "sk-the-right-key-abcdef0123456789"
    sim = make_simulator(require_api_key=secret)
    wrong = "sk-a-wrong-key-abcdef0123456789"
    with pytest.raises(AuthenticationError) as denied:
        RealtimeAPI(url=sim.url, api_key=wrong).connect(timeout=WAIT)
    assert isinstance(denied.value, RealtimeError) and "401" in str(denied.value)
    assert wrong not in str(denied.value) and wrong not in repr(denied.value)

    with socket.socket() as silent:  # accepts TCP, never answers the handshake
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(RealtimeTimeoutError) as slow:
            RealtimeAPI(url=f"ws://127.0.0.1:{silent.getsockname()[1]}").connect(timeout=0.3)
    assert isinstance(slow.value, RealtimeError) and "time" in str(slow.value).lower()


def test_the_key_never_reaches_logs_or_reprs(make_simulator: Any, caplog: pytest.LogCaptureFixture) -> None:
    secret = "sk-never-log-me-abcdef0123456789"
    sim = make_simulator(require_api_key=secret)
    with caplog.at_level("DEBUG"):
        api = RealtimeAPI(url=sim.url, api_key=secret, debug=True)
        updated = threading.Event()
        api.on("server.session.updated", lambda event: updated.set())
        assert api.connect(timeout=WAIT) is True
        api.send("session.update", {"session": {"instructions": "x"}})
        assert updated.wait(WAIT)
        assert secret not in repr(api)
        api.disconnect()
        client = RealtimeClient(url=sim.url, api_key=secret, debug=True)
        assert secret not in repr(client) and secret not in repr(client.realtime)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "session.update" in text  # debug logging did log the traffic
    assert secret not in text


def test_send_from_several_threads_at_once(scripted: Any) -> None:
    api = RealtimeAPI(url=scripted.url, protocol="beta")
    api.connect(timeout=WAIT)
    sent: List[Event] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def sender() -> None:
        start.wait(WAIT)
        for _ in range(25):
            event = api.send("input_audio_buffer.clear")
            with lock:
                sent.append(event)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT)
        received = scripted.wait_for("input_audio_buffer.clear", 100)
    finally:
        api.disconnect()
    assert sorted(e["event_id"] for e in received) == sorted(e["event_id"] for e in sent)
    assert len({e["event_id"] for e in sent}) == 100
    assert all(EVENT_ID.match(e["event_id"]) for e in sent)  # evt_ + 17 base58 chars


def test_unlisted_server_events_pass_through_without_harm(scripted: Any) -> None:
    client = RealtimeClient(url=scripted.url, protocol="beta")
    rec = EventRecorder()
    client.on("error", rec.callback("error"))
    client.realtime.on("server.*", rec.callback("server.*"))
    client.connect(timeout=WAIT)
    try:
        scripted.send({"type": "output_audio_buffer.started", "response_id": "resp_1"})
        scripted.send({"type": "conversation.item.input_audio_transcription.delta", "item_id": "x", "delta": "hi"})
        scripted.send({"type": "rate_limits.updated", "rate_limits": []})
        seen = [p["type"] for p in rec.wait("server.*", 4)]
        assert client.is_connected()
    finally:
        client.disconnect()
    assert seen[1:] == [
        "output_audio_buffer.started",
        "conversation.item.input_audio_transcription.delta",
        "rate_limits.updated",
    ]
    assert rec.of("error") == []


def test_an_event_the_conversation_rejects_is_an_error_dispatch(scripted: Any, connected: Any) -> None:
    bad = scripted.send(
        ev("response.text.delta", response_id="resp_x", item_id="item_nope", output_index=0, content_index=0, delta="x")
    )
    payload = connected.rec.wait("error")[0]
    assert isinstance(payload["error"], ProtocolError)
    assert payload["event"]["event_id"] == bad["event_id"]
    # the loop goes on
    scripted.send(item_created(user("item_after")))
    assert connected.rec.wait("conversation.item.appended")[0]["item"]["id"] == "item_after"
    assert connected.is_connected()


# ---------------------------------------------------------------------------
# More of Conversation: going beyond the reference
# ---------------------------------------------------------------------------


def test_response_done_sets_status_details_and_usage() -> None:
    conversation = Conversation()
    conversation.process_event(ev("response.created", response={"id": "resp_1", "output": [], "status": "in_progress"}))
    usage = {"total_tokens": 10, "input_tokens": 4, "output_tokens": 6}
    details = {"type": "cancelled", "reason": "turn_detected"}
    conversation.process_event(
        ev("response.done", response={"id": "resp_1", "output": [], "status": "cancelled",
                                      "status_details": details, "usage": usage})
    )
    response = conversation.responses[0]
    assert response["status"] == "cancelled"
    assert response["status_details"] == details and response["usage"] == usage


def test_text_done_reconciles_the_final_text() -> None:
    conversation = Conversation()
    conversation.process_event(ev("response.created", response={"id": "resp_1", "output": [], "status": "in_progress"}))
    conversation.process_event(item_created(assistant()))
    conversation.process_event(
        ev("response.content_part.added", response_id="resp_1", item_id="item_a", output_index=0, content_index=0,
           part={"type": "text", "text": ""})
    )
    conversation.process_event(
        ev("response.text.delta", response_id="resp_1", item_id="item_a", output_index=0, content_index=0, delta="Hel")
    )
    item, _ = conversation.process_event(
        ev("response.text.done", response_id="resp_1", item_id="item_a", output_index=0, content_index=0, text="Hello.")
    )
    assert item["content"][0]["text"] == "Hello." and item["formatted"]["text"] == "Hello."


def test_g711_output_is_decoded_to_int16() -> None:
    conversation = Conversation(output_audio_format="g711_ulaw")
    conversation.process_event(ev("response.created", response={"id": "resp_1", "output": [], "status": "in_progress"}))
    conversation.process_event(item_created(assistant(content=[{"type": "audio", "transcript": ""}])))
    samples = np.array([0, 1000, -1000, 30000], dtype=np.int16)
    wire = rs_audio.ulaw_encode(samples)
    item, delta = conversation.process_event(
        ev("response.audio.delta", response_id="resp_1", item_id="item_a", output_index=0, content_index=0,
           delta=base64.b64encode(wire).decode())
    )
    assert delta["audio"].dtype == np.int16
    np.testing.assert_array_equal(delta["audio"], rs_audio.ulaw_decode(wire))
    np.testing.assert_array_equal(item["formatted"]["audio"], rs_audio.ulaw_decode(wire))


# ---------------------------------------------------------------------------
# More of RealtimeClient: helpers for scripts and notebooks, tool results
# ---------------------------------------------------------------------------


def test_tool_result_is_json_encoded_even_for_a_string(scripted: Any) -> None:
    client = RealtimeClient(url=scripted.url, protocol="beta")
    client.add_tool({"name": "t", "parameters": {"type": "object"}}, lambda args: "sunny")
    client.connect(timeout=WAIT)
    try:
        scripted.wait_for("session.update")
        scripted.response_created("resp_1")
        scripted.function_call("item_f", "call_1", "t", "{}", "resp_1")
        scripted.response_done("resp_1")
        output = scripted.wait_for("conversation.item.create")[0]["item"]["output"]
    finally:
        client.disconnect()
    assert output == json.dumps("sunny")


def test_context_manager_and_ask_against_the_simulator(make_simulator: Any) -> None:
    release = threading.Event()

    def responder(items: List[Event], session: Event) -> str:
        text = items[-1]["content"][0].get("text", "") if items and items[-1].get("content") else ""
        if text == "wait":
            release.wait(WAIT)
        return f"You said: {text}"

    sim = make_simulator(responder=responder)
    with RealtimeClient(url=sim.url) as client:
        assert client.is_connected() is True
        client.update_session(modalities=["text"])
        reply = client.ask("hello", timeout=WAIT)
        assert reply is not None and reply["role"] == "assistant"
        assert reply["formatted"]["text"] == "You said: hello"
        try:
            with pytest.raises(RealtimeTimeoutError):
                client.ask("wait", timeout=0.2)
        finally:
            release.set()
    assert client.is_connected() is False


# ---------------------------------------------------------------------------
# The simulator's error events "as the real server sends them"
# ---------------------------------------------------------------------------


def test_simulator_rejects_short_commits_and_a_second_response(make_simulator: Any) -> None:
    release = threading.Event()

    def slow(items: List[Event], session: Event) -> str:
        release.wait(WAIT)
        return "done"

    sim = make_simulator(responder=slow)
    api = RealtimeAPI(url=sim.url)
    rec = EventRecorder()
    for name in ("server.session.created", "server.error", "server.response.created"):
        api.on(name, rec.callback(name))
    api.connect(timeout=WAIT)
    try:
        rec.wait("server.session.created")
        api.send("input_audio_buffer.append", {"audio": b64(np.zeros(240, dtype=np.int16))})  # 10 ms
        commit = api.send("input_audio_buffer.commit")
        error = rec.wait("server.error")[0]
        assert error["error"]["event_id"] == commit["event_id"]
        assert error["error"]["code"] == "input_audio_buffer_commit_empty"

        api.send("response.create")
        rec.wait("server.response.created")
        second = api.send("response.create")
        error = rec.wait("server.error", 2)[1]
        assert error["error"]["event_id"] == second["event_id"]
        assert error["error"]["code"] == "conversation_already_has_active_response"
        assert len(rec.of("server.response.created")) == 1
    finally:
        release.set()
        api.disconnect()


# ---------------------------------------------------------------------------
# Dialects, devices without pyaudio, resampling rates, reset
# ---------------------------------------------------------------------------


def test_server_listeners_see_the_raw_ga_wire_event_and_the_model_is_the_same() -> None:
    pytest.importorskip("websockets")
    with support_client.ScriptedServer(protocol="ga") as server:
        client = RealtimeClient(url=server.url, protocol="ga")
        rec = EventRecorder()
        client.realtime.on("server.*", rec.callback("server.*"))
        client.on("conversation.updated", rec.callback("updated"))
        client.connect(timeout=WAIT)
        try:
            server.response_created("resp_1")
            server.assistant_item("item_a", "resp_1", audio=False)
            server.send(
                ev("response.text.delta", response_id="resp_1", item_id="item_a", output_index=0,
                   content_index=0, delta="Hi")
            )
            texts = [p for p in rec.wait("updated", 1) if p["delta"] == {"text": "Hi"}]
            while not texts:
                updates = rec.wait("updated", len(rec.of("updated")) + 1)
                texts = [p for p in updates if p["delta"] == {"text": "Hi"}]
            wire_types = [p["type"] for p in rec.of("server.*")]
        finally:
            client.disconnect()
    assert "response.output_text.delta" in wire_types and "response.text.delta" not in wire_types
    assert texts[0]["item"]["formatted"]["text"] == "Hi"


def test_devices_import_without_pyaudio_and_say_what_is_missing() -> None:
    code = (
        "import sys\n"
        "sys.modules['pyaudio'] = None  # as if it were not installed\n"
        "from realtime_sync.devices import Microphone, Speaker\n"
        "from realtime_sync.errors import RealtimeError\n"
        "for cls in (Microphone, Speaker):\n"
        "    device = cls()\n"
        "    try:\n"
        "        device.start()  # the first use opens the device\n"
        "    except RealtimeError as exc:\n"
        "        assert 'pyaudio' in str(exc), exc\n"
        "    else:\n"
        "        raise SystemExit(cls.__name__ + ' started without pyaudio')\n"
        "    finally:\n"
        "        device.close()\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_resample_between_the_design_rates() -> None:
    rates = (8000, 16000, 24000, 44100, 48000)
    x = (np.sin(np.arange(4410) / 7.0) * 10000).astype(np.int16)
    for rate_from in rates:
        for rate_to in rates:
            y = rs_audio.resample(x, rate_from, rate_to)
            assert y.dtype == np.int16 and len(y) == round(len(x) * rate_to / rate_from), (rate_from, rate_to)
            f = rs_audio.resample(x.astype(np.float32) / 32768, rate_from, rate_to)
            assert f.dtype == np.float32 and len(f) == len(y)


def test_reset_then_connect_again(scripted: Any) -> None:
    client = RealtimeClient(url=scripted.url, protocol="beta")
    client.update_session(instructions="first")
    called: List[Any] = []
    client.on("conversation.item.appended", called.append)
    client.connect(timeout=WAIT)
    client.reset()
    assert client.is_connected() is False and client.conversation.get_items() == []
    assert client.session_config.get("instructions") != "first"  # the default config again
    appended = threading.Event()
    client.on("conversation.item.appended", lambda event: appended.set())
    try:
        assert client.connect(timeout=WAIT) is True
        assert client.wait_for_session_created(timeout=WAIT)
        scripted.wait_for_connection(2)  # the second connection has reached the server; under load the first
        scripted.send(item_created(user("item_r")))  # one's handler may register after it: send on the open one
        assert appended.wait(WAIT)
        assert client.conversation.get_item("item_r") is not None
    finally:
        client.disconnect()
    assert called == []  # reset removed the callbacks, as the reference does


# ---------------------------------------------------------------------------
# "What real servers do that trips clients", through the simulator
# ---------------------------------------------------------------------------


def test_transcription_before_its_item_reaches_the_user_item(make_simulator: Any) -> None:
    sim = make_simulator(transcriber="turn on the lights", transcript_before_item=True)
    client = RealtimeClient(url=sim.url)
    rec = EventRecorder()
    client.realtime.on("server.*", rec.callback("server.*"))
    client.on("conversation.item.completed", rec.callback("completed"))
    client.connect(timeout=WAIT)
    try:
        client.update_session(
            modalities=["text"], turn_detection=None, input_audio_transcription={"model": "whisper-1"}
        )
        speech = (np.sin(np.arange(12000) / 3.0) * 12000).astype(np.int16)  # 0.5 s
        client.append_input_audio(speech)
        client.create_response()
        completed = rec.wait("completed", 2)  # the user item, then the reply
    finally:
        client.disconnect()
    user_item = completed[0]["item"]
    assert user_item["role"] == "user"
    np.testing.assert_array_equal(user_item["formatted"]["audio"], speech)
    assert user_item["formatted"]["transcript"] == "turn on the lights"
    order = [p["type"] for p in rec.of("server.*")]
    assert order.index("conversation.item.input_audio_transcription.completed") < order.index(
        "conversation.item.added"  # the GA wire's name for conversation.item.created
    )


def test_session_expiry_is_an_error_then_a_close(make_simulator: Any) -> None:
    sim = make_simulator(max_session_seconds=0.2)
    client = RealtimeClient(url=sim.url)
    rec = EventRecorder()
    client.on("error", rec.callback("error"))
    client.on("close", rec.callback("close"))
    client.connect(timeout=WAIT)
    try:
        close = rec.wait("close")[0]
        error = rec.wait("error")[0]
    finally:
        client.disconnect()
    assert isinstance(error["error"], ServerError) and error["error"].code == "session_expired"
    assert {"error", "code", "reason"} <= set(close)
    assert client.is_connected() is False


def test_simulator_truncation_and_deletion_reach_the_conversation(simulator: Any) -> None:
    client = RealtimeClient(url=simulator.url)
    rec = EventRecorder()
    client.on("conversation.item.completed", rec.callback("completed"))
    # On "server.*" after the client's own handler: it has processed the event.
    wanted = ("response.done", "conversation.item.truncated", "conversation.item.deleted")
    record = {name: rec.callback("server." + name) for name in wanted}
    client.realtime.on("server.*", lambda event: record[event["type"]](event) if event["type"] in record else None)
    client.connect(timeout=WAIT)
    try:
        client.update_session(modalities=["text", "audio"])
        client.send_user_message_content([{"type": "input_text", "text": "Tell me a story."}])
        rec.wait("server.response.done")
        reply = [p["item"] for p in rec.wait("completed", 2) if p["item"].get("role") == "assistant"][0]
        received = len(reply["formatted"]["audio"])
        assert received > 2400 and reply["formatted"]["transcript"]
        played = received // 2
        client.cancel_response(reply["id"], played)
        truncated = rec.wait("server.conversation.item.truncated")[0]
        assert truncated["audio_end_ms"] == math.floor(played / 24000 * 1000)
        item = client.conversation.get_item(reply["id"])
        assert len(item["formatted"]["audio"]) == math.floor(truncated["audio_end_ms"] * 24000 / 1000)
        assert item["formatted"]["transcript"] == ""

        client.delete_item(reply["id"])
        rec.wait("server.conversation.item.deleted")
        assert client.conversation.get_item(reply["id"]) is None
        assert reply["id"] not in [i["id"] for i in client.conversation.get_items()]
    finally:
        client.disconnect()


def test_connect_sends_the_config_set_before_it(scripted: Any) -> None:
    client = RealtimeClient(url=scripted.url, protocol="beta")
    client.update_session(instructions="set before connect", voice="verse")
    client.connect(timeout=WAIT)
    try:
        session = scripted.wait_for("session.update")[0]["session"]
    finally:
        client.disconnect()
    assert session["instructions"] == "set before connect" and session["voice"] == "verse"
    assert session["tools"] == []


# ---------------------------------------------------------------------------
# Packaging
# ---------------------------------------------------------------------------


def test_packaging_core_dependencies_extras_and_py_typed() -> None:
    import importlib.metadata
    import os

    dist = importlib.metadata.distribution("realtime_sync")
    assert dist.metadata["Requires-Python"].replace(" ", "") == ">=3.9"
    core = sorted(
        re.split(r"[<>=!~;\[ ]", requirement)[0].lower()
        for requirement in dist.requires or []
        if "extra ==" not in requirement
    )
    assert core == ["numpy", "websocket-client"]
    assert {"audio", "server", "test"} <= set(dist.metadata.get_all("Provides-Extra") or [])
    audio_extra = [r for r in dist.requires or [] if 'extra == "audio"' in r]
    assert any(r.lower().startswith("pyaudio") for r in audio_extra)
    assert os.path.exists(os.path.join(os.path.dirname(realtime_sync.__file__), "py.typed"))


def test_tool_round_trip_through_the_simulator(make_simulator: Any) -> None:
    from realtime_sync.simulator import Reply

    def responder(items: List[Event], session: Event) -> Any:
        if items and items[-1].get("type") == "function_call_output":
            return Reply(text="It is " + json.loads(items[-1]["output"])["sky"] + ".")
        return Reply(tool_name="get_weather", tool_arguments={"city": "Oslo"})

    sim = make_simulator(responder=responder)
    calls: List[Any] = []

    def get_weather(args: Dict[str, Any]) -> Any:
        calls.append(args)
        return {"sky": "sunny"}

    with RealtimeClient(url=sim.url) as client:
        client.update_session(modalities=["text"])
        client.add_tool({"name": "get_weather", "parameters": {"type": "object"}}, get_weather)
        reply = client.ask("What is the weather in Oslo?", timeout=WAIT)
        items = client.conversation.get_items()
    assert calls == [{"city": "Oslo"}]
    assert reply is not None and reply["formatted"]["text"] == "It is sunny."
    kinds = [item["type"] for item in items]
    assert kinds == ["message", "function_call", "function_call_output", "message"]
    assert json.loads(items[1]["formatted"]["tool"]["arguments"]) == {"city": "Oslo"}
    assert json.loads(items[2]["output"]) == {"sky": "sunny"}


def test_client_error_payload_names_the_client_event(simulator: Any) -> None:
    client = RealtimeClient(url=simulator.url)
    rec = EventRecorder()
    client.on("error", rec.callback("error"))
    client.connect(timeout=WAIT)
    try:
        client.append_input_audio(np.zeros(240, dtype=np.int16))  # 10 ms: too short to commit
        commit = client.realtime.send("input_audio_buffer.commit")
        payload = rec.wait("error")[0]
        assert client.is_connected()
    finally:
        client.disconnect()
    assert set(payload) >= {"error", "event", "client_event"}
    assert isinstance(payload["error"], ServerError) and isinstance(payload["error"], RealtimeError)
    assert payload["error"].code == "input_audio_buffer_commit_empty"
    assert payload["event"]["type"] == "error"
    assert payload["client_event"] is not None and payload["client_event"]["event_id"] == commit["event_id"]
    assert payload["client_event"]["type"] == "input_audio_buffer.commit"
