"""One simulated Realtime session: the protocol state machine of a connection.

Threads: :meth:`SimSession.run` runs on the connection's handler thread (the
``websockets`` server starts one per connection) and reads client events; a
per-session streaming thread (``realtime-sync-sim-stream``, code in
:mod:`realtime_sync._sim_stream`) calls the responder and streams responses,
so ``response.cancel`` and new input are handled while a response streams.
``_lock`` guards the session state; ``_send_lock`` serialises frames on the
socket. Paced waits sleep on the response's cancel event, so a
cancel or :meth:`SimSession.close` interrupts them at once.
"""

from __future__ import annotations

import binascii
import copy
import json
import logging
import queue
import re
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from . import audio as _audio
from ._sim_config import (
    ClientError,
    apply_session_update,
    default_session,
    invalid_type,
    invalid_value,
    new_id,
    response_config,
    validate_item,
)
from ._sim_responder import (
    Responder,
    default_responder,
    describe_audio,
)
from ._sim_stream import Closed, SimResponse, StreamingMixin
from ._sim_vad import EnergyVAD

__all__ = ["MAX_EVENT_BYTES", "SimOptions", "SimSession", "Transcriber"]

logger = logging.getLogger("realtime_sync.simulator")

#: A transcriber gets the committed int16 samples and their rate, returns text.
Transcriber = Callable[[np.ndarray, int], Optional[str]]

_CLIENT_EVENTS = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
)
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_MIN_COMMIT_MS = 100.0
#: Largest client frame the simulator acts on (larger ones get an ``error``).
MAX_EVENT_BYTES = 16 * 1024 * 1024
_SEND_STUCK_AFTER = 0.5  # seconds close() lets a send in progress finish


@dataclass
class SimOptions:
    """Behaviour shared by every session of a simulator (see RealtimeSimulator)."""

    responder: Responder = default_responder
    speed: Optional[float] = 50.0
    audio_chunk_ms: int = 100
    transcriber: Union[Transcriber, Sequence[Optional[str]], None] = None
    drop_after: Optional[int] = None
    malformed_frame_after: Optional[int] = None
    error_after: Optional[int] = None
    error: Optional[Dict[str, Any]] = None
    event_delay: float = 0.0
    max_session_seconds: Optional[float] = None
    transcript_before_item: bool = False
    rate_limit_requests: int = 5000
    rate_limit_tokens: int = 200000


def _reject_constant(name: str) -> Any:
    """``json.loads`` hook: NaN and Infinity are not JSON (Python accepts them)."""
    raise ValueError(f"{name} is not valid JSON")


def _required_string(event: Dict[str, Any], key: str) -> str:
    """``event[key]``, which must be present and a string.

    Raises:
        ClientError: missing (``missing_required_parameter``) or not a string.
    """
    if key not in event or event[key] is None:
        raise ClientError("missing_required_parameter", f"Missing required parameter: '{key}'.", key)
    value = event[key]
    if not isinstance(value, str):
        raise invalid_type(key, "a string", value)
    return value


class _InputBuffer:
    """The input audio buffer: int16 chunks with absolute sample positions.

    Appends cost O(chunk); ``take`` concatenates once.
    """

    def __init__(self) -> None:
        self.chunks: List[np.ndarray] = []
        self.start = 0  # absolute sample index of the first buffered sample
        self.length = 0

    @property
    def end(self) -> int:
        return self.start + self.length

    def append(self, samples: np.ndarray) -> None:
        if len(samples):
            self.chunks.append(samples)
            self.length += len(samples)

    def _joined(self) -> np.ndarray:
        if not self.chunks:
            return np.zeros(0, dtype=np.int16)
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        return self.chunks[0]

    def drop_before(self, position: int) -> None:
        """Forget samples before absolute index ``position``."""
        cut = min(max(0, position - self.start), self.length)
        if cut <= 0:
            return
        data = self._joined()[cut:]
        self.chunks = [data] if len(data) else []
        self.start += cut
        self.length -= cut

    def take(self, upto: Optional[int] = None) -> np.ndarray:
        """Remove and return samples up to absolute index ``upto`` (all if None)."""
        upto = self.end if upto is None else min(max(upto, self.start), self.end)
        data = self._joined()
        count = upto - self.start
        taken, rest = data[:count], data[count:]
        self.chunks = [rest] if len(rest) else []
        self.start = upto
        self.length = len(rest)
        return taken.copy()

    def clear(self) -> None:
        self.start = self.end
        self.chunks = []
        self.length = 0


class SimSession(StreamingMixin):
    """The state and behaviour of one simulated session (one WebSocket connection).

    Args:
        connection: a ``websockets.sync.server.ServerConnection``.
        model: the model named in the URL, echoed in the session.
        options: the simulator's options.
    """

    def __init__(self, connection: Any, model: str, options: SimOptions) -> None:
        self.connection = connection
        self.options = options
        self.session = default_session(model)
        self.conversation_id = new_id("conv")
        self.closed = threading.Event()
        self._lock = threading.RLock()
        self._send_lock = threading.Lock()
        self._sent = 0
        self._faults_done: set = set()
        self._items: List[Dict[str, Any]] = []
        self._audio: Dict[str, List[Any]] = {}  # assistant item id -> [int16 chunks, rate]
        self._heard: Dict[str, str] = {}  # user audio item id -> simulated transcript
        self._buffer = _InputBuffer()
        self._ms_base = 0.0  # ms of input audio before the current format segment
        self._vad: Optional[EnergyVAD] = None
        self._vad_item_id: Optional[str] = None
        self._active: Optional[SimResponse] = None
        self._audio_sent = False
        self._scripted = 0
        self._requests_left = options.rate_limit_requests
        self._tokens_left = options.rate_limit_tokens
        self._jobs: queue.Queue[Optional[SimResponse]] = queue.Queue()
        self._streamer = threading.Thread(
            target=self._stream_loop, name=f"realtime-sync-sim-stream-{self.session['id']}", daemon=True
        )
        self._configure_vad()

    # -- lifecycle (handler thread) -------------------------------------------

    @property
    def id(self) -> str:
        """The session id (``sess_...``)."""
        return str(self.session["id"])

    def run(self) -> None:
        """Serve the connection until it closes. Runs on the handler thread."""
        from websockets.exceptions import ConnectionClosed

        self._streamer.start()
        try:
            with self._lock:
                self._send({"type": "session.created", "session": copy.deepcopy(self.session)})
                self._send(
                    {
                        "type": "conversation.created",
                        "conversation": {"id": self.conversation_id, "object": "realtime.conversation"},
                    }
                )
            limit = self.options.max_session_seconds
            deadline = None if limit is None else time.monotonic() + limit
            while not self.closed.is_set():
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    self._expire()
                    break
                try:
                    message = self.connection.recv(timeout=timeout)
                except TimeoutError:
                    continue
                self.handle(message)
        except (Closed, ConnectionClosed, OSError):
            pass
        except Exception:
            # websockets 13.0 can fail an assertion when close() races recv(); harmless while closing
            if not self.closed.is_set():
                raise
            logger.debug("simulator %s: error while closing", self.id, exc_info=True)
        finally:
            self._stop_streamer()

    def _expire(self) -> None:
        """End the session as the real server does when it hits its maximum duration."""
        limit = float(self.options.max_session_seconds or 0)
        minutes = limit / 60.0
        duration = f"{minutes:g} minutes" if limit >= 60 else f"{limit:g} seconds"
        with self._lock:
            if self._active is not None:
                self._active.cancel("client_cancelled")
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
        self.connection.close(1000, "session expired")

    def _stop_streamer(self) -> None:
        self.closed.set()
        with self._lock:
            if self._active is not None:
                self._active.cancel("client_cancelled")
            # responses queued but not started are dropped
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job.cancel("client_cancelled")
        self._jobs.put(None)
        if self._streamer.is_alive() and self._streamer is not threading.current_thread():
            self._streamer.join(timeout=5.0)
            if self._streamer.is_alive():
                logger.warning("simulator streaming thread %s did not stop", self._streamer.name)

    def close(self) -> None:
        """Stop streaming and close the connection (any thread)."""
        self.closed.set()  # from now on _send refuses to write
        active = self._active  # no lock: the streamer may hold it while blocked in a send
        if active is not None:
            active.cancel_event.set()
        if self._send_lock.acquire(timeout=_SEND_STUCK_AFTER):
            self._send_lock.release()
        else:
            # a client that stopped reading leaves a send blocked on a full socket
            # buffer (holding the connection's lock): cut the socket to unblock it
            self._cut()
        try:
            self.connection.close(1001, "simulator stopping")
        except Exception:
            logger.debug("closing a simulator connection failed", exc_info=True)

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the streaming thread to end (seconds, None = forever)."""
        if self._streamer.is_alive() and self._streamer is not threading.current_thread():
            self._streamer.join(timeout)

    # -- sending ----------------------------------------------------------------

    def send_event(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """Send one server event (an ``event_id`` is added); returns it as sent. Any thread.

        Raises:
            ConnectionError: the connection is closed.
        """
        try:
            return self._send(event)
        except Closed:
            raise ConnectionError("the simulator session is closed") from None

    def _send(self, event: Dict[str, Any]) -> Dict[str, Any]:
        """Add an event_id, apply faults, and write one server event. Any thread."""
        from websockets.exceptions import ConnectionClosed

        event = {"event_id": new_id("event"), **event}
        opts = self.options
        if opts.event_delay > 0 and self.closed.wait(opts.event_delay):
            raise Closed()
        frame = json.dumps(event)
        with self._send_lock:
            if self.closed.is_set():
                raise Closed()
            try:
                if opts.drop_after is not None and self._sent >= opts.drop_after:
                    self._drop()
                    raise Closed()
                self.connection.send(frame)
                self._sent += 1
                if opts.malformed_frame_after is not None and self._sent == opts.malformed_frame_after:
                    self.connection.send('{"type": "response.text.delta", "delta": ')
                if opts.error_after is not None and self._sent == opts.error_after:
                    error = opts.error or {
                        "type": "server_error",
                        "code": None,
                        "message": "The server had an error while processing your request (injected by the simulator).",
                        "param": None,
                        "event_id": None,
                    }
                    self.connection.send(json.dumps({"event_id": new_id("event"), "type": "error", "error": error}))
            except (ConnectionClosed, OSError) as exc:
                raise Closed() from exc
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("simulator %s sent %s %s", self.id, event["type"], event["event_id"])
        return event

    def _drop(self) -> None:
        """Fault: end the TCP connection abruptly, without a close frame."""
        self._faults_done.add("drop")
        self.closed.set()
        self._cut()

    def _cut(self) -> None:
        """Shut the TCP socket down both ways: blocked reads and writes end at once."""
        try:
            self.connection.socket.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _error(self, exc: ClientError, client_event_id: Optional[str]) -> None:
        self._send({"type": "error", "error": exc.to_error(client_event_id)})

    # -- receiving (handler thread) -------------------------------------------

    def handle(self, message: Union[str, bytes]) -> None:
        """Parse and act on one client frame (handler thread).

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
            with self._lock:
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
                event = json.loads(message, parse_constant=_reject_constant)
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
        elif event_type not in _CLIENT_EVENTS:
            problem = invalid_value("type", event_type, _CLIENT_EVENTS)
        if problem is not None:
            self._error(problem, event_id)
            return None
        return event

    def _configure_vad(self) -> None:
        detection = self.session.get("turn_detection")
        if not detection:
            self._vad = None
            self._vad_item_id = None
            return
        rate = _audio.sample_rate(self.session["input_audio_format"])
        threshold = float(detection.get("threshold", 0.5))
        padding = int(detection.get("prefix_padding_ms", 300))
        silence = int(detection.get("silence_duration_ms", 500))
        if self._vad is not None and self._vad.rate == rate:
            self._vad.configure(threshold, padding, silence)  # keeps position and speech state
        else:
            self._vad = EnergyVAD(
                rate,
                threshold=threshold,
                prefix_padding_ms=padding,
                silence_duration_ms=silence,
                position=self._buffer.end,
            )
            self._vad.reset(floor_sample=self._buffer.start)
            self._vad_item_id = None

    def _ms(self, sample: int) -> int:
        rate = _audio.sample_rate(self.session["input_audio_format"])
        return int(self._ms_base + sample * 1000 // rate)

    def _on_session_update(self, event: Dict[str, Any]) -> None:
        old_format = self.session["input_audio_format"]
        new = apply_session_update(self.session, event.get("session"), audio_sent=self._audio_sent)
        if new["input_audio_format"] != old_format:
            # a new format restarts the buffer; session time keeps counting
            old_rate = _audio.sample_rate(old_format)
            self._ms_base += self._buffer.end * 1000.0 / old_rate
            self._buffer = _InputBuffer()
            self._vad = None
        self.session = new
        self._configure_vad()
        self._send({"type": "session.updated", "session": copy.deepcopy(self.session)})

    def _on_input_audio_buffer_append(self, event: Dict[str, Any]) -> None:
        data = event.get("audio")
        if data is None:
            raise ClientError("missing_required_parameter", "Missing required parameter: 'audio'.", "audio")
        samples = self._decode_input_audio(data, "audio")
        self._buffer.append(samples)
        if self._vad is not None:
            self._run_vad(samples)

    def _decode_input_audio(self, data: Any, param: str) -> np.ndarray:
        """Strictly decode base64 input audio in the session's input format.

        Raises:
            ClientError: ``invalid_value`` naming ``param`` for anything that is
                not canonical base64 (a lenient decoder would drop bad characters).
        """
        audio_format = self.session["input_audio_format"]
        if isinstance(data, str) and not len(data) % 4 and _BASE64.match(data):
            try:
                return _audio.decode_audio(data, audio_format)
            except (ValueError, binascii.Error):
                pass
        raise ClientError(
            "invalid_value",
            f"Invalid '{param}'. Expected base64-encoded audio bytes "
            + ("(mono PCM16 at 24kHz)" if audio_format == "pcm16" else "(mono G.711 at 8kHz)")
            + " but got an invalid value.",
            param,
        )

    def _run_vad(self, samples: np.ndarray) -> None:
        assert self._vad is not None
        detection = self.session.get("turn_detection") or {}
        for vad_event in self._vad.feed(samples):
            if vad_event.kind == "started":
                self._vad_item_id = new_id("item")
                self._buffer.drop_before(vad_event.sample)
                active = self._active
                if active is not None and detection.get("interrupt_response", True):
                    active.cancel("turn_detected")
                self._send(
                    {
                        "type": "input_audio_buffer.speech_started",
                        "audio_start_ms": self._ms(vad_event.sample),
                        "item_id": self._vad_item_id,
                    }
                )
            else:
                item_id = self._vad_item_id or new_id("item")
                self._vad_item_id = None
                self._send(
                    {
                        "type": "input_audio_buffer.speech_stopped",
                        "audio_end_ms": self._ms(vad_event.sample),
                        "item_id": item_id,
                    }
                )
                self._commit(self._buffer.take(vad_event.sample), item_id)
                if detection.get("create_response", True):
                    try:
                        self._start_response(response_config(self.session, None), None)
                    except ClientError:
                        # a response that speech did not interrupt (interrupt_response false) goes on
                        logger.debug("simulator %s: turn ended during an active response", self.id)
        if not self._vad.speaking:
            # while nobody speaks, keep only the audio a future prefix padding may need
            pad = self._vad.prefix_padding_ms * self._vad.rate // 1000
            self._buffer.drop_before(self._buffer.end - pad - self._vad.frame_len)

    def _on_input_audio_buffer_commit(self, event: Dict[str, Any]) -> None:
        rate = _audio.sample_rate(self.session["input_audio_format"])
        buffered_ms = self._buffer.length * 1000.0 / rate
        if buffered_ms < _MIN_COMMIT_MS:
            raise ClientError(
                "input_audio_buffer_commit_empty",
                "Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, "
                f"but buffer only has {buffered_ms:.2f}ms of audio.",
                None,
            )
        item_id = self._vad_item_id or new_id("item")
        self._vad_item_id = None
        end = self._buffer.end
        self._commit(self._buffer.take(), item_id)
        if self._vad is not None:
            self._vad.reset(floor_sample=end)

    def _commit(self, samples: np.ndarray, item_id: str) -> None:
        """Turn committed audio into a user item (lock held)."""
        rate = _audio.sample_rate(self.session["input_audio_format"])
        transcript = self._transcribe(samples, rate)
        self._heard[item_id] = transcript or ""
        previous = self._items[-1]["id"] if self._items else None
        self._send({"type": "input_audio_buffer.committed", "previous_item_id": previous, "item_id": item_id})
        part: Dict[str, Any] = {"type": "input_audio", "transcript": None}
        item: Dict[str, Any] = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [part],
        }
        self._items.append(item)
        transcribing = bool(self.session.get("input_audio_transcription"))
        if transcribing and self.options.transcript_before_item:
            self._send_transcription(item_id, part, transcript, len(samples) / float(rate))
        self._send({"type": "conversation.item.created", "previous_item_id": previous, "item": copy.deepcopy(item)})
        if transcribing and not self.options.transcript_before_item:
            self._send_transcription(item_id, part, transcript, len(samples) / float(rate))

    def _send_transcription(self, item_id: str, part: Dict[str, Any], transcript: Optional[str], seconds: float) -> None:
        if transcript is None:
            self._send(
                {
                    "type": "conversation.item.input_audio_transcription.failed",
                    "item_id": item_id,
                    "content_index": 0,
                    "error": {
                        "type": "transcription_error",
                        "code": "audio_unintelligible",
                        "message": "The audio could not be transcribed.",
                        "param": None,
                    },
                }
            )
            return
        part["transcript"] = transcript
        self._send(
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": {"type": "duration", "seconds": round(seconds, 3)},
            }
        )

    def _transcribe(self, samples: np.ndarray, rate: int) -> Optional[str]:
        """The simulated transcript of committed audio; None means transcription fails."""
        source = self.options.transcriber
        if source is None:
            return describe_audio(samples, rate)
        if callable(source):
            try:
                text = source(samples, rate)
            except Exception:
                logger.exception("simulator transcriber raised; using a description instead")
                return describe_audio(samples, rate)
            return None if text is None else str(text)
        scripted = source  # a tuple (RealtimeSimulator reads any iterable once)
        if not scripted:
            return ""
        text = scripted[self._scripted % len(scripted)]
        self._scripted += 1
        return None if text is None else str(text)

    def _on_input_audio_buffer_clear(self, event: Dict[str, Any]) -> None:
        end = self._buffer.end
        self._buffer.clear()
        self._vad_item_id = None
        if self._vad is not None:
            self._vad.reset(floor_sample=end)
        self._send({"type": "input_audio_buffer.cleared"})

    def _find(self, item_id: Any) -> int:
        for index, item in enumerate(self._items):
            if item["id"] == item_id:
                return index
        return -1

    def _on_conversation_item_create(self, event: Dict[str, Any]) -> None:
        raw = event.get("item")
        validate_item(raw)
        assert isinstance(raw, dict)  # validate_item checked it
        item: Dict[str, Any] = copy.deepcopy(raw)
        item_id = item.get("id") or new_id("item")
        if self._find(item_id) >= 0:
            raise ClientError("invalid_value", f"Item with id '{item_id}' already exists.", "item.id")
        previous_id = event.get("previous_item_id")
        if previous_id is not None:
            position = self._find(previous_id)
            if position < 0:
                raise ClientError(
                    "invalid_value",
                    f"Previous item with item_id not found: {previous_id}",
                    "previous_item_id",
                )
            position += 1
        else:
            position = len(self._items)
        if item["type"] == "function_call_output" and not any(
            i.get("type") == "function_call" and i.get("call_id") == item["call_id"] for i in self._items
        ):
            raise ClientError(
                "invalid_value",
                f"Tool call ID '{item['call_id']}' not found in conversation.",
                "item.call_id",
            )
        # the server's field order: id, object, type, status, then the rest
        rest = {k: v for k, v in item.items() if k not in ("id", "object", "type", "status")}
        item = {"id": item_id, "object": "realtime.item", "type": item["type"], "status": "completed", **rest}
        if item["type"] == "message":
            content = []
            for index, part in enumerate(item["content"]):
                part = dict(part)
                if part["type"] == "input_audio":
                    data = part.pop("audio", "") or ""
                    samples = self._decode_input_audio(data, f"item.content[{index}].audio")
                    rate = _audio.sample_rate(self.session["input_audio_format"])
                    self._heard[item_id] = part.get("transcript") or self._transcribe(samples, rate) or ""
                    part.setdefault("transcript", None)
                content.append(part)
            item["content"] = content
        elif item["type"] == "function_call":
            item.setdefault("arguments", "")
        previous = self._items[position - 1]["id"] if position > 0 else None
        self._items.insert(position, item)
        self._send({"type": "conversation.item.created", "previous_item_id": previous, "item": copy.deepcopy(item)})

    def _on_conversation_item_truncate(self, event: Dict[str, Any]) -> None:
        item_id = _required_string(event, "item_id")
        for key in ("content_index", "audio_end_ms"):
            if key not in event:
                raise ClientError("missing_required_parameter", f"Missing required parameter: '{key}'.", key)
        position = self._find(item_id)
        if position < 0:
            raise ClientError("item_not_found", f"Item with item_id not found: {item_id}", "item_id")
        item = self._items[position]
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
            or item_id not in self._audio
        ):
            raise ClientError(
                "invalid_value",
                f"Content index {content_index} of item {item_id} is not an audio content part.",
                "content_index",
            )
        chunks, rate = self._audio[item_id]
        samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
        duration_ms = len(samples) * 1000 // rate
        if end_ms > duration_ms:
            raise ClientError(
                "invalid_value",
                f"Audio content of {duration_ms}ms is already shorter than {end_ms}ms",
                "audio_end_ms",
            )
        self._audio[item_id] = [[samples[: end_ms * rate // 1000]], rate]
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
        position = self._find(item_id)
        if position < 0:
            raise ClientError("item_not_found", f"Item with item_id not found: {item_id}", "item_id")
        del self._items[position]
        self._audio.pop(item_id, None)
        self._heard.pop(item_id, None)
        self._send({"type": "conversation.item.deleted", "item_id": item_id})

    def _on_response_create(self, event: Dict[str, Any]) -> None:
        config = response_config(self.session, event.get("response"))
        if config["input"] is not None:
            for index, entry in enumerate(config["input"]):
                if isinstance(entry, dict) and entry.get("type") == "item_reference":
                    continue
                try:
                    validate_item(entry)
                except ClientError as exc:
                    exc.param = (exc.param or "").replace("item", f"response.input[{index}]", 1)
                    raise
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        self._start_response(config, event_id)

    def _start_response(self, config: Dict[str, Any], client_event_id: Optional[str]) -> None:
        in_conversation = config.get("conversation", "auto") != "none"
        active = self._active
        # a cancelled response still finishing does not block the next one (it is queued behind it)
        if in_conversation and active is not None and active.cancel_reason is None:
            raise ClientError(
                "conversation_already_has_active_response",
                "Conversation already has an active response",
                None,
            )
        response = SimResponse(new_id("resp"), config, client_event_id)
        if in_conversation:
            self._active = response
        self._jobs.put(response)

    def _on_response_cancel(self, event: Dict[str, Any]) -> None:
        wanted = event.get("response_id")
        active = self._active
        if active is None or (wanted is not None and wanted != active.id) or active.cancel_reason is not None:
            raise ClientError("response_cancel_not_active", "Cancellation failed: no active response found", None)
        active.cancel("client_cancelled")
