"""Speech boundaries from server VAD, and the user's audio cut out at them.

In server-VAD mode the server reports where the user's speech started and
stopped (``input_audio_buffer.speech_started`` / ``.speech_stopped``, in
milliseconds of the session's input stream) before it creates the user item.
:class:`SpeechQueue` remembers those boundaries per item id and, when the
caller hands it the input audio it kept, the samples between them; the
conversation gives them to the item once it is created.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional

from . import audio as _audio
from ._conversation_fields import field, milliseconds, park, samples_at

if TYPE_CHECKING:
    import numpy as np
else:
    from ._lazy import numpy as np  # imported when audio is first touched

__all__ = ["SpeechQueue"]

logger = logging.getLogger(__name__)


class SpeechQueue:
    """Speech boundaries and sliced input audio, parked by item id (a bounded queue).

    Not thread-safe on its own: the conversation calls it under its lock.
    """

    __slots__ = ("_queued",)

    def __init__(self) -> None:
        self._queued: Dict[str, Dict[str, Any]] = {}

    def clear(self) -> None:
        """Forget everything parked."""
        self._queued = {}

    def take(self, item_id: str) -> Optional[Dict[str, Any]]:
        """Remove and return what was parked for ``item_id`` (``audio_start_ms``, ``audio_end_ms``, ``audio``)."""
        return self._queued.pop(item_id, None)

    def start_ms(self, item_id: str) -> Optional[float]:
        """The ``audio_start_ms`` seen for ``item_id`` (a finite number), or ``None``."""
        entry = self._queued.get(item_id)
        value = entry.get("audio_start_ms") if entry is not None else None
        return None if value is None else float(value)

    def started(self, event: Mapping[str, Any]) -> None:
        """``input_audio_buffer.speech_started``: remember ``audio_start_ms`` for the item."""
        item_id = field(event, event, "item_id", str)
        start_ms = milliseconds(event, "audio_start_ms")
        self._queued.pop(item_id, None)
        park(self._queued, item_id)["audio_start_ms"] = start_ms

    def stopped(
        self,
        event: Mapping[str, Any],
        input_audio_buffer: Optional[np.ndarray],
        input_audio_offset: int,
        input_audio_format: str,
    ) -> None:
        """``input_audio_buffer.speech_stopped``: remember the end and slice the input audio.

        The start defaults to the end when ``speech_started`` was not seen.
        ``input_audio_buffer[0]`` is sample ``input_audio_offset`` of the
        session's input stream, at the rate of ``input_audio_format``.
        """
        item_id = field(event, event, "item_id", str)
        end_ms = milliseconds(event, "audio_end_ms")
        known = self._queued.get(item_id)
        start_ms = known.get("audio_start_ms", end_ms) if known is not None else end_ms
        sliced: Optional[np.ndarray] = None
        if input_audio_buffer is not None:
            samples = input_audio_buffer
            if not (isinstance(samples, np.ndarray) and samples.dtype == np.int16 and samples.ndim == 1):
                samples = _audio.to_pcm16(samples)
            rate = _audio.sample_rate(input_audio_format)
            offset = int(input_audio_offset)
            start = samples_at(start_ms, rate) - offset
            stop = samples_at(end_ms, rate) - offset
            if start < 0:
                logger.debug("speech for item %s starts %d samples before the kept input audio", item_id, -start)
            size = int(samples.shape[0])
            start = min(max(start, 0), size)
            stop = min(max(stop, start), size)
            sliced = np.array(samples[start:stop], dtype=np.int16, copy=True)
        speech = park(self._queued, item_id)
        speech["audio_start_ms"] = start_ms
        speech["audio_end_ms"] = end_ms
        if sliced is not None:
            speech["audio"] = sliced
