"""RealtimeClient's input audio (a mixin of :class:`realtime_sync.client.RealtimeClient`).

With turn detection off, appended audio is kept until ``create_response()``
commits it, and then handed to the conversation for the user item it becomes.
In server-VAD mode only a window of the most recent audio is kept
(``input_audio_window`` seconds), with the index of its first sample in the
session's whole input stream, so ``input_audio_buffer.speech_stopped`` can cut
the user's speech out of it while memory stays flat over a long session.
"""

from __future__ import annotations

from typing import Any, Deque, Dict, List, Optional, Tuple

import numpy as np

from . import audio as _audio
from ._client_support import Event, _ClientBase

__all__: List[str] = []


class _InputAudioMixin(_ClientBase):
    """``append_input_audio``, ``clear_input_audio`` and the speech events."""

    input_audio_window: float
    _pending_audio: List[np.ndarray]
    _window: Deque[np.ndarray]
    _window_samples: int
    _input_samples: int
    _speech_starts: Dict[str, float]

    def append_input_audio(self, samples: Any) -> bool:
        """Send input audio (``input_audio_buffer.append``).

        Args:
            samples: int16 numpy array, float array in [-1, 1], or pcm16
                little-endian bytes, mono at the input format's rate (24 kHz
                for pcm16, 8 kHz for G.711); encoded for the input format.
                Empty input sends nothing.

        With turn detection off the audio is also kept until
        :meth:`create_response` commits it; in server-VAD mode only the last
        ``input_audio_window`` seconds are kept, for cutting out speech.

        Raises:
            TypeError, ValueError: audio that cannot be converted.
            NotConnectedError: not connected.
        """
        pcm = _audio.to_pcm16(samples)  # always a new array: later changes by the caller are harmless
        count = int(pcm.shape[0])
        if count == 0:
            return True
        input_format = self.conversation.input_audio_format
        payload = {"audio": _audio.encode_audio(pcm, input_format)}
        manual = self.get_turn_detection_type() is None
        # Book-keep before sending (a speech event may follow the frame at once), and
        # keep the bookkeeping in wire order when several threads append.
        with self._audio_lock:
            self._require_connected()
            with self._lock:
                self._input_samples += count
                if manual:
                    self._pending_audio.append(pcm)
                else:
                    self._window.append(pcm)
                    self._window_samples += count
                    limit = int(self.input_audio_window * _audio.sample_rate(input_format))
                    while self._window and self._window_samples - self._window[0].shape[0] >= limit:
                        self._window_samples -= self._window.popleft().shape[0]
            self._send("input_audio_buffer.append", payload)
        return True

    def clear_input_audio(self) -> bool:
        """Drop uncommitted input audio here and on the server (``input_audio_buffer.clear``)."""
        self._send("input_audio_buffer.clear")
        with self._lock:
            self._pending_audio = []
        return True

    def _commit_pending_audio(self) -> None:
        """Manual turns: commit the audio appended so far and queue it for the user item."""
        if self.get_turn_detection_type() is not None:
            return
        with self._lock:
            chunks = self._pending_audio
            self._pending_audio = []
        if not chunks:
            return
        # Queue first: the user item may be created as soon as the commit lands.
        self.conversation.queue_input_audio(chunks[0] if len(chunks) == 1 else np.concatenate(chunks))
        self._send("input_audio_buffer.commit")

    def _on_speech_started(self, event: Event) -> None:
        start = event.get("audio_start_ms")
        item_id = event.get("item_id")
        if isinstance(item_id, str) and isinstance(start, (int, float)):
            with self._lock:
                self._speech_starts[item_id] = start
                while len(self._speech_starts) > 64:
                    self._speech_starts.pop(next(iter(self._speech_starts)))
        self._process(event)
        self._emit("conversation.interrupted", {})

    def _on_speech_stopped(self, event: Event) -> None:
        item_id = event.get("item_id")
        with self._lock:
            start_ms = self._speech_starts.pop(item_id, None) if isinstance(item_id, str) else None
            buffer, offset = self._window_slice(start_ms)
        item, delta = self._process(event, buffer, input_audio_offset=offset)
        if item is not None:
            self._emit("conversation.updated", {"item": item, "delta": delta})

    def _window_slice(self, start_ms: Optional[float]) -> Tuple[np.ndarray, int]:
        """The kept input audio from the chunk holding ``start_ms`` on, and its offset (lock held)."""
        offset = self._input_samples - self._window_samples
        chunks = list(self._window)
        if start_ms is not None and chunks:
            rate = _audio.sample_rate(self.conversation.input_audio_format)
            start = int(start_ms * rate // 1000)
            while len(chunks) > 1 and offset + chunks[0].shape[0] <= start:
                offset += chunks[0].shape[0]
                chunks.pop(0)
        if not chunks:
            return np.zeros(0, dtype=np.int16), offset
        return (chunks[0] if len(chunks) == 1 else np.concatenate(chunks)), offset
