"""Live speech-to-text: a Realtime *transcription* session (GA ``session.type: "transcription"``).

:class:`RealtimeTranscriber` opens a transcription session (the URL gets
``?intent=transcription``, as OpenAI's live service wants), configures it
(transcription model, language, prompt, turn detection, noise reduction,
logprobs) and turns what the server sends into :class:`Utterance` objects:
one per turn of speech, with its item id, its text as it streams and when it
is final, its log probabilities when asked for, and its audio span.

Audio comes from a microphone (:meth:`RealtimeTranscriber.listen`), a WAV
file (:meth:`RealtimeTranscriber.transcribe_file`) or arrays
(:meth:`RealtimeTranscriber.append_audio`). Results come through callbacks
and a blocking iterator::

    with RealtimeTranscriber(language="en") as stt:       # connects
        stt.on("utterance.delta", lambda e: print(e["delta"], end=""))
        stt.listen()                                      # the default microphone
        for utterance in stt.utterances(timeout=30):
            print(utterance.item_id, utterance.text)

Callbacks (one dict argument each) run on the receive thread, in order:

- ``utterance.started`` ``{"utterance"}``: speech detected (or audio committed).
- ``utterance.delta`` ``{"utterance", "delta", "logprobs"}``: more text.
- ``utterance.completed`` ``{"utterance"}``: the final text.
- ``utterance.failed`` ``{"utterance", "error"}``: the server could not
  transcribe it (``error`` is the server's error object).
- ``error`` ``{"error": ServerError, "event"}``: the server refused something.
- ``close`` ``{"error", "code", "reason"}``: the connection ended.

An utterance's callbacks have all run by the time :meth:`~RealtimeTranscriber.utterances`
yields it.

Blocking calls follow the package's rule: a call that waits for events
(:meth:`~RealtimeTranscriber.utterances`,
:meth:`~RealtimeTranscriber.wait_for_utterance`) ends (the iteration stops,
the wait returns ``None``) when its timeout runs out; a call that does
something and waits for the result (:meth:`~RealtimeTranscriber.connect`,
:meth:`~RealtimeTranscriber.transcribe_file`) raises
:class:`~realtime_sync.errors.RealtimeTimeoutError`. When the connection
ends, every one of them raises
:class:`~realtime_sync.errors.ConnectionClosedError` at once.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Deque, Dict, Iterator, List, Mapping, Optional, Set, Tuple

import numpy as np

from . import audio as _audio
from ._transcription_config import SERVER_VAD, TRANSCRIPTION_MODELS, transcription_session
from ._utterance import SAMPLE_RATE, AudioLog, Utterance, ms_to_sample
from .api import RealtimeAPI, generate_id
from .errors import (
    ConfigurationError,
    ConnectionClosedError,
    NotConnectedError,
    RealtimeTimeoutError,
    ServerError,
)
from .events import EventHandler, Waiter

if TYPE_CHECKING:  # pragma: no cover
    from .devices import Microphone

__all__ = ["RealtimeTranscriber", "Utterance", "TRANSCRIPTION_MODELS", "SERVER_VAD", "SAMPLE_RATE"]

logger = logging.getLogger(__name__)

_KEEP_UNCLAIMED_MS = 15000  # audio kept while no utterance claims it (prefix padding looks back)
_FILE_CHUNK_MS = 100


class RealtimeTranscriber(EventHandler):
    """A live transcription session: audio in, :class:`Utterance` objects out.

    Args:
        url: the Realtime WebSocket URL (default OpenAI's); ``?intent=transcription``
            is added. For the simulator, its ``url``.
        api_key: the key (default ``OPENAI_API_KEY`` for OpenAI's host).
        model: the transcription model (``gpt-4o-transcribe``,
            ``gpt-4o-mini-transcribe``, ``whisper-1``...). A conversation model
            such as ``gpt-realtime`` raises ConfigurationError.
        language: ISO-639-1 code of the speech (``"en"``), or None to detect it.
        prompt: text that guides the transcription (vocabulary, style).
        turn_detection: how audio is cut into utterances: a ``server_vad`` or
            ``semantic_vad`` dict (default :data:`SERVER_VAD`), or None to cut
            them yourself with :meth:`commit`.
        noise_reduction: ``"near_field"``, ``"far_field"`` or None.
        include_logprobs: ask for log probabilities of the transcript tokens.
        keep_audio: keep each utterance's samples in :attr:`Utterance.audio`.
        session: more transcription-session settings, merged over the ones
            above as GA ``session`` keys (``{"audio": {"input": {"transcription":
            {"delay": "low"}}}}``); the server judges them.
        **api_options: passed to :class:`~realtime_sync.api.RealtimeAPI`
            (``debug``, ``headers``, ``ping_interval``, ``proxy``...).

    The constructor starts nothing; :meth:`connect` (or ``with``) does.

    Raises:
        ConfigurationError: an invalid argument.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        model: str = "gpt-4o-transcribe",
        language: Optional[str] = None,
        prompt: Optional[str] = None,
        turn_detection: Optional[Mapping[str, Any]] = SERVER_VAD,
        noise_reduction: Optional[str] = None,
        include_logprobs: bool = False,
        keep_audio: bool = False,
        session: Optional[Mapping[str, Any]] = None,
        **api_options: Any,
    ) -> None:
        super().__init__()
        config = transcription_session(model, language, prompt, turn_detection, noise_reduction, include_logprobs, session)
        if "protocol" in api_options or "on_server_event" in api_options:
            raise ConfigurationError("a transcription session speaks GA and handles its own events")
        query = dict(api_options.pop("query", None) or {})
        query["intent"] = "transcription"
        self.api = RealtimeAPI(url, api_key, protocol="ga", query=query, on_server_event=self._on_event, **api_options)
        self.api.on("close", self._on_close)
        self.include_logprobs = bool(include_logprobs)
        self.keep_audio = bool(keep_audio)
        #: The ``session`` sent in ``session.update`` on :meth:`connect`.
        self.config: Dict[str, Any] = config
        #: The session as the server last reported it (``session.created`` / ``.updated``).
        self.session: Optional[Dict[str, Any]] = None
        self._lock = threading.Lock()  # guards the state below; never held while sending
        self._append_lock = threading.Lock()  # one append (or commit) at a time, in order
        self._resampler: Optional[_audio.Resampler] = None
        self._open: Dict[str, Utterance] = {}
        self._finished: Deque[Utterance] = deque()
        self._next: Optional[Waiter] = None
        self._closed: Optional[ConnectionClosedError] = None
        self._pending_event: Dict[str, Waiter] = {}  # client event_id -> waiter of its answer
        self._audio = AudioLog()
        self._sent = 0  # samples sent
        self._committed_upto = 0  # manual turns: where the next commit's span starts
        self._manual_spans: Dict[str, Tuple[int, int]] = {}  # commit event_id -> its span, oldest first
        # transcribe_file() calls in progress: their utterances, and the ids of those delivered
        self._collectors: List[Tuple[List[Utterance], Set[str]]] = []
        self._microphone: Optional["Microphone"] = None

    def __repr__(self) -> str:
        return f"<RealtimeTranscriber {self.api.url!r} model={self.model!r} connected={self.is_connected()}>"

    @property
    def model(self) -> str:
        """The transcription model asked for."""
        return str(self.config["audio"]["input"]["transcription"].get("model"))

    # -- connection ------------------------------------------------------------

    def connect(self, timeout: Optional[float] = 10.0) -> RealtimeTranscriber:
        """Open the session, send its configuration and wait until the server accepts it; returns self.

        Raises:
            ServerError: the server refused the configuration (an unknown
                model, an unknown key...): its message names the setting. The
                connection is closed again.
            RealtimeTimeoutError: no answer within ``timeout`` seconds.
            RealtimeConnectionError: the socket could not be opened (see
                :meth:`RealtimeAPI.connect <realtime_sync.api.RealtimeAPI.connect>`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._closed = None
            self._open.clear()
            self._finished.clear()
            self._audio = AudioLog()
            self._sent = self._committed_upto = 0
            self._manual_spans.clear()
            self._resampler = None
        self.api.connect(timeout=timeout)
        try:
            self._request("session.update", {"session": copy.deepcopy(self.config)}, deadline, "session.updated")
        except BaseException:
            self.api.disconnect()
            raise
        return self

    def disconnect(self) -> None:
        """Stop the microphone (if :meth:`listen` started one) and close the connection.

        Idempotent; joins every thread this object started (unless called from a callback).
        """
        microphone, self._microphone = self._microphone, None
        if microphone is not None:
            microphone.close()
        self.api.disconnect()

    close = disconnect

    def is_connected(self) -> bool:
        return self.api.is_connected()

    def __enter__(self) -> RealtimeTranscriber:
        if not self.is_connected():
            self.connect()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()

    # -- audio in ----------------------------------------------------------------

    def append_audio(self, samples: Any, rate: int = SAMPLE_RATE) -> None:
        """Send audio: int16 or float (``[-1, 1]``) mono samples at ``rate`` Hz.

        Audio at another rate goes through one streaming resampler to 24 kHz,
        so a stream of chunks is resampled without seams (it holds back a few
        milliseconds until the next chunk or :meth:`commit`). Safe from any
        thread (a microphone's worker thread, say): appends are sent in the
        order they are counted.

        Raises:
            NotConnectedError: not connected.
        """
        data = _audio.to_pcm16(samples)
        with self._append_lock:
            if rate != SAMPLE_RATE:
                if self._resampler is None or self._resampler.from_rate != rate:
                    self._send_samples(self._flush_resampler())
                    self._resampler = _audio.Resampler(rate, SAMPLE_RATE)
                data = self._resampler.process(data)
            elif self._resampler is not None:
                self._send_samples(self._flush_resampler())
            self._send_samples(data)

    def _flush_resampler(self) -> np.ndarray:
        """What the streaming resampler still holds (append lock held)."""
        resampler, self._resampler = self._resampler, None
        return np.zeros(0, dtype=np.int16) if resampler is None else _audio.to_pcm16(resampler.flush())

    def _send_samples(self, data: np.ndarray) -> None:
        """Count, keep (``keep_audio``) and send 24 kHz samples (append lock held)."""
        if not len(data):
            return
        with self._lock:
            if self.keep_audio:
                self._audio.append(data)
                self._forget_audio()
            self._sent += len(data)
        self.api.send("input_audio_buffer.append", {"audio": _audio.pcm16_to_base64(data)})

    def commit(self) -> None:
        """End the current utterance now (the way to end each one with ``turn_detection=None``).

        The server wants 100 ms of audio or more; it answers an ``error`` otherwise.
        """
        event_id = generate_id("evt_")
        with self._append_lock:
            self._send_samples(self._flush_resampler())
            with self._lock:
                self._manual_spans[event_id] = (self._committed_upto, self._sent)
                self._committed_upto = self._sent
            self.api.send("input_audio_buffer.commit", {"event_id": event_id})

    def clear(self) -> None:
        """Drop the audio sent since the last utterance ended."""
        with self._lock:
            self._committed_upto = self._sent
        self.api.send("input_audio_buffer.clear")

    def listen(self, device: Any = None, **microphone_options: Any) -> "Microphone":
        """Start a :class:`~realtime_sync.devices.Microphone` that feeds this session; returns it.

        :meth:`disconnect` stops it. Needs the ``audio`` extra (pyaudio).
        """
        from .devices import Microphone

        if self._microphone is not None:
            raise ConfigurationError("already listening: disconnect() first")
        microphone = Microphone(device, callback=self.append_audio, **microphone_options)
        microphone.start()
        self._microphone = microphone
        return microphone

    def transcribe_file(
        self, path: Any, *, timeout: Optional[float] = 120.0, realtime: bool = False
    ) -> List[Utterance]:
        """Send a WAV file and return its utterances, in speech order, once all are done.

        The file is resampled to 24 kHz; with turn detection, silence is
        appended so its last turn ends, and a turn still open is committed.
        ``realtime``: send the audio at its own pace (as a microphone would).
        Callbacks see its utterances as usual; :meth:`utterances` does not
        yield them again.

        Raises:
            RealtimeTimeoutError: not every utterance finished within ``timeout`` seconds.
            ConnectionClosedError: the connection ended.
            AudioFormatError: not a WAV file it can read.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        samples, rate = _audio.read_wav(path)
        if rate != SAMPLE_RATE:
            samples = _audio.resample(samples, rate, SAMPLE_RATE)
        mine: List[Utterance] = []
        delivered: Set[str] = set()
        with self._lock:
            self._collectors.append((mine, delivered))
        try:
            step = SAMPLE_RATE * _FILE_CHUNK_MS // 1000
            for first in range(0, len(samples), step):
                self.append_audio(samples[first : first + step])
                if realtime:
                    time.sleep(_FILE_CHUNK_MS / 1000.0)
            detection = self.config["audio"]["input"].get("turn_detection")
            if detection is None:
                if self._sent - self._committed_upto >= SAMPLE_RATE // 10:
                    self.commit()
            else:
                silence = int(detection.get("silence_duration_ms") or 500) + 500
                self.append_audio(np.zeros(ms_to_sample(silence), dtype=np.int16))
            self._barrier(deadline)
            with self._lock:
                speaking = any(u.end_ms is None and u.start_ms is not None for u in mine)
            if speaking:
                self.commit()
                self._barrier(deadline)
            while True:
                with self._lock:
                    if all(u.item_id in delivered for u in mine):
                        for utterance in mine:
                            if utterance in self._finished:
                                self._finished.remove(utterance)
                        return sorted(mine, key=lambda u: (u.start_ms is None, u.start_ms or 0))
                    waiter = self._next_waiter()
                self._wait(waiter, deadline, "the transcription of the file")
        finally:
            with self._lock:
                self._collectors = [c for c in self._collectors if c[0] is not mine]

    # -- results out ----------------------------------------------------------------

    def utterances(self, timeout: Optional[float] = None) -> Iterator[Utterance]:
        """Yield each finished utterance (completed or failed) as it finishes.

        ``timeout``: seconds to wait for the next one; when they run out the
        iteration ends (None: wait for ever). The connection ending raises
        ConnectionClosedError (after the utterances that finished before it).
        """
        while True:
            utterance = self.wait_for_utterance(timeout)
            if utterance is None:
                return
            yield utterance

    def wait_for_utterance(self, timeout: Optional[float] = None) -> Optional[Utterance]:
        """The next finished utterance, or None when ``timeout`` seconds pass first.

        Raises:
            ConnectionClosedError: the connection ended (and nothing finished before it is left).
            NotConnectedError: never connected.
            RuntimeError: called from a callback (the receive thread), where it would wait for ever.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                if self._finished:
                    return self._finished.popleft()
                waiter = self._next_waiter()
            try:
                self._wait(waiter, deadline, "an utterance")
            except RealtimeTimeoutError:
                return None

    # -- internals (caller's thread) -------------------------------------------------

    def _next_waiter(self) -> Waiter:
        """A waiter woken by the next change (lock held)."""
        if self._closed is not None:
            raise self._closed
        if not self.api.is_connected():
            raise NotConnectedError("the transcriber is not connected: call connect() first")
        if self._next is None or self._next.done():
            self._next = Waiter()
        return self._next

    def _wait(self, waiter: Waiter, deadline: Optional[float], what: str) -> None:
        if self.api.is_receive_thread():
            raise RuntimeError("cannot wait for the transcription from a callback: it runs on the receive thread")
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not waiter.wait(left):
            raise RealtimeTimeoutError(f"timed out waiting for {what}")
        if waiter.error is not None:
            raise waiter.error

    def _request(self, event_type: str, data: Dict[str, Any], deadline: Optional[float], answer: str) -> Dict[str, Any]:
        """Send one event and wait for its answer (or the ``error`` naming it)."""
        event_id = generate_id("evt_")
        waiter = Waiter()
        with self._lock:
            if self._closed is not None:
                raise self._closed
            self._pending_event[event_id] = waiter
            self._pending_event[answer] = waiter
        try:
            self.api.send(event_type, {**data, "event_id": event_id})
            self._wait(waiter, deadline, answer)
        finally:
            with self._lock:
                self._pending_event.pop(event_id, None)
                if self._pending_event.get(answer) is waiter:
                    del self._pending_event[answer]
        payload: Dict[str, Any] = waiter.payload
        return payload

    def _barrier(self, deadline: Optional[float]) -> None:
        """Wait until the server has handled everything sent so far (a no-op ``session.update``)."""
        self._request("session.update", {"session": {"type": "transcription"}}, deadline, "session.updated")

    # -- server events (receive thread) ----------------------------------------------

    def _on_event(self, event: Dict[str, Any]) -> None:
        event_type = event.get("type")
        if event_type in ("session.created", "session.updated"):
            self.session = event.get("session")
            with self._lock:
                waiter = self._pending_event.get(str(event_type))
            if waiter is not None:
                waiter.resolve(event)
        elif event_type == "error":
            self._on_error(event)
        elif isinstance(event.get("item_id"), str):
            self._on_item_event(str(event_type), event)

    def _on_error(self, event: Dict[str, Any]) -> None:
        error = ServerError(event.get("error") or {})
        with self._lock:
            waiter = self._pending_event.get(error.event_id or "")
            self._manual_spans.pop(error.event_id or "", None)  # a refused commit makes no utterance
        if waiter is not None:
            param = error.error.get("param")
            waiter.fail(
                ServerError({**error.error, "message": f"the transcription session was refused: {error.error.get('message')}"
                             + (f" (setting {param})" if param else "")})
            )
        else:
            logger.warning("transcription session error: %s", error)
        self.dispatch("error", {"error": error, "event": event})

    def _utterance(self, item_id: str) -> Utterance:
        """The open utterance ``item_id`` (made on first sight; lock held)."""
        utterance = self._open.get(item_id)
        if utterance is None:
            utterance = self._open[item_id] = Utterance(item_id)
            for collected, _delivered in self._collectors:
                collected.append(utterance)
        return utterance

    def _on_item_event(self, event_type: str, event: Dict[str, Any]) -> None:
        item_id = str(event["item_id"])
        started = finished = False
        payload: Dict[str, Any] = {}
        with self._lock:
            fresh = item_id not in self._open
            utterance = self._utterance(item_id)
            if event_type == "input_audio_buffer.speech_started":
                utterance.start_ms = event.get("audio_start_ms")
                started = True
            elif event_type == "input_audio_buffer.speech_stopped":
                utterance.end_ms = event.get("audio_end_ms")
                self._keep_audio(utterance)
            elif event_type == "input_audio_buffer.committed":
                utterance.previous_item_id = event.get("previous_item_id")
                if utterance.end_ms is None and self._manual_spans:
                    first, last = self._manual_spans.pop(next(iter(self._manual_spans)))
                    if utterance.start_ms is None:  # with VAD, speech_started said where it began
                        utterance.start_ms = first * 1000 // SAMPLE_RATE
                    utterance.end_ms = last * 1000 // SAMPLE_RATE
                    self._keep_audio(utterance)
                started = fresh
            elif event_type == "conversation.item.input_audio_transcription.delta":
                delta = str(event.get("delta") or "")
                utterance.text += delta
                if self.include_logprobs:
                    utterance.logprobs = (utterance.logprobs or []) + list(event.get("logprobs") or [])
                payload = {"utterance": utterance, "delta": delta, "logprobs": event.get("logprobs")}
            elif event_type == "conversation.item.input_audio_transcription.completed":
                utterance.text = str(event.get("transcript") or "")
                utterance.usage = event.get("usage")
                if self.include_logprobs and event.get("logprobs") is not None:
                    utterance.logprobs = list(event["logprobs"])
                utterance.status = "completed"
                finished = True
            elif event_type == "conversation.item.input_audio_transcription.failed":
                utterance.error = event.get("error") or {}
                utterance.status = "failed"
                finished = True
            elif fresh:
                del self._open[item_id]  # an event about another item: not a turn
                for collected, _delivered in self._collectors:
                    collected.remove(utterance)
                return
            if finished:
                del self._open[item_id]
            waiter = self._next if started else None
        if started:
            self.dispatch("utterance.started", {"utterance": utterance})
        if payload:
            self.dispatch("utterance.delta", payload)
        if finished and utterance.failed:
            self.dispatch("utterance.failed", {"utterance": utterance, "error": utterance.error})
        elif finished:
            self.dispatch("utterance.completed", {"utterance": utterance})
        if finished:  # after the callbacks: the iterator never overtakes them
            with self._lock:
                self._finished.append(utterance)
                self._forget_audio()
                for _collected, delivered in self._collectors:
                    delivered.add(item_id)
                waiter = self._next
        if waiter is not None:
            waiter.resolve(None)

    def _keep_audio(self, utterance: Utterance) -> None:
        if self.keep_audio and utterance.start_ms is not None and utterance.end_ms is not None:
            utterance.audio = self._audio.cut(ms_to_sample(utterance.start_ms), ms_to_sample(utterance.end_ms))

    def _forget_audio(self) -> None:
        """Drop audio no utterance can still claim (lock held)."""
        starts = [ms_to_sample(u.start_ms) for u in self._open.values() if u.start_ms is not None]
        self._audio.forget_before(min(starts + [self._audio.end - ms_to_sample(_KEEP_UNCLAIMED_MS)]))

    def _on_close(self, event: Dict[str, Any]) -> None:
        reason = event.get("reason")
        error = ConnectionClosedError(
            f"the transcription session ended (code {event.get('code')}{', ' + str(reason) if reason else ''})",
            code=event.get("code"),
            reason=reason,
        )
        with self._lock:
            self._closed = error
            waiters = list(self._pending_event.values()) + ([self._next] if self._next is not None else [])
        for waiter in waiters:
            waiter.fail(error)
        self.dispatch("close", event)

