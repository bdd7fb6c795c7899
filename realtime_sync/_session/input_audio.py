"""The client's record of the input audio it sent.

With turn detection off (manual turns), appended audio is kept until the
client commits it, and then handed to the conversation for the user item it
becomes. In server-VAD mode only a window of the most recent audio is kept
(``window_seconds``), with the index of its first sample in the session's
whole input stream, so ``input_audio_buffer.speech_stopped`` can cut the
user's speech out of it while memory stays flat over a long session.
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Deque, List, Optional, Tuple

if TYPE_CHECKING:
    import numpy as np
else:
    from .._lazy import numpy as np  # imported when audio is first touched

__all__ = ["InputAudio"]

class InputAudio:
    """Pending manual-turn audio and the server-VAD window. Thread-safe.

    Args:
        window_seconds: seconds of audio kept in server-VAD mode.

    :attr:`order` is held by a sender around "record, then send the frame",
    so the record follows wire order when several threads append.
    """

    def __init__(self, window_seconds: float) -> None:
        self.window_seconds = float(window_seconds)
        #: Held around recording an append and sending its frame.
        self.order = threading.Lock()
        self._lock = threading.Lock()
        self._pending: List[np.ndarray] = []
        self._window: Deque[np.ndarray] = collections.deque()
        self._window_samples = 0
        self._total = 0  # every sample appended this session

    @property
    def window_samples(self) -> int:
        """How many samples the server-VAD window holds now."""
        return self._window_samples

    def record(self, pcm: np.ndarray, *, manual: bool, rate: int) -> None:
        """Note ``pcm`` as sent: pending (manual turns) or in the window (server VAD)."""
        count = int(pcm.shape[0])
        with self._lock:
            self._total += count
            if manual:
                self._pending.append(pcm)
                return
            self._window.append(pcm)
            self._window_samples += count
            limit = int(self.window_seconds * rate)
            while self._window and self._window_samples - self._window[0].shape[0] >= limit:
                self._window_samples -= self._window.popleft().shape[0]

    def take_pending(self) -> Optional[np.ndarray]:
        """Remove and return the pending manual-turn audio (one array), or ``None``."""
        with self._lock:
            chunks = self._pending
            self._pending = []
        if not chunks:
            return None
        return chunks[0] if len(chunks) == 1 else np.concatenate(chunks)

    def clear_pending(self) -> None:
        with self._lock:
            self._pending = []

    def mode_changed(self) -> None:
        """Turn detection switched: the other mode's audio no longer applies."""
        with self._lock:
            self._pending = []
            self._window.clear()
            self._window_samples = 0

    def restart(self) -> None:
        """Forget everything (a new connection, or a new input rate: offsets start over)."""
        with self._lock:
            self._pending = []
            self._window.clear()
            self._window_samples = 0
            self._total = 0

    def window_from(self, start_ms: Optional[float], rate: int) -> Tuple[np.ndarray, int]:
        """The kept audio from the chunk holding ``start_ms`` on (all of it for ``None``), and its offset in the stream."""
        with self._lock:
            offset = self._total - self._window_samples
            chunks = list(self._window)
        if start_ms is not None and chunks:
            start = int(start_ms * rate // 1000)
            while len(chunks) > 1 and offset + chunks[0].shape[0] <= start:
                offset += chunks[0].shape[0]
                chunks.pop(0)
        if not chunks:
            return np.zeros(0, dtype=np.int16), offset
        return (chunks[0] if len(chunks) == 1 else np.concatenate(chunks)), offset
