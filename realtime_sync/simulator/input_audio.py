"""The input audio of one simulated session: buffer, server VAD, commits and transcription.

:class:`InputAudio` is held by the session (:mod:`.session`) and runs on the
simulator's loop thread (:mod:`.runtime`; with a custom transcriber, on its
pool) with the session lock held. It keeps the input
audio buffer, runs the energy VAD (:mod:`.vad`) in ``server_vad`` mode, turns
committed audio into user items and sends their (simulated) transcription.
"""

from __future__ import annotations

import binascii
import copy
import logging
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional

import numpy as np

from .. import audio as _audio
from .checks import ClientError, missing
from .config import new_id
from .responder import describe_audio
from .state import SendEvent, SessionState, SimOptions
from .transcription import transcription_events
from .vad import EnergyVAD

__all__ = ["InputAudio", "InputBuffer"]

logger = logging.getLogger(__name__)

_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_MIN_COMMIT_MS = 100.0
# semantic_vad: how long a pause ends a turn, by eagerness (the simulator has no semantics)
_EAGERNESS_SILENCE_MS = {"low": 1000, "medium": 600, "high": 250, "auto": 600}


def _is_base64(data: Any) -> bool:
    """``data`` is canonical base64 text: a multiple of 4 characters of the alphabet, then at most two ``=``.

    (A lenient decoder would skip other characters.) One pass in C, where a
    regular expression takes a few times longer on each 100 ms of audio.
    """
    if not isinstance(data, str) or len(data) % 4 or not data.isascii():
        return False
    body = data[:-2] if data.endswith("==") else data[:-1] if data.endswith("=") else data
    return not body.encode("ascii").translate(None, _BASE64_ALPHABET)


class InputBuffer:
    """The input audio buffer: int16 chunks with absolute sample positions.

    Appends cost O(1) and keep the decoded chunks as they are; dropping old
    samples forgets whole chunks and slices the first (a view, or a small
    copy); ``take`` concatenates once.
    """

    def __init__(self) -> None:
        self.chunks: Deque[np.ndarray] = deque()
        self.start = 0  # absolute sample index of the first buffered sample
        self.length = 0

    @property
    def end(self) -> int:
        return self.start + self.length

    def append(self, samples: np.ndarray) -> None:
        if len(samples):
            self.chunks.append(samples)
            self.length += len(samples)

    def _pop(self, count: int) -> List[np.ndarray]:
        """Remove the first ``count`` samples; the pieces they were in, in order."""
        pieces: List[np.ndarray] = []
        chunks = self.chunks
        while count > 0:
            first = chunks[0]
            if len(first) <= count:
                pieces.append(chunks.popleft())
                count -= len(first)
            else:
                pieces.append(first[:count])
                rest = first[count:]
                chunks[0] = rest.copy() if 2 * len(rest) < len(first) else rest  # a small tail holds no large chunk
                count = 0
        taken = sum(len(piece) for piece in pieces)
        self.start += taken
        self.length -= taken
        return pieces

    def drop_before(self, position: int) -> None:
        """Forget samples before absolute index ``position``."""
        cut = min(max(0, position - self.start), self.length)
        if cut > 0:
            self._pop(cut)

    def take(self, upto: Optional[int] = None) -> np.ndarray:
        """Remove and return samples up to absolute index ``upto`` (all if None), as a new array."""
        upto = self.end if upto is None else min(max(upto, self.start), self.end)
        pieces = self._pop(upto - self.start)
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)

    def clear(self) -> None:
        self.start = self.end
        self.chunks = deque()
        self.length = 0


class InputAudio:
    """The input side of a session.

    Args:
        state: the session's shared state.
        options: the simulator's options (transcriber, transcript order).
        send: writes one server event.
        respond: starts the response a finished VAD turn asks for (``create_response``).
    """

    def __init__(self, state: SessionState, options: SimOptions, send: SendEvent, respond: Callable[[], None]) -> None:
        self.state = state
        self.options = options
        self._send = send
        self._respond = respond
        self._buffer = InputBuffer()
        self._ms_base = 0.0  # ms of input audio before the current format segment
        self._vad: Optional[EnergyVAD] = None
        self._vad_item_id: Optional[str] = None
        self._scripted = 0
        self.configure_vad()

    def restart(self, old_format: str) -> None:
        """A new input format restarts the buffer; session time keeps counting (lock held)."""
        old_rate = _audio.sample_rate(old_format)
        self._ms_base += self._buffer.end * 1000.0 / old_rate
        self._buffer = InputBuffer()
        self._vad = None

    def configure_vad(self) -> None:
        """Follow the session's ``turn_detection`` (after an update; lock held)."""
        detection = self.state.session.get("turn_detection")
        if not detection:
            self._vad = None
            self._vad_item_id = None
            return
        rate = _audio.sample_rate(self.state.session["input_audio_format"])
        threshold = float(detection.get("threshold", 0.5))
        padding = int(detection.get("prefix_padding_ms", 300))
        silence = int(detection.get("silence_duration_ms", 500))
        if detection.get("type") == "semantic_vad":
            silence = _EAGERNESS_SILENCE_MS.get(str(detection.get("eagerness", "auto")), 600)
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
        rate = _audio.sample_rate(self.state.session["input_audio_format"])
        return int(self._ms_base + sample * 1000 // rate)

    def append(self, event: Dict[str, Any]) -> None:
        """``input_audio_buffer.append`` (lock held)."""
        data = event.get("audio")
        if data is None:
            raise missing("audio")
        samples = self.decode(data, "audio")
        self._buffer.append(samples)
        if self._vad is not None:
            self._run_vad(samples)

    def decode(self, data: Any, param: str) -> np.ndarray:
        """Strictly decode base64 input audio in the session's input format.

        Raises:
            ClientError: ``invalid_value`` naming ``param`` for anything that is
                not canonical base64 (a lenient decoder would drop bad characters).
        """
        audio_format = self.state.session["input_audio_format"]
        if _is_base64(data):
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
        detection = self.state.session.get("turn_detection") or {}
        for vad_event in self._vad.feed(samples):
            if vad_event.kind == "started":
                self._vad_item_id = new_id("item")
                self._buffer.drop_before(vad_event.sample)
                active = self.state.active
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
                    self._respond()
        if not self._vad.speaking:
            # while nobody speaks, keep only the audio a future prefix padding may need
            pad = self._vad.prefix_padding_ms * self._vad.rate // 1000
            self._buffer.drop_before(self._buffer.end - pad - self._vad.frame_len)

    def commit(self) -> None:
        """``input_audio_buffer.commit`` (lock held)."""
        rate = _audio.sample_rate(self.state.session["input_audio_format"])
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
        rate = _audio.sample_rate(self.state.session["input_audio_format"])
        transcript = self._transcribe_unlocked(samples, rate)
        self.state.heard[item_id] = transcript or ""
        previous = self.state.last_item_id()
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
        self.state.items.append(item)
        transcribing = bool(self.state.session.get("input_audio_transcription"))
        if transcribing and self.options.transcript_before_item:
            self._send_transcription(item_id, part, transcript, len(samples) / float(rate))
        self._send({"type": "conversation.item.created", "previous_item_id": previous, "item": copy.deepcopy(item)})
        self._send({"type": "conversation.item.done", "previous_item_id": previous, "item": copy.deepcopy(item)})
        if transcribing and not self.options.transcript_before_item:
            self._send_transcription(item_id, part, transcript, len(samples) / float(rate))

    def _send_transcription(self, item_id: str, part: Dict[str, Any], transcript: Optional[str], seconds: float) -> None:
        if transcript is not None:
            part["transcript"] = transcript
        for event in transcription_events(self.state.session, item_id, transcript, seconds):
            self._send(event)

    def _transcribe_unlocked(self, samples: np.ndarray, rate: int) -> Optional[str]:
        """:meth:`transcribe`, letting the session lock go while a custom transcriber runs (lock held).

        It is user code and may be slow: it runs on the runtime's pool (see
        :class:`~.session.SimSession`), and the loop, streaming this session's
        response meanwhile, must not wait for the lock. Nothing read before
        it is the conversation's (the audio is taken, the item not yet made);
        a client event of this session waits for it (they are handled one at
        a time). Held more than once, the lock stays held.
        """
        if not callable(self.options.transcriber):
            return self.transcribe(samples, rate)
        lock = self.state.lock
        lock.release()
        try:
            return self.transcribe(samples, rate)
        finally:
            lock.acquire()

    def transcribe(self, samples: np.ndarray, rate: int) -> Optional[str]:
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

    def clear(self) -> None:
        """``input_audio_buffer.clear`` (lock held)."""
        end = self._buffer.end
        self._buffer.clear()
        self._vad_item_id = None
        if self._vad is not None:
            self._vad.reset(floor_sample=end)
        self._send({"type": "input_audio_buffer.cleared"})
