"""An utterance of a transcription session, and the audio log that cuts out its samples (private).

The public face is :mod:`realtime_sync.transcriber`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Deque, Dict, List, Optional

import numpy as np

__all__ = ["SAMPLE_RATE", "Utterance", "AudioLog", "ms_to_sample"]

#: The rate of the audio a transcriber sends (``audio/pcm`` at 24 kHz); other rates are resampled.
SAMPLE_RATE = 24000


@dataclass(eq=False)
class Utterance:
    """One turn of speech and its transcription (compared by identity).

    Attributes:
        item_id: the server's id of the user item holding the audio.
        text: the transcript: the deltas so far, then the final text.
        status: ``"in_progress"``, ``"completed"`` or ``"failed"``.
        previous_item_id: the item before it (transcriptions may finish out of order).
        start_ms, end_ms: the audio span, in milliseconds from the first audio
            sent (``speech_started`` / ``speech_stopped`` with turn detection,
            the appended audio between commits without); None until known.
        logprobs: ``[{"token", "logprob", "bytes"}, ...]`` when the
            transcriber was made with ``include_logprobs=True``, else None.
        usage: the server's usage report of the transcription.
        error: the server's error object when the transcription failed.
        audio: the utterance's int16 samples at 24 kHz when ``keep_audio=True``.
    """

    item_id: str
    text: str = ""
    status: str = "in_progress"
    previous_item_id: Optional[str] = None
    start_ms: Optional[int] = None
    end_ms: Optional[int] = None
    logprobs: Optional[List[Dict[str, Any]]] = None
    usage: Optional[Dict[str, Any]] = None
    error: Optional[Dict[str, Any]] = None
    audio: Optional[np.ndarray] = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        """Whether the transcription has completed or failed."""
        return self.status != "in_progress"

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    @property
    def duration_ms(self) -> Optional[int]:
        """``end_ms - start_ms`` once both are known."""
        return None if self.start_ms is None or self.end_ms is None else self.end_ms - self.start_ms


class AudioLog:
    """The audio sent, kept to cut out each utterance's samples (24 kHz int16). Receive thread and caller."""

    def __init__(self) -> None:
        self.chunks: Deque[np.ndarray] = deque()
        self.start = 0  # absolute index of chunks[0][0]
        self.end = 0

    def append(self, samples: np.ndarray) -> None:
        if len(samples):
            self.chunks.append(samples)
            self.end += len(samples)

    def cut(self, first: int, last: int) -> np.ndarray:
        """Samples ``first:last`` (absolute), as far as they are still kept."""
        parts, position = [], self.start
        for chunk in self.chunks:
            lo, hi = max(first - position, 0), min(last - position, len(chunk))
            if lo < hi:
                parts.append(chunk[lo:hi])
            position += len(chunk)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def forget_before(self, position: int) -> None:
        while self.chunks and self.start + len(self.chunks[0]) <= position:
            self.start += len(self.chunks.popleft())


def ms_to_sample(ms: int) -> int:
    return int(ms) * SAMPLE_RATE // 1000
