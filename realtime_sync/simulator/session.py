"""One simulated Realtime session: the protocol state machine of a connection.

:class:`SimSession` acts on the client events of one connection, on the
simulator's loop thread (:mod:`.runtime`; the connection's
:class:`~.channel.Channel` reads them and hands each to :meth:`SimSession.handle`,
plain synchronous code that never waits; with a custom transcriber, which
may be slow, on the runtime's pool instead, one event at a time). It is composed of small parts that
share a :class:`~.state.SessionState`: an :class:`~.outbox.Outbox` queues every
server frame, :class:`~.input_audio.InputAudio` handles the input audio buffer
and server VAD, and a :class:`~.streaming.ResponseStreamer` streams responses
as paced jobs on loop timers, so ``response.cancel`` and new input are handled
while a response streams. The state's lock guards the conversation (another
thread may inject a fault or a REST call's turn); a cancel or
:meth:`SimSession.close` ends a paced wait at once.
The session's :class:`~.wire.Wire` reads client events in its dialect (GA or
beta) and renders every event the parts send.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import time
from typing import Any, Dict, Optional, Union

import numpy as np

from .. import audio as _audio
from .channel import Channel
from .checks import ClientError, invalid_type, invalid_value, missing
from .config import new_id
from .input_audio import InputAudio
from .mcp import list_mcp_tools
from .outbox import Outbox
from .state import Closed, SessionState, SimOptions, SimResponse
from .streaming import ResponseStreamer
from .transcription import check_transcription_event, default_transcription_session, is_transcription
from .wire import Wire

__all__ = ["MAX_EVENT_BYTES", "SimSession"]

logger = logging.getLogger(__name__)

_SESSION_LIFETIME = 30 * 60  # seconds: what ``expires_at`` announces when the simulator sets no limit
#: Largest client frame the simulator acts on (larger ones get an ``error``).
MAX_EVENT_BYTES = 16 * 1024 * 1024

def _reject_constant(name: str) -> Any:
    """``json.loads`` hook: NaN and Infinity are not JSON (Python accepts them)."""
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)  # made once: json.loads(..., **options) makes one per call


def _required_string(event: Dict[str, Any], key: str) -> str:
    """``event[key]``, which must be present and a string.

    Raises:
        ClientError: missing (``missing_required_parameter``) or not a string.
    """
    if key not in event or event[key] is None:
        raise missing(key)
    value = event[key]
    if not isinstance(value, str):
        raise invalid_type(key, "a string", value)
    return value


class SimSession:
    """The state and behaviour of one simulated session (one WebSocket connection).

    Args:
        channel: the connection's channel (its frames in and out, on the simulator's loop).
        model: the model named in the URL, echoed in the session (None: the dialect's default).
        options: the simulator's options.
        protocol: the session's wire dialect, ``"ga"`` or ``"beta"``.
        intent: the URL's ``intent``; ``"transcription"`` (GA) opens a
            transcription session (:mod:`.transcription`).
    """

    def __init__(
        self,
        channel: Channel,
        model: Optional[str],
        options: SimOptions,
        protocol: str = "beta",
        intent: Optional[str] = None,
    ) -> None:
        self.options = options
        self.wire = Wire(protocol)
        lifetime = options.max_session_seconds or _SESSION_LIFETIME
        expires_at = int(time.time() + lifetime)
        if intent == "transcription" and self.wire.ga:
            session = default_transcription_session(expires_at)
        else:
            session = self.wire.default_session(model or self.wire.default_model, expires_at)
        self.state = SessionState(session, new_id("conv"))
        self.closed = self.state.closed
        self.stopping = False  # close() was called: the connection ends with 1001, whoever closes it first
        self.runtime = channel.runtime
        self.channel = channel
        self.outbox = Outbox(channel, options, self.closed, self.id, self.wire.render)
        self._send = self.outbox.send
        self.input = InputAudio(self.state, options, self._send, self._respond_to_turn)
        self.streamer = ResponseStreamer(self.state, options, self._send, self.id, self.runtime, channel.ready)
        self._expiry: Any = None  # the max_session_seconds timer

    # -- lifecycle (loop thread) -----------------------------------------------

    @property
    def id(self) -> str:
        """The session id (``sess_...``)."""
        return str(self.state.session["id"])

    async def run(self) -> None:
        """Serve the connection until it closes (loop thread)."""
        with self.state.lock:
            self._send({"type": "session.created", "session": copy.deepcopy(self.state.session)})
            self._send(
                {
                    "type": "conversation.created",
                    "conversation": {"id": self.state.conversation_id, "object": "realtime.conversation"},
                }
            )
        limit = self.options.max_session_seconds
        if limit is not None and self.runtime.loop is not None:
            self._expiry = self.runtime.loop.call_at(time.monotonic() + limit, self._expire_now)
        await self.outbox.channel.run(self._receive, self._ended)

    def _receive(self, message: Union[str, bytes]) -> Optional["asyncio.Future[None]"]:
        """A client frame from the channel (loop thread): handled here, or on the runtime's pool.

        A custom transcriber is user code that may be slow: with one, the
        session's client events are handled on the pool, one at a time (the
        channel reads the next once this one is done), so a slow
        transcription holds up this session only, not the loop.
        """
        if callable(self.options.transcriber):
            return self.runtime.offload(self.handle, message)
        self.handle(message)
        return None

    def _expire_now(self) -> None:
        self._expiry = None
        try:
            self.expire()
        except Closed:
            pass

    def _ended(self) -> None:
        """The connection has closed, or the session ended it (loop thread)."""
        self.closed.set()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self.streamer.stop()
        if self.stopping:
            # a message that arrived as stop() began ends the session before stop()'s own close:
            # close with 1001 here too, or the server library would close with 1000
            self.outbox.close(1001, "simulator stopping")

    def expire(self) -> None:
        """End the session as the real server does when it hits its maximum duration (any thread).

        Raises:
            Closed: the connection was already closed.
        """
        limit = float(self.options.max_session_seconds or _SESSION_LIFETIME)
        minutes = limit / 60.0
        duration = f"{minutes:g} minutes" if limit >= 60 else f"{limit:g} seconds"
        with self.state.lock:
            if self.state.active is not None:
                self.state.active.cancel("client_cancelled")
            self._send(
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "code": "session_expired",
                        "message": f"Your session hit the maximum duration of {duration}.",
                        "param": None,
                        "event_id": None,
                    },
                }
            )
        self.closed.set()
        self.outbox.close(1000, "session expired")

    def close(self) -> None:
        """Stop streaming and close the connection with 1001, after the frames already queued (any thread)."""
        self.stopping = True
        self.closed.set()  # from now on the outbox refuses to write
        self.streamer.stop()
        self.outbox.close(1001, "simulator stopping")

    def drop(self) -> None:
        """Fault: end the connection abruptly, without a close frame (any thread)."""
        self.outbox.drop()

    def send_malformed_frame(self) -> None:
        """Fault: send one frame that is not valid JSON (any thread).

        Raises:
            ConnectionError: the connection is closed.
        """
        try:
            self.outbox.send_malformed()
        except Closed:
            raise ConnectionError("the simulator session is closed") from None

    # -- sending ----------------------------------------------------------------

    def send_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """Send one server event (an ``event_id`` is added); returns it as sent. Any thread.

        Raises:
            ConnectionError: the connection is closed.
        """
        try:
            return self.outbox.send(event, raw=True)
        except Closed:
            raise ConnectionError("the simulator session is closed") from None

    def _error(self, exc: ClientError, client_event_id: Optional[str]) -> None:
        self._send({"type": "error", "error": exc.to_error(client_event_id)})

    # -- receiving (loop thread) ---------------------------------------------

    def handle(self, message: Union[str, bytes]) -> None:
        """Parse and act on one client frame (loop thread; a fault's caller may use another).

        Whatever the frame holds, the answer is at most one ``error`` event and
        the session goes on: malformed frames, wrong types and unknown events
        get ``invalid_request_error``; a bug in the simulator itself is logged
        and reported as ``server_error``.
        """
        event = self._parse(message)
        if event is None:
            return
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            event_id = None
        event_type = event["type"]
        handler = getattr(self, "_on_" + event_type.replace(".", "_"))
        try:
            self.wire.check_event(event)
            if is_transcription(self.state.session):
                check_transcription_event(event_type)
            with self.state.lock:
                handler(event)
        except ClientError as exc:
            self._error(exc, event_id)
        except Closed:
            raise
        except Exception:
            logger.exception("simulator %s failed handling %s %s", self.id, event_type, event_id)
            self._error(
                ClientError(
                    None,
                    "The server had an error while processing your request. Sorry about that!",
                    None,
                    error_type="server_error",
                ),
                event_id,
            )

    def _parse(self, message: Union[str, bytes]) -> Optional[Dict[str, Any]]:
        """The client event in ``message``, or None after sending the error it deserves."""
        problem: Optional[ClientError] = None
        event: Any = None
        size = len(message)
        if isinstance(message, str) and 4 * size > MAX_EVENT_BYTES:
            size = len(message.encode("utf-8", "surrogatepass"))  # the frame's size on the wire
        if size > MAX_EVENT_BYTES:
            problem = ClientError(
                "message_too_large",
                f"Client event of {size} bytes is too large: the maximum is {MAX_EVENT_BYTES} bytes. "
                "Send audio in smaller input_audio_buffer.append events.",
            )
        elif not isinstance(message, str):
            problem = ClientError(
                "invalid_type", "Binary frames are not supported: send each client event as a JSON text frame."
            )
        else:
            try:
                if message.startswith("\ufeff"):  # as json.loads does
                    raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", message, 0)
                event = _DECODER.decode(message)
            except ValueError as exc:
                problem = ClientError("invalid_json", f"Invalid JSON: {exc}")
        if problem is None and not isinstance(event, dict):
            problem = ClientError("invalid_type", "Invalid client event: expected a JSON object.")
        if problem is not None:
            self._error(problem, None)
            return None
        assert isinstance(event, dict)
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        event_type = event.get("type")
        if event_type is None:
            # the spec's own example of an ``error`` event
            problem = ClientError("invalid_event", "The 'type' field is missing.", None)
        elif not isinstance(event_type, str):
            problem = invalid_type("type", "a string", event_type)
        elif event_type not in self.wire.client_events:
            problem = invalid_value("type", event_type, self.wire.client_events)
        if problem is not None:
            self._error(problem, event_id)
            return None
        return event

    def _on_session_update(self, event: Dict[str, Any]) -> None:
        old = self.state.session
        new = self.wire.session_update(old, event.get("session"), audio_sent=self.state.audio_sent)
        if new["input_audio_format"] != old["input_audio_format"]:
            self.input.restart(old["input_audio_format"])
        self.state.session = new
        self.input.configure_vad()
        self._send({"type": "session.updated", "session": copy.deepcopy(self.state.session)})
        listed = {i.get("server_label") for i in self.state.items if i.get("type") == "mcp_list_tools"}
        for tool in new["tools"]:
            if tool.get("type") == "mcp" and tool["server_label"] not in listed:
                listed.add(tool["server_label"])
                list_mcp_tools(self.state, self._send, tool, self.options.mcp_servers)

    def _on_input_audio_buffer_append(self, event: Dict[str, Any]) -> None:
        self.input.append(event)

    def _on_input_audio_buffer_commit(self, event: Dict[str, Any]) -> None:
        self.input.commit()

    def _on_input_audio_buffer_clear(self, event: Dict[str, Any]) -> None:
        self.input.clear()

    def _on_conversation_item_create(self, event: Dict[str, Any]) -> None:
        item = self.wire.item(event.get("item"))
        item_id = item.get("id") or new_id("item")
        if self.state.find(item_id) >= 0:
            raise ClientError("invalid_value", f"Item with id '{item_id}' already exists.", "item.id")
        previous_id = event.get("previous_item_id")
        if previous_id is not None:
            position = self.state.find(previous_id)
            if position < 0:
                raise ClientError(
                    "invalid_value",
                    f"Previous item with item_id not found: {previous_id}",
                    "previous_item_id",
                )
            position += 1
        else:
            position = len(self.state.items)
        if item["type"] == "function_call_output" and not any(
            i.get("type") == "function_call" and i.get("call_id") == item["call_id"] for i in self.state.items
        ):
            raise ClientError(
                "invalid_value",
                f"Tool call ID '{item['call_id']}' not found in conversation.",
                "item.call_id",
            )
        if item["type"] == "mcp_approval_response":
            request_id = item["approval_request_id"]
            if not any(i.get("type") == "mcp_approval_request" and i.get("id") == request_id for i in self.state.items):
                raise ClientError(
                    "invalid_value",
                    f"Approval request with id '{request_id}' not found in conversation.",
                    "item.approval_request_id",
                )
            item = {"id": item_id, **{k: v for k, v in item.items() if k != "id"}}
        else:
            # the server's field order: id, object, type, status, then the rest
            rest = {k: v for k, v in item.items() if k not in ("id", "object", "type", "status")}
            item = {"id": item_id, "object": "realtime.item", "type": item["type"], "status": "completed", **rest}
        if item["type"] == "message":
            content = []
            for index, part in enumerate(item["content"]):
                part = dict(part)
                if part["type"] == "input_audio":
                    data = part.pop("audio", "") or ""
                    samples = self.input.decode(data, f"item.content[{index}].audio")
                    rate = _audio.sample_rate(self.state.session["input_audio_format"])
                    self.state.heard[item_id] = part.get("transcript") or self.input.transcribe(samples, rate) or ""
                    part.setdefault("transcript", None)
                content.append(part)
            item["content"] = content
        elif item["type"] == "function_call":
            item.setdefault("arguments", "")
        previous = self.state.items[position - 1]["id"] if position > 0 else None
        self.state.items.insert(position, item)
        self._send({"type": "conversation.item.created", "previous_item_id": previous, "item": copy.deepcopy(item)})
        self._send({"type": "conversation.item.done", "previous_item_id": previous, "item": copy.deepcopy(item)})

    def _on_conversation_item_retrieve(self, event: Dict[str, Any]) -> None:
        item_id = _required_string(event, "item_id")
        position = self.state.find(item_id)
        if position < 0:
            raise ClientError("item_not_found", f"Item with item_id not found: {item_id}", "item_id")
        self._send({"type": "conversation.item.retrieved", "item": copy.deepcopy(self.state.items[position])})

    def _on_output_audio_buffer_clear(self, event: Dict[str, Any]) -> None:
        raise ClientError(
            "invalid_value",
            "output_audio_buffer.clear is only supported for WebRTC and SIP connections; over WebSocket "
            "stop playback on the client and send conversation.item.truncate.",
            "type",
        )

    def _on_conversation_item_truncate(self, event: Dict[str, Any]) -> None:
        item_id = _required_string(event, "item_id")
        for key in ("content_index", "audio_end_ms"):
            if key not in event:
                raise missing(key)
        position = self.state.find(item_id)
        if position < 0:
            raise ClientError("item_not_found", f"Item with item_id not found: {item_id}", "item_id")
        item = self.state.items[position]
        if item.get("type") != "message" or item.get("role") != "assistant":
            raise ClientError("invalid_value", "Only assistant messages can be truncated.", "item_id")
        content_index = event["content_index"]
        end_ms = event["audio_end_ms"]
        if not isinstance(end_ms, int) or isinstance(end_ms, bool):
            raise ClientError(
                "invalid_type",
                "Invalid type for 'audio_end_ms': expected an integer.",
                "audio_end_ms",
            )
        if end_ms < 0:
            raise ClientError(
                "integer_below_min_value",
                f"Invalid 'audio_end_ms': integer below minimum value. Expected a value >= 0, but got {end_ms} instead.",
                "audio_end_ms",
            )
        content = item.get("content") or []
        if (
            not isinstance(content_index, int)
            or not 0 <= content_index < len(content)
            or content[content_index].get("type") != "audio"
            or item_id not in self.state.audio
        ):
            raise ClientError(
                "invalid_value",
                f"Content index {content_index} of item {item_id} is not an audio content part.",
                "content_index",
            )
        chunks, rate = self.state.audio[item_id]
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        duration_ms = len(samples) * 1000 // rate
        if end_ms > duration_ms:
            raise ClientError(
                "invalid_value",
                f"Audio content of {duration_ms}ms is already shorter than {end_ms}ms",
                "audio_end_ms",
            )
        self.state.audio[item_id] = [[samples[: end_ms * rate // 1000]], rate]
        content[content_index]["transcript"] = ""
        self._send(
            {
                "type": "conversation.item.truncated",
                "item_id": item_id,
                "content_index": content_index,
                "audio_end_ms": end_ms,
            }
        )

    def _on_conversation_item_delete(self, event: Dict[str, Any]) -> None:
        item_id = _required_string(event, "item_id")
        position = self.state.find(item_id)
        if position < 0:
            raise ClientError("item_not_found", f"Item with item_id not found: {item_id}", "item_id")
        del self.state.items[position]
        self.state.audio.pop(item_id, None)
        self.state.heard.pop(item_id, None)
        self._send({"type": "conversation.item.deleted", "item_id": item_id})

    def _on_response_create(self, event: Dict[str, Any]) -> None:
        config = self.wire.response_config(self.state.session, event.get("response"))
        if config["input"] is not None:
            config["input"] = [
                entry
                if isinstance(entry, dict) and entry.get("type") == "item_reference"
                else self.wire.item(entry, f"response.input[{index}]")
                for index, entry in enumerate(config["input"])
            ]
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        self._start_response(config, event_id)

    def _start_response(self, config: Dict[str, Any], client_event_id: Optional[str]) -> None:
        in_conversation = config.get("conversation", "auto") != "none"
        active = self.state.active
        # a cancelled response still finishing does not block the next one (it is queued behind it)
        if in_conversation and active is not None and active.cancel_reason is None:
            raise ClientError(
                "conversation_already_has_active_response",
                "Conversation already has an active response",
                None,
            )
        response = SimResponse(new_id("resp"), config, client_event_id)
        if in_conversation:
            self.state.active = response
        self.streamer.submit(response)

    def _respond_to_turn(self) -> None:
        """Start the response a finished server-VAD turn asks for (lock held)."""
        if is_transcription(self.state.session):
            return  # a transcription session only transcribes
        try:
            self._start_response(self.wire.response_config(self.state.session, None), None)
        except ClientError:
            # a response that speech did not interrupt (interrupt_response false) goes on
            logger.debug("simulator %s: turn ended during an active response", self.id)

    def _on_response_cancel(self, event: Dict[str, Any]) -> None:
        wanted = event.get("response_id")
        active = self.state.active
        if active is None or (wanted is not None and wanted != active.id) or active.cancel_reason is not None:
            raise ClientError("response_cancel_not_active", "Cancellation failed: no active response found", None)
        active.cancel("client_cancelled")
