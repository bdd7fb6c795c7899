"""Saving a conversation's history and continuing it in a new session (realtime_sync.history).

Export is checked on plain item dicts and on conversations held by a real
client; restore runs against RealtimeSimulator (a real WebSocket server on
127.0.0.1), whose responder records what the server-side conversation holds.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List

import numpy as np
import pytest

from realtime_sync import RealtimeClient
from realtime_sync.errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    RealtimeTimeoutError,
    ServerError,
)
from realtime_sync.history import (
    HISTORY_FORMAT,
    HISTORY_VERSION,
    export_items,
    load_history,
    save_history,
)

if TYPE_CHECKING:  # the simulator needs the websockets package: the fixtures skip without it
    from realtime_sync.simulator import RealtimeSimulator

Simulator = Callable[..., "RealtimeSimulator"]

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a place",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
}


def user_text(text: str) -> Dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant_text(text: str) -> Dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}


class RecordingResponder:
    """The default responder, remembering the server-side items of every response."""

    def __init__(self) -> None:
        self.seen: List[List[Dict[str, Any]]] = []

    def __call__(self, items: List[Dict[str, Any]], session: Dict[str, Any]) -> Any:
        from realtime_sync.simulator import default_responder

        self.seen.append(items)
        return default_responder(items, session)


def talk_with_a_tool(client: RealtimeClient) -> None:
    """A text turn, then a tool call round trip (call, output, answer)."""
    client.update_session(modalities=["text"])
    client.add_tool(WEATHER_TOOL, lambda args: {"location": args["location"], "sky": "sunny"})
    assert client.ask("My name is Ada.", timeout=10) is not None
    reply = client.ask("What is the weather in Lisbon?", timeout=10)
    assert reply is not None and "sunny" in reply["formatted"]["text"]


def summary(items: List[Dict[str, Any]]) -> List[Any]:
    """(type, role or name/call_id, text or arguments/output) per item, server or client shaped."""
    rows: List[Any] = []
    for item in items:
        if item["type"] == "message":
            texts = [part.get("text") or part.get("transcript") for part in item["content"]]
            rows.append(("message", item["role"], " ".join(texts)))
        elif item["type"] == "function_call":
            rows.append(("function_call", item["name"], item["call_id"], item["arguments"]))
        else:
            rows.append(("function_call_output", item["call_id"], item["output"]))
    return rows


# -- export ---------------------------------------------------------------------------------


def test_export_from_a_finished_conversation_with_a_tool_call(simulator: RealtimeSimulator) -> None:
    with RealtimeClient(url=simulator.url) as client:
        talk_with_a_tool(client)
        items = client.conversation.get_items()
        history = client.export_history()

    assert json.loads(json.dumps(history)) == history  # plain JSON: no arrays, no numpy
    assert [entry["type"] for entry in history] == [
        "message", "message", "message", "function_call", "function_call_output", "message",
    ]
    for entry in history:
        assert not {"id", "status", "formatted", "object"} & set(entry)
    assert history[0] == user_text("My name is Ada.")
    assert history[1] == assistant_text(items[1]["formatted"]["text"])
    call, output = history[3], history[4]
    assert call["name"] == "get_weather" and call["call_id"] == items[3]["call_id"]
    assert json.loads(call["arguments"]) == {"location": "Lisbon"}
    assert output == {"type": "function_call_output", "call_id": call["call_id"], "output": items[4]["output"]}
    assert json.loads(output["output"]) == {"location": "Lisbon", "sky": "sunny"}
    assert history[5]["role"] == "assistant" and "sunny" in history[5]["content"][0]["text"]


def _formatted(text: str = "", transcript: str = "") -> Dict[str, Any]:
    return {"audio": np.ones(480, dtype=np.int16), "text": text, "transcript": transcript}


def test_export_turns_speech_into_text_and_skips_what_has_nothing_to_carry() -> None:
    items: List[Dict[str, Any]] = [
        {  # spoken user turn with a transcript: kept as text
            "id": "item_1", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": "Hi there"}],
            "formatted": _formatted(transcript="Hi there"),
        },
        {  # spoken user turn without a transcript: nothing to carry
            "id": "item_2", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": None}], "formatted": _formatted(),
        },
        {  # an empty transcription
            "id": "item_3", "type": "message", "role": "user", "status": "completed",
            "content": [{"type": "input_audio", "transcript": ""}], "formatted": _formatted(transcript=" "),
        },
        {  # spoken reply: its transcript as text
            "id": "item_4", "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "audio", "transcript": "Hello!"}], "formatted": _formatted(transcript="Hello!"),
        },
        {  # a reply truncated on playback: the listener never heard its transcript
            "id": "item_5", "type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "audio", "transcript": "Long story"}], "formatted": _formatted(),
        },
        {  # still streaming
            "id": "item_6", "type": "message", "role": "assistant", "status": "in_progress",
            "content": [{"type": "text", "text": "Wait for"}], "formatted": _formatted(text="Wait for"),
        },
        {  # cancelled
            "id": "item_7", "type": "message", "role": "assistant", "status": "incomplete",
            "content": [{"type": "text", "text": "Cut"}], "formatted": _formatted(text="Cut"),
        },
        {  # an output whose call is not in the history
            "id": "item_8", "type": "function_call_output", "call_id": "call_gone", "output": "{}",
            "formatted": {"output": "{}"},
        },
        {  # system message: input_text
            "id": "item_9", "type": "message", "role": "system", "status": "completed",
            "content": [{"type": "input_text", "text": "Be brief."}], "formatted": _formatted(text="Be brief."),
        },
    ]
    history = export_items(items)
    assert history == [
        user_text("Hi there"),
        assistant_text("Hello!"),
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be brief."}]},
    ]
    assert export_items(history) == history  # exporting an exported history changes nothing
    assert items[0]["id"] == "item_1" and "formatted" in items[0]  # the input is not modified


def test_export_rejects_what_is_not_a_list_of_items() -> None:
    with pytest.raises(ConfigurationError):
        export_items({"type": "message"})  # type: ignore[dict-item]
    with pytest.raises(ConfigurationError):
        export_items(["not an item"])  # type: ignore[list-item]


# -- files ----------------------------------------------------------------------------------


def test_save_and_load_round_trip(simulator: RealtimeSimulator, tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    with RealtimeClient(url=simulator.url) as client:
        talk_with_a_tool(client)
        written = save_history(path, client.conversation.get_items())
        assert written == client.export_history()
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == HISTORY_FORMAT and document["version"] == HISTORY_VERSION
    assert document["items"] == written
    assert load_history(path) == written
    assert load_history(str(path)) == written
    assert not (tmp_path / "chat.json.tmp").exists()


def test_load_accepts_a_bare_list_and_rejects_bad_files(tmp_path: Path) -> None:
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([user_text("hi")]), encoding="utf-8")
    assert load_history(bare) == [user_text("hi")]

    cases = {
        "not-json.json": "{nope",
        "other-format.json": json.dumps({"format": "something else", "version": 1, "items": []}),
        "future.json": json.dumps({"format": HISTORY_FORMAT, "version": 99, "items": []}),
        "no-items.json": json.dumps({"format": HISTORY_FORMAT, "version": 1, "items": {}}),
        "bad-entry.json": json.dumps({"format": HISTORY_FORMAT, "version": 1, "items": [{"type": "picture"}]}),
        "bad-role.json": json.dumps([{"type": "message", "role": "robot", "content": [{"type": "text"}]}]),
    }
    for name, text in cases.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigurationError):
            load_history(path)
    with pytest.raises(OSError):
        load_history(tmp_path / "missing.json")


# -- restore --------------------------------------------------------------------------------


def test_restore_into_a_new_session_and_continue(make_simulator: Simulator) -> None:
    responder = RecordingResponder()
    simulator = make_simulator(responder=responder)
    with RealtimeClient(url=simulator.url) as first:
        talk_with_a_tool(first)
        history = first.export_history()
        first_session = first.session["id"] if first.session else None

    with RealtimeClient(url=simulator.url) as second:
        second.update_session(modalities=["text"])
        tool_calls: List[Dict[str, Any]] = []
        second.add_tool(WEATHER_TOOL, tool_calls.append)
        assert second.wait_for_session_created(timeout=5)
        assert second.session is not None and second.session["id"] != first_session
        created = second.restore_history(history, timeout=10)

        assert summary(created) == summary(history)
        assert second.conversation.get_items() == created  # in the conversation, in order
        assert all(item["status"] == "completed" for item in created)
        assert [item["formatted"]["text"] for item in created if item["type"] == "message"] == [
            entry["content"][0]["text"] for entry in history if entry["type"] == "message"
        ]

        reply = second.ask("Do you remember me?", timeout=10)
        assert reply is not None and "Do you remember me?" in reply["formatted"]["text"]
        # The server-side conversation the next reply was based on: the history, then the new turn.
        assert summary(responder.seen[-1]) == summary(history) + [("message", "user", "Do you remember me?")]
        assert tool_calls == []  # a restored call is history: its tool does not run again
        # Continued again later: the restored items export like any other.
        assert second.export_history()[: len(history)] == history
        assert len(second.export_history()) == len(history) + 2


def test_restore_of_an_empty_history_sends_nothing(simulator: RealtimeSimulator) -> None:
    with RealtimeClient(url=simulator.url) as client:
        sent: List[Dict[str, Any]] = []
        client.realtime.on("client.conversation.item.create", sent.append)
        assert client.restore_history([]) == []
        assert sent == []


def test_invalid_entries_are_refused_before_anything_is_sent(simulator: RealtimeSimulator) -> None:
    with RealtimeClient(url=simulator.url) as client:
        sent: List[Dict[str, Any]] = []
        client.realtime.on("client.conversation.item.create", sent.append)
        bad_histories: List[Any] = [
            [user_text("fine"), {"type": "message", "role": "user", "content": []}],
            [user_text("fine"), {"type": "function_call", "name": "f"}],
            [user_text("fine"), {"type": "function_call_output", "call_id": "c", "output": {"not": "a string"}}],
            [user_text("fine"), "text"],
            {"type": "message"},
        ]
        for history in bad_histories:
            with pytest.raises(ConfigurationError):
                client.restore_history(history)
        assert sent == []
        assert client.conversation.get_items() == []


def test_an_item_the_server_rejects_raises_server_error(simulator: RealtimeSimulator) -> None:
    with RealtimeClient(url=simulator.url) as client:
        errors: List[Dict[str, Any]] = []
        client.on("error", errors.append)
        history = [
            user_text("Before the bad one"),
            {"type": "function_call_output", "call_id": "call_nowhere", "output": "{}"},
        ]
        with pytest.raises(ServerError) as caught:
            client.restore_history(history, timeout=10)
        assert caught.value.code == "invalid_value"
        assert "call_nowhere" in str(caught.value)
        # The error is still dispatched as usual, naming the event that caused it.
        assert errors and errors[-1]["error"] is caught.value
        assert errors[-1]["client_event"]["item"]["call_id"] == "call_nowhere"
        # The entry before it was created; the session goes on.
        assert [summary([item]) for item in client.conversation.get_items()] == [
            [("message", "user", "Before the bad one")]
        ]
        assert client.ask("Still there?", timeout=10) is not None


def test_restore_times_out_when_the_server_is_slow(make_simulator: Simulator) -> None:
    simulator = make_simulator(event_delay=0.5)
    with RealtimeClient(url=simulator.url) as client:
        with pytest.raises(RealtimeTimeoutError) as caught:
            client.restore_history([user_text("one"), user_text("two")], timeout=0.05)
        assert "of 2 history items" in str(caught.value)
        assert isinstance(caught.value, TimeoutError)


def test_restore_fails_when_the_connection_drops(make_simulator: Simulator) -> None:
    # The simulator sends session.created, conversation.created and session.updated (for
    # connect's session.update), then drops the connection instead of confirming the item,
    # which the client had written by then.
    simulator = make_simulator(drop_after=3)
    with RealtimeClient(url=simulator.url) as client:
        with pytest.raises(ConnectionClosedError):
            client.restore_history([user_text("one")], timeout=10)


def test_restore_needs_a_connection() -> None:
    client = RealtimeClient(url="ws://127.0.0.1:9")
    with pytest.raises(NotConnectedError):
        client.restore_history([user_text("hi")])


def test_restore_from_a_callback_raises_runtime_error(simulator: RealtimeSimulator) -> None:
    with RealtimeClient(url=simulator.url) as client:
        client.update_session(modalities=["text"])
        outcome: List[BaseException] = []
        done = threading.Event()

        def on_completed(payload: Dict[str, Any]) -> None:
            if done.is_set():
                return
            try:
                client.restore_history([user_text("hi")])
            except BaseException as exc:  # noqa: B036 - recorded for the assertion
                outcome.append(exc)
            done.set()

        client.on("conversation.item.completed", on_completed)
        client.send_text("Hello")
        assert done.wait(10)
        assert len(outcome) == 1 and isinstance(outcome[0], RuntimeError)
        assert "restore_history" in str(outcome[0])


def test_restore_over_the_ga_dialect_sends_ga_items(client_event_validator: Any) -> None:
    pytest.importorskip("websockets")
    from support_client import ScriptedServer

    def confirm(server: ScriptedServer, frame: Dict[str, Any]) -> None:
        if frame.get("type") == "conversation.item.create":  # a GA server answers conversation.item.added
            item = dict(frame["item"], object="realtime.item", status="completed")
            content = [dict(part, type={"output_text": "text"}.get(part["type"], part["type"])) for part in item["content"]]
            server.send({"type": "conversation.item.created", "previous_item_id": None, "item": dict(item, content=content)})

    history = [user_text("Hi, I am Ada."), assistant_text("Hello Ada!")]
    with ScriptedServer(protocol="ga", responder=confirm) as server:
        with RealtimeClient(url=server.url, protocol="ga") as client:
            created = client.restore_history(history, timeout=5)
            assert summary(created) == summary(history)
        frames = server.frames("conversation.item.create")
        assert [frame["item"]["content"][0]["type"] for frame in frames] == ["input_text", "output_text"]
        for frame in frames:
            client_event_validator(frame, "ga")
        assert server.errors == []


def test_export_keeps_a_system_message_the_conversation_left_in_progress() -> None:
    # The conversation (like the reference) marks every non-user message it
    # creates in_progress, and only a response ever completes it: a system
    # message added with conversation.item.create stays in_progress for good.
    # No response streams system messages, so it has to be exported.
    from realtime_sync.conversation import Conversation

    conversation = Conversation()
    for number, (role, text) in enumerate([("system", "Be brief."), ("user", "Hi")]):
        conversation.process_event({
            "event_id": f"event_{number}", "type": "conversation.item.created",
            "item": {"id": f"item_{number}", "object": "realtime.item", "type": "message", "role": role,
                     "status": "completed", "content": [{"type": "input_text", "text": text}]},
        })
    assert conversation.get_item("item_0")["status"] == "in_progress"
    assert export_items(conversation.get_items()) == [
        {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be brief."}]},
        user_text("Hi"),
    ]


# -- files written safely, bad files refused with our errors ------------------------------


def test_save_history_writes_a_private_temporary_file_and_never_follows_a_planted_link(tmp_path: Path) -> None:
    target = tmp_path / "victim.txt"
    target.write_text("precious", encoding="utf-8")
    path = tmp_path / "chat.json"
    (tmp_path / "chat.json.tmp").symlink_to(target)  # the old, predictable temporary name
    save_history(path, [user_text("hello")])
    assert target.read_text(encoding="utf-8") == "precious"
    assert load_history(path) == [user_text("hello")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.json", "chat.json.tmp", "victim.txt"]


def test_save_history_replaces_atomically_and_cleans_up_on_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    path = tmp_path / "chat.json"
    save_history(path, [user_text("first")])

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        save_history(path, [user_text("second")])
    monkeypatch.undo()
    assert load_history(path) == [user_text("first")]  # the old file is whole
    assert [p.name for p in tmp_path.iterdir()] == ["chat.json"]  # no temporary left behind


def test_a_lone_surrogate_in_save_history_raises_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "chat.json"
    with pytest.raises(ConfigurationError, match="surrogate"):
        save_history(path, [user_text("bad \ud800 text")])
    assert list(tmp_path.iterdir()) == []


def test_a_deeply_nested_history_file_raises_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(ConfigurationError, match="nested"):
        load_history(path)
